//! `cargo xtask publish`: `dist/` → a GitHub Release (see `publish`).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

use super::MatrixArgs;
use crate::index::site as index_site;
use crate::index::write_tree;
use crate::plan::Plan;
use crate::progress::Stderr;
use crate::publish::api::{Endpoints, GithubApi, Token};
use crate::publish::retry::{RealClock, RetryPolicy};
use crate::publish::site::{helper_text, site_wheels};
use crate::publish::{collect_local, publish, Options};

/// Upload the wheels, their `.metadata` files and `SHA256SUMS` in `dist/` to
/// the release (created as a draft, published at the end). Safe to re-run.
/// The token comes from `GITHUB_TOKEN`.
#[derive(Debug, clap::Args)]
pub struct PublishCmd {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Repository to publish to. Default: `release.github` of the matrix. Ex) `attnfarm/attnfarm`
    #[arg(long)]
    pub repo: Option<String>,
    /// Release tag. Default: the matrix's tag pattern with its package version. Ex) `v2026.1.0`
    #[arg(long)]
    pub tag: Option<String>,
    /// The output root holding `wheels/` and `SHA256SUMS`.
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// Print the actions a run would take; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace assets whose digest differs from ours instead of failing.
    #[arg(long)]
    pub replace: bool,
    /// Commit to create the tag at if it does not exist. Default: `$GITHUB_SHA`.
    #[arg(long)]
    pub target: Option<String>,
    /// REST API base URL. Default: `$GITHUB_API_URL`, else GitHub's.
    #[arg(long)]
    pub api_url: Option<String>,
    /// Replaces scheme and host of the release's upload URL. Default:
    /// `$ATTNFARM_UPLOAD_URL`, else the `upload_url` GitHub returns.
    #[arg(long)]
    pub upload_url: Option<String>,
    /// Release notes (Markdown) to leave on the release. Ex) `dist/release-notes.md`
    #[arg(long)]
    pub notes: Option<PathBuf>,
    /// Also write the cumulative site here: the indexes, landing page and
    /// `variants.json` of every published release plus this one (read from
    /// GitHub's asset lists). With --dry-run it is written too. Ex) `dist/site`
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// The install helper copied into the site.
    #[arg(long, default_value = "install/install.py")]
    pub helper: PathBuf,
    /// Seconds to wait for a connection or a response before retrying.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

impl PublishCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let m = self.matrix.load()?;
        let (owner, repo) = match &self.repo {
            Some(r) => match r.split_once('/') {
                Some((o, n)) if !o.is_empty() && !n.is_empty() && !n.contains('/') => {
                    (o.to_string(), n.to_string())
                }
                _ => bail!("--repo `{r}` is not OWNER/NAME (e.g. attnfarm/attnfarm)"),
            },
            None => (m.release.owner.clone(), m.release.repo.clone()),
        };
        let tag = self
            .tag
            .clone()
            .unwrap_or_else(|| m.release.tag_for(&m.package.version));
        let token = std::env::var("GITHUB_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(|t| Token::new(t.trim()));
        if token.is_none() {
            if self.dry_run {
                eprintln!("note: GITHUB_TOKEN is not set; reading anonymously, so draft releases are invisible");
            } else {
                bail!("GITHUB_TOKEN is not set: export a token with `contents: write` on {owner}/{repo} (in Actions: `env: GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}` on the publish step)");
            }
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoints = Endpoints {
            api: self
                .api_url
                .clone()
                .or_else(|| env("GITHUB_API_URL"))
                .unwrap_or_else(|| "https://api.github.com".into()),
            uploads: self
                .upload_url
                .clone()
                .or_else(|| env("ATTNFARM_UPLOAD_URL")),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        // octocrab's client spawns its worker on the runtime it is built in.
        let _guard = rt.enter();
        let api = GithubApi::new(
            &owner,
            &repo,
            token,
            endpoints,
            Duration::from_secs(self.timeout.max(1)),
        )?;
        let opts = Options {
            title: format!("{} {}", m.package.name, m.package.version),
            tag: tag.clone(),
            dist: self.dist.clone(),
            target: self.target.clone().or_else(|| env("GITHUB_SHA")),
            dry_run: self.dry_run,
            replace: self.replace,
            retry: RetryPolicy::default(),
            notes: match &self.notes {
                Some(p) => Some(fs_err::read_to_string(p)?),
                None => None,
            },
        };
        let progress = Stderr::new(1);
        let report = rt
            .block_on(publish(&api, &RealClock, &opts, &progress))
            .with_context(|| {
                format!("publishing {} to {owner}/{repo} {tag}", self.dist.display())
            })?;
        let mut out = std::io::stdout().lock();
        let verb = if self.dry_run { "would " } else { "" };
        for a in &report.actions {
            writeln!(out, "{verb}{a}")?;
        }
        if let Some(url) = report.html_url.filter(|u| !u.is_empty()) {
            writeln!(out, "release: {url}")?;
        }
        if let Some(dir) = &self.site {
            let plan = Plan::from_matrix(&m, None);
            let local = collect_local(&self.dist)?;
            let wheels = rt.block_on(site_wheels(
                &api,
                &RealClock,
                &opts,
                &progress,
                (&owner, &repo),
                &local,
            ))?;
            let (entries, unplaced) = index_site::entries(&plan, &wheels, &plan.release.pages);
            for u in &unplaced {
                eprintln!("note: {} {} left out of the site: {}", u.tag, u.file, u.why);
            }
            let helper = helper_text(&self.helper, &plan.release.pages)?;
            write_tree(&plan, dir, &entries, helper.as_deref())?;
            let releases: std::collections::BTreeSet<&str> =
                wheels.iter().map(|w| w.tag.as_str()).collect();
            writeln!(
                out,
                "site: {} ({} variant(s), {} wheel(s) from {} release(s), newest {})",
                dir.display(),
                entries.len(),
                wheels.len(),
                releases.len(),
                index_site::latest_version(&entries).unwrap_or_default()
            )?;
        }
        Ok(())
    }
}
