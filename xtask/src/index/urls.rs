//! Where the site's links point: the one place that knows the URL scheme of
//! release assets, of the per-variant indexes and of a local `<dist>` tree.
//! Pure.
//!
//! Every URL a [`super::site::VariantEntry`] carries is either absolute
//! (release assets, the Pages site) or relative to the site root
//! (`<dist>/index/`, where the landing page and `variants.json` live).
//! A page deeper in the tree rebases relative ones with [`from_page`].

use crate::fsx::percent_encode;
use crate::plan::Plan;

/// Where index links point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BaseUrl {
    /// GitHub release assets: `https://github.com/<owner>/<repo>/releases/download/<tag>/<file>`.
    Release,
    /// Relative paths into `<dist>/wheels/`, for serving `<dist>` itself.
    Local,
}

/// The site's directory under the output root. Ex) `<dist>/index/`
pub const SITE_DIR: &str = "index";
/// The wheels' directory under the output root. Ex) `<dist>/wheels/`
pub const WHEELS_DIR: &str = "wheels";
/// How many directories below the site root a project page lies:
/// `<variant>/simple/<project>/index.html`.
pub const PROJECT_PAGE_DEPTH: usize = 3;

/// Release asset URL of `file` in release `tag` of `owner/repo`.
/// Ex) `https://github.com/o/r/releases/download/v1/a-1%2Bx.whl`
pub fn asset_url(owner: &str, repo: &str, tag: &str, file: &str) -> String {
    format!(
        "https://github.com/{owner}/{repo}/releases/download/{}/{}",
        percent_encode(tag),
        percent_encode(file)
    )
}

/// Release asset URL of a file of this plan's release.
pub fn release_url(plan: &Plan, file: &str) -> String {
    asset_url(
        &plan.release.owner,
        &plan.release.repo,
        &plan.release.tag_for(&plan.package.version),
        file,
    )
}

/// A wheel's URL, relative to the site root for [`BaseUrl::Local`]
/// (`<dist>/index/` → `<dist>/wheels/<file>`).
pub fn wheel_url(base: BaseUrl, plan: &Plan, file: &str) -> String {
    match base {
        BaseUrl::Release => release_url(plan, file),
        BaseUrl::Local => format!("../{WHEELS_DIR}/{}", percent_encode(file)),
    }
}

/// The URL the site is served from, ending in `/` (empty: relative, the
/// site root itself).
pub fn site_base(base: BaseUrl, plan: &Plan) -> String {
    match base {
        BaseUrl::Release => plan.release.pages.clone(),
        BaseUrl::Local => String::new(),
    }
}

/// What the install helper's placeholder becomes (`None`: left in place,
/// for `--index` on a local tree).
pub fn helper_base(base: BaseUrl, plan: &Plan) -> Option<&str> {
    match base {
        BaseUrl::Release => Some(&plan.release.pages),
        BaseUrl::Local => None,
    }
}

/// A variant's `simple/` root under `site` (a base as [`site_base`]
/// returns, or any URL of the site root), with exactly one `/` between
/// parts. Ex) `https://o.github.io/r/cu12-torch2.9-linux_x86_64/simple/`
pub fn variant_index(site: &str, id: &str) -> String {
    if site.is_empty() {
        return format!("{id}/simple/");
    }
    format!("{}/{id}/simple/", site.trim_end_matches('/'))
}

/// A variant's `simple/` root when the output root itself is served at
/// `root` (the loopback server of `verify`). Ex) `http://127.0.0.1:41234/index/<id>/simple/`
pub fn served_variant_index(root: &str, id: &str) -> String {
    variant_index(&format!("{}/{SITE_DIR}/", root.trim_end_matches('/')), id)
}

/// Whether `url` is a relative reference (no scheme, not rooted).
pub fn is_relative(url: &str) -> bool {
    !url.contains("://") && !url.starts_with('/')
}

/// `url` (relative to the site root, or absolute) as linked from a page
/// `depth` directories below the site root.
pub fn from_page(url: &str, depth: usize) -> String {
    if is_relative(url) {
        format!("{}{url}", "../".repeat(depth))
    } else {
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_rebases() {
        assert_eq!(
            variant_index("https://o.github.io/r/", "v"),
            "https://o.github.io/r/v/simple/"
        );
        assert_eq!(
            variant_index("https://o.github.io/r", "v"),
            "https://o.github.io/r/v/simple/"
        );
        assert_eq!(variant_index("", "v"), "v/simple/");
        assert_eq!(
            served_variant_index("http://127.0.0.1:1/", "v"),
            "http://127.0.0.1:1/index/v/simple/"
        );
        assert_eq!(
            from_page("../wheels/a%2Bb.whl", PROJECT_PAGE_DEPTH),
            "../../../../wheels/a%2Bb.whl"
        );
        assert_eq!(
            from_page("https://x/a.whl", PROJECT_PAGE_DEPTH),
            "https://x/a.whl"
        );
        assert_eq!(from_page("v/simple/", 0), "v/simple/");
        assert!(!is_relative("/wheels/a.whl"));
    }
}
