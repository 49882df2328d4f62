//! The wheels of every published release, read from GitHub's asset lists
//! (paged, with the `digest` GitHub computed on upload), plus this run's
//! wheels: what the cumulative site (`index::site`) is built from.

use std::path::Path;

use super::api::{AssetInfo, ReleaseApi};
use super::retry::{with_retry, Clock};
use super::{list_assets, LocalAsset, Options, PublishError};
use crate::index::render::FileLink;
use crate::index::site::SiteWheel;
use crate::index::urls::asset_url;
use crate::progress::Progress;

/// Every wheel of every published, non-pre-release release of
/// `owner/repo`, newest release first, then this run's `local` wheels
/// (release `opts.tag`) that GitHub does not list yet (a dry run, or a
/// listing that lags). Assets without a digest (uploaded before GitHub
/// computed them) or left over from a failed upload are skipped, with a note.
pub async fn site_wheels(
    api: &impl ReleaseApi,
    clock: &impl Clock,
    opts: &Options,
    progress: &dyn Progress,
    (owner, repo): (&str, &str),
    local: &[LocalAsset],
) -> Result<Vec<SiteWheel>, PublishError> {
    let mut releases = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = with_retry(clock, &opts.retry, progress, "list releases", || {
            api.list_releases(next.as_deref())
        })
        .await?;
        releases.extend(page.items);
        match page.next {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    // Newest first by id (GitHub lists newest first; do not rely on it).
    releases.sort_by_key(|r| std::cmp::Reverse(r.id));
    let mut out = Vec::new();
    for r in releases
        .iter()
        .filter(|r| !r.draft && (!r.prerelease || r.tag_name == opts.tag))
    {
        let assets = list_assets(api, clock, opts, progress, r.id).await?;
        let digest_of = |name: &str| -> Option<String> {
            assets
                .iter()
                .find(|a| a.name == name && !a.is_leftover())
                .and_then(|a| a.sha256().map(String::from))
        };
        for a in assets.iter().filter(|a| a.name.ends_with(".whl")) {
            if a.is_leftover() {
                continue;
            }
            let Some(sha) = a.sha256() else {
                progress.note(&format!(
                    "{} {}: GitHub reports no digest; left out of the index",
                    r.tag_name, a.name
                ));
                continue;
            };
            out.push(site_wheel(
                owner,
                repo,
                &r.tag_name,
                a,
                sha,
                digest_of(&format!("{}.metadata", a.name)),
            ));
        }
    }
    for l in local.iter().filter(|l| l.name.ends_with(".whl")) {
        if out
            .iter()
            .any(|w| w.tag == opts.tag && w.link.file == l.name)
        {
            continue;
        }
        let meta = local
            .iter()
            .find(|m| m.name == format!("{}.metadata", l.name))
            .map(|m| m.sha256.clone());
        out.push(SiteWheel {
            tag: opts.tag.clone(),
            link: FileLink {
                file: l.name.clone(),
                url: asset_url(owner, repo, &opts.tag, &l.name),
                sha256: l.sha256.clone(),
                requires_python: None,
                metadata_sha256: meta,
            },
        });
    }
    Ok(out)
}

fn site_wheel(
    owner: &str,
    repo: &str,
    tag: &str,
    a: &AssetInfo,
    sha: &str,
    metadata_sha256: Option<String>,
) -> SiteWheel {
    SiteWheel {
        tag: tag.to_string(),
        link: FileLink {
            file: a.name.clone(),
            url: asset_url(owner, repo, tag, &a.name),
            sha256: sha.to_string(),
            requires_python: None,
            metadata_sha256,
        },
    }
}

/// The install helper as served from `pages`: its placeholder replaced.
pub fn helper_text(helper: &Path, pages: &str) -> Result<Option<String>, PublishError> {
    if !helper.is_file() {
        return Ok(None);
    }
    Ok(Some(
        fs_err::read_to_string(helper)?.replace(crate::index::HELPER_BASE_PLACEHOLDER, pages),
    ))
}
