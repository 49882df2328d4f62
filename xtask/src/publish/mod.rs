//! Publishing `dist/` as a GitHub Release: find the release by tag (drafts
//! included) or create it as a draft, delete leftovers of failed uploads,
//! upload what is missing one file at a time, verify every digest GitHub
//! reports, then publish the draft.
//!
//! Every step reads GitHub's state before changing it, so a run interrupted
//! anywhere converges on a re-run: nothing is uploaded twice, nothing that
//! is not ours is touched. Nothing leaves unverified: every wheel is
//! re-inspected (RECORD, name) and must agree with `SHA256SUMS` before the
//! first request that changes anything.
//!
//! What to do is decided by [`reconcile::reconcile`] (pure) from the two
//! asset lists; this module reads them, executes the actions and checks
//! the result. The HTTP side is [`api::ReleaseApi`]; retries and waits are
//! [`retry`]'s.

pub mod api;
pub mod notes;
pub mod reconcile;
pub mod retry;
pub mod site;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::progress::Progress;
use crate::wheel::inspect::inspect_wheel;
use crate::wheel::sha256_file;
use api::{ApiError, AssetInfo, ReleaseApi, ReleaseInfo};
pub use reconcile::{
    check_capacity, digest_text, reconcile, Action, ReconcileOptions, RemoteAsset,
};
use retry::{retry_loop, with_retry, Clock, Failure, RetryPolicy};

/// GitHub refuses assets of 2 GiB or more.
pub const MAX_ASSET_BYTES: u64 = 2 << 30;
/// GitHub allows at most this many assets per release.
pub const MAX_ASSETS: usize = 1000;

#[derive(Debug, Error)]
pub enum PublishError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{} holds no wheels: run `cargo xtask build-matrix` first", dir.display())]
    NoWheels { dir: PathBuf },
    #[error("{} is missing: run `cargo xtask index` to write it (it lists the digests users verify)", path.display())]
    NoSums { path: PathBuf },
    #[error("refusing to publish {dist}; nothing was uploaded:\n  {}", problems.join("\n  "))]
    Refused { dist: String, problems: Vec<String> },
    #[error("release {tag} already has assets that differ from ours (pass --replace to overwrite them):\n  {}", .mismatches.join("\n  "))]
    Mismatch {
        tag: String,
        mismatches: Vec<String>,
    },
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: Box<ApiError>,
    },
    #[error("uploaded `{sent}` but GitHub named it `{got}`; delete that asset in the release page and report this (names must be percent-encoded)")]
    Renamed { sent: String, got: String },
    #[error("after upload, `{name}` reports {theirs} but we sent sha256:{ours}; re-run to replace the broken asset (it will be reported as differing: pass --replace)")]
    Corrupted {
        name: String,
        ours: String,
        theirs: String,
    },
    #[error("release {tag} is not as expected after publishing:\n  {}", problems.join("\n  "))]
    Verify { tag: String, problems: Vec<String> },
}

/// One file to publish. Ex) `attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-win_amd64.whl`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAsset {
    pub name: String,
    pub path: PathBuf,
    /// Lower-case hex.
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub tag: String,
    /// The release title.
    pub title: String,
    pub dist: PathBuf,
    /// Commit a tag that does not exist yet is created at. Ex) `$GITHUB_SHA`
    pub target: Option<String>,
    pub dry_run: bool,
    pub replace: bool,
    pub retry: RetryPolicy,
    /// Release notes (Markdown) the release is left with.
    pub notes: Option<String>,
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub actions: Vec<Action>,
    /// The release's page, once it exists.
    pub html_url: Option<String>,
}

/// Where the release workflow puts the `attnfarm-farm` binaries, their
/// installers and checksums (`dist build` output), under the dist root.
pub const FARM_DIR: &str = "farm";

/// Every plain file in `dir` (absent: none), as assets beside the wheels;
/// names must be plain and not collide with a wheel-side asset.
fn collect_farm(
    dir: &Path,
    listed: &BTreeMap<String, String>,
    assets: &mut Vec<LocalAsset>,
    problems: &mut Vec<String>,
) -> Result<(), PublishError> {
    if !dir.is_dir() {
        return Ok(());
    }
    let mut files: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if listed.contains_key(&name) || name == "SHA256SUMS" {
            problems.push(format!(
                "{} has the same name as a wheel-side asset",
                path.display()
            ));
            continue;
        }
        let (sha256, size) = sha256_file(&path)?;
        if size >= MAX_ASSET_BYTES {
            problems.push(format!(
                "{name} is {size} bytes; GitHub release assets must be smaller than 2 GiB"
            ));
            continue;
        }
        assets.push(LocalAsset {
            name,
            path,
            sha256,
            size,
        });
    }
    Ok(())
}

/// The assets of `dist/`: every wheel in `wheels/` (re-inspected), every
/// file `SHA256SUMS` lists (the wheels and the `.metadata` files the index
/// references), `SHA256SUMS` itself, and every file in `farm/` (the
/// `attnfarm-farm` release: archives, installers, checksums), sorted by name. Every problem is
/// collected and reported together.
pub fn collect_local(dist: &Path) -> Result<Vec<LocalAsset>, PublishError> {
    let wheels_dir = dist.join("wheels");
    let sums_path = dist.join("SHA256SUMS");
    let wheels = crate::wheel::list_wheels(&wheels_dir)?;
    if wheels.is_empty() {
        return Err(PublishError::NoWheels { dir: wheels_dir });
    }
    if !sums_path.is_file() {
        return Err(PublishError::NoSums { path: sums_path });
    }
    let sums_text = fs_err::read_to_string(&sums_path)?;
    let mut problems = Vec::new();
    let mut listed = BTreeMap::new();
    for (i, line) in sums_text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match line.split_once("  ") {
            Some((hex, file)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                listed.insert(file.to_string(), hex.to_ascii_lowercase());
            }
            _ => problems.push(format!(
                "{}:{}: `{line}` is not `<sha256>  <file>`; run `cargo xtask index` again",
                sums_path.display(),
                i + 1
            )),
        }
    }
    for w in &wheels {
        if let Err(e) = inspect_wheel(&wheels_dir.join(w)) {
            problems.push(format!("{e}; rebuild it with `cargo xtask build-matrix`"));
        }
        if !listed.contains_key(w) {
            problems.push(format!(
                "{w} is in {} but not in SHA256SUMS; run `cargo xtask index` again",
                wheels_dir.display()
            ));
        }
    }
    for referenced in index_metadata_refs(&dist.join("index"))? {
        if !listed.contains_key(&referenced) {
            problems.push(format!(
                "the index references {referenced}, which SHA256SUMS does not list; run `cargo xtask index` again"
            ));
        }
    }
    let mut assets = Vec::new();
    for (name, want) in &listed {
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            problems.push(format!(
                "SHA256SUMS lists `{name}`, which is not a plain file name"
            ));
            continue;
        }
        let path = wheels_dir.join(name);
        if !path.is_file() {
            problems.push(format!(
                "SHA256SUMS lists {name}, which is not in {}; run `cargo xtask index` again",
                wheels_dir.display()
            ));
            continue;
        }
        let size = fs_err::metadata(&path)?.len();
        if size >= MAX_ASSET_BYTES {
            problems.push(format!(
                "{name} is {size} bytes; GitHub release assets must be smaller than 2 GiB"
            ));
            continue;
        }
        let (sha256, size) = sha256_file(&path)?;
        if &sha256 != want {
            problems.push(format!(
                "{name}: sha256 {sha256} on disk, {want} in SHA256SUMS; run `cargo xtask index` again"
            ));
        }
        assets.push(LocalAsset {
            name: name.clone(),
            path,
            sha256,
            size,
        });
    }
    collect_farm(&dist.join(FARM_DIR), &listed, &mut assets, &mut problems)?;
    let (sha256, size) = sha256_file(&sums_path)?;
    assets.push(LocalAsset {
        name: "SHA256SUMS".into(),
        path: sums_path,
        sha256,
        size,
    });
    if !problems.is_empty() {
        problems.sort();
        problems.dedup();
        return Err(PublishError::Refused {
            dist: dist.display().to_string(),
            problems,
        });
    }
    assets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(assets)
}

/// `<file>.metadata` names the index references: the wheels of
/// `<index>/variants.json` that carry a `metadata_sha256` (the project pages
/// then carry `data-core-metadata` for them).
fn index_metadata_refs(index: &Path) -> Result<BTreeSet<String>, PublishError> {
    let mut out = BTreeSet::new();
    let path = index.join("variants.json");
    if !index.is_dir() {
        return Ok(out);
    }
    let bad = |why: String| PublishError::Refused {
        dist: index.display().to_string(),
        problems: vec![format!(
            "{}: {why}; run `cargo xtask index` again",
            path.display()
        )],
    };
    if !path.is_file() {
        return Err(bad("missing (an index from an older farm?)".into()));
    }
    let text = fs_err::read_to_string(&path)?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let variants = json["variants"]
        .as_array()
        .ok_or_else(|| bad("no `variants` list".into()))?;
    for v in variants {
        for w in v["wheels"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            if let (Some(file), Some(_)) = (w["file"].as_str(), w["metadata_sha256"].as_str()) {
                out.insert(format!("{file}.metadata"));
            }
        }
    }
    Ok(out)
}

/// The release for `tag`, drafts included (listing, not get-by-tag).
async fn find_release(
    api: &impl ReleaseApi,
    clock: &impl Clock,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Option<ReleaseInfo>, PublishError> {
    let mut next: Option<String> = None;
    loop {
        let page = with_retry(clock, &opts.retry, progress, "list releases", || {
            api.list_releases(next.as_deref())
        })
        .await?;
        if let Some(r) = page.items.into_iter().find(|r| r.tag_name == opts.tag) {
            return Ok(Some(r));
        }
        match page.next {
            Some(n) => next = Some(n),
            None => return Ok(None),
        }
    }
}

pub(crate) async fn list_assets(
    api: &impl ReleaseApi,
    clock: &impl Clock,
    opts: &Options,
    progress: &dyn Progress,
    release_id: u64,
) -> Result<Vec<AssetInfo>, PublishError> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = with_retry(clock, &opts.retry, progress, "list assets", || {
            api.list_assets(release_id, next.as_deref())
        })
        .await?;
        out.extend(page.items);
        match page.next {
            Some(n) => next = Some(n),
            None => return Ok(out),
        }
    }
}

/// Publishes `opts.dist` to the release `opts.tag`. With `dry_run`, only
/// reads and returns the actions a real run would take.
pub async fn publish(
    api: &impl ReleaseApi,
    clock: &impl Clock,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Report, PublishError> {
    let local = collect_local(&opts.dist)?;
    let release = find_release(api, clock, opts, progress).await?;
    let remote = match &release {
        Some(r) => list_assets(api, clock, opts, progress, r.id).await?,
        None => Vec::new(),
    };
    check_capacity(&local, &remote, &opts.tag, &opts.dist.display().to_string())?;
    let mut actions = reconcile(
        &local,
        &remote,
        &ReconcileOptions {
            tag: &opts.tag,
            release: release.as_ref(),
            replace: opts.replace,
            notes: opts.notes.as_deref(),
        },
    );
    let mismatches: Vec<String> = actions
        .iter()
        .filter(|a| matches!(a, Action::Refuse { .. }))
        .map(Action::to_string)
        .collect();
    if !mismatches.is_empty() {
        return Err(PublishError::Mismatch {
            tag: opts.tag.clone(),
            mismatches,
        });
    }
    let others: Vec<&str> = actions
        .iter()
        .filter_map(|a| match a {
            Action::LeaveAlone { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    if !others.is_empty() {
        progress.note(&format!(
            "release {} also holds assets we do not publish (left alone): {}",
            opts.tag,
            others.join(", ")
        ));
    }
    actions.retain(|a| !matches!(a, Action::LeaveAlone { .. }));
    if opts.dry_run {
        return Ok(Report {
            actions,
            html_url: release.map(|r| r.html_url),
        });
    }

    let mut release = match release {
        Some(r) => r,
        None => create_draft(api, clock, opts, progress).await?,
    };
    let ours = |name: &str| local.iter().find(|a| a.name == name).expect("ours");
    for action in &actions {
        progress.step(&opts.tag, &action.to_string());
        match action {
            Action::CreateDraft { .. }
            | Action::Skip { .. }
            | Action::Publish { .. }
            | Action::SetNotes { .. }
            | Action::LeaveAlone { .. }
            | Action::Refuse { .. } => {}
            Action::DeleteLeftover { id, .. } => {
                delete_asset(api, clock, opts, progress, *id).await?;
            }
            Action::Replace { name, id, .. } => {
                delete_asset(api, clock, opts, progress, *id).await?;
                upload(api, clock, opts, progress, &release, ours(name)).await?;
            }
            Action::Upload { name, .. } => {
                upload(api, clock, opts, progress, &release, ours(name)).await?;
            }
        }
    }
    if release.draft {
        progress.step(&opts.tag, "publish");
        let id = release.id;
        release = with_retry(clock, &opts.retry, progress, "publish release", || {
            api.publish_release(id)
        })
        .await?;
    }
    if let Some(n) = &opts.notes {
        if release.body.as_ref() != Some(n) {
            progress.step(&opts.tag, "set release notes");
            let id = release.id;
            release = with_retry(clock, &opts.retry, progress, "set release notes", || {
                api.set_notes(id, n)
            })
            .await?;
        }
    }
    verify(api, clock, opts, progress, &release, &local).await?;
    progress.done(&opts.tag, true);
    Ok(Report {
        actions,
        html_url: Some(release.html_url),
    })
}

async fn create_draft(
    api: &impl ReleaseApi,
    clock: &impl Clock,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<ReleaseInfo, PublishError> {
    progress.step(&opts.tag, "create draft release");
    let created = with_retry(clock, &opts.retry, progress, "create draft release", || {
        api.create_draft(&opts.tag, &opts.title, opts.target.as_deref())
    })
    .await;
    match created {
        Ok(r) => Ok(r),
        // A retried create may have succeeded the first time: look again.
        Err(PublishError::Api { source, .. }) if source.status() == Some(422) => {
            find_release(api, clock, opts, progress)
                .await?
                .ok_or(PublishError::Api {
                    what: format!("create draft release {}", opts.tag),
                    source,
                })
        }
        Err(e) => Err(e),
    }
}

async fn delete_asset(
    api: &impl ReleaseApi,
    clock: &impl Clock,
    opts: &Options,
    progress: &dyn Progress,
    id: u64,
) -> Result<(), PublishError> {
    let r = with_retry(clock, &opts.retry, progress, "delete asset", || {
        api.delete_asset(id)
    })
    .await;
    match r {
        // Already gone (e.g. a retried delete that had succeeded).
        Err(PublishError::Api { source, .. }) if source.status() == Some(404) => Ok(()),
        r => r,
    }
}

/// Uploads one asset. Before each retry it looks at the release: a
/// complete asset with our digest means the upload went through (the
/// answer was lost); a leftover is deleted first.
async fn upload(
    api: &impl ReleaseApi,
    clock: &impl Clock,
    opts: &Options,
    progress: &dyn Progress,
    release: &ReleaseInfo,
    asset: &LocalAsset,
) -> Result<(), PublishError> {
    let what = format!("upload {}", asset.name);
    let what = what.as_str();
    retry_loop(
        clock,
        &opts.retry,
        progress,
        what,
        move |attempt| async move {
            if attempt > 1
                && after_failed_upload(api, clock, opts, progress, release, asset, what)
                    .await
                    .map_err(Failure::Fatal)?
            {
                return Ok(());
            }
            match api
                .upload_asset(release, &asset.name, &asset.path, asset.size)
                .await
            {
                Ok(got) => check_uploaded(asset, &got).map_err(Failure::Fatal),
                // The name is taken: the next attempt looks at what holds it.
                Err(
                    e @ ApiError::Status {
                        already_exists: true,
                        ..
                    },
                ) => Err(Failure::Conflict(e)),
                Err(e) => Err(Failure::Api(e)),
            }
        },
    )
    .await
}

/// What did the failed attempt leave? Deletes leftovers of `asset`;
/// `true` if it is complete on GitHub with our digest.
async fn after_failed_upload(
    api: &impl ReleaseApi,
    clock: &impl Clock,
    opts: &Options,
    progress: &dyn Progress,
    release: &ReleaseInfo,
    asset: &LocalAsset,
    what: &str,
) -> Result<bool, PublishError> {
    let remote = list_assets(api, clock, opts, progress, release.id).await?;
    for r in remote.iter().filter(|r| r.name == asset.name) {
        if r.is_leftover() {
            progress.note(&format!(
                "{what}: deleting the leftover of the failed attempt (id {}, state {})",
                r.id, r.state
            ));
            delete_asset(api, clock, opts, progress, r.id).await?;
        } else if r.sha256() == Some(asset.sha256.as_str()) {
            progress.note(&format!("{what}: already complete on GitHub"));
            return Ok(true);
        } else {
            return Err(PublishError::Mismatch {
                tag: opts.tag.clone(),
                mismatches: vec![format!(
                    "{}: GitHub has {}, ours is sha256:{} (appeared during this run)",
                    asset.name,
                    digest_text(r),
                    asset.sha256
                )],
            });
        }
    }
    Ok(false)
}

fn check_uploaded(asset: &LocalAsset, got: &AssetInfo) -> Result<(), PublishError> {
    if got.name != asset.name {
        return Err(PublishError::Renamed {
            sent: asset.name.clone(),
            got: got.name.clone(),
        });
    }
    if let Some(theirs) = got.sha256() {
        if theirs != asset.sha256 || got.size != asset.size {
            return Err(PublishError::Corrupted {
                name: asset.name.clone(),
                ours: asset.sha256.clone(),
                theirs: format!("{} ({} bytes)", digest_text(got), got.size),
            });
        }
    }
    Ok(())
}

/// Every asset of ours present exactly once, complete, with our digest.
async fn verify(
    api: &impl ReleaseApi,
    clock: &impl Clock,
    opts: &Options,
    progress: &dyn Progress,
    release: &ReleaseInfo,
    local: &[LocalAsset],
) -> Result<(), PublishError> {
    let remote = list_assets(api, clock, opts, progress, release.id).await?;
    let mut problems = Vec::new();
    if release.draft {
        problems.push("the release is still a draft".to_string());
    }
    for a in local {
        let found: Vec<&AssetInfo> = remote.iter().filter(|r| r.name == a.name).collect();
        match found.as_slice() {
            [] => problems.push(format!("{} is missing", a.name)),
            [r] if r.is_leftover() => problems.push(format!(
                "{} is incomplete (state {}, {} bytes)",
                a.name, r.state, r.size
            )),
            [r] if r.sha256() == Some(a.sha256.as_str()) => {}
            [r] => problems.push(format!(
                "{}: GitHub has {}, ours is sha256:{}",
                a.name,
                digest_text(r),
                a.sha256
            )),
            more => problems.push(format!("{} is present {} times", a.name, more.len())),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PublishError::Verify {
            tag: opts.tag.clone(),
            problems,
        })
    }
}
