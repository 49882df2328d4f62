//! The pip indexes: one PEP 503 tree per variant, a landing page, the PEP 658
//! metadata files and `SHA256SUMS`, from the wheels in `dist/wheels/`.
//!
//! `render` is pure; this module reads the wheels and writes the tree. The
//! new tree is assembled beside the old one and swapped in by rename, so a
//! killed run never leaves half an index.
//!
//! Layout (`<dist>` = the output root):
//! ```text
//! <dist>/wheels/<file>.whl            built by build-matrix
//! <dist>/wheels/<file>.whl.metadata   written here (PEP 658)
//! <dist>/SHA256SUMS
//! <dist>/index/index.html             landing page (selector + table)
//! <dist>/index/variants.json          every variant, its index URL and wheels
//! <dist>/index/install.py             the install helper, if the repo has one
//! <dist>/index/<variant-id>/simple/index.html
//! <dist>/index/<variant-id>/simple/<project>/index.html
//! ```

pub mod render;
pub mod site;
pub mod urls;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::fsx::{temp_sibling, write_atomic};
use crate::plan::Plan;
use crate::wheel::inspect::{inspect_wheel, InspectError};
use crate::wheel::sha256_file;
use render::FileLink;
use site::{SiteWheel, VariantEntry};
pub use urls::{release_url, BaseUrl};

/// The placeholder in `install/install.py` replaced by the index's base URL.
pub const HELPER_BASE_PLACEHOLDER: &str = "__ATTNFARM_INDEX_BASE__";

#[derive(Debug, Error)]
pub enum IndexError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Wheel(#[from] InspectError),
    #[error("{} holds no wheels: run `cargo xtask build-matrix` first", dir.display())]
    NoWheels { dir: PathBuf },
    #[error("{} matches no variant of the plan (version `{version}`, platform {platform}); remove it or build it from this matrix", file)]
    Stray {
        file: String,
        version: String,
        platform: String,
    },
}

/// What `write_index` did.
#[derive(Debug)]
pub struct IndexReport {
    /// (variant id, wheel file names) for every variant with wheels.
    pub variants: Vec<(String, Vec<String>)>,
    /// Plan variants that have no wheel in the directory.
    pub missing: Vec<String>,
    pub landing: PathBuf,
}

/// Writes the indexes for every wheel in `<dist>/wheels/`.
///
/// `helper`: the install helper to copy beside the landing page (its
/// `__ATTNFARM_INDEX_BASE__` placeholder replaced by the Pages URL for
/// release indexes, or left for `--index` on local ones).
pub fn write_index(
    plan: &Plan,
    dist: &Path,
    base: BaseUrl,
    helper: Option<&Path>,
) -> Result<IndexReport, IndexError> {
    let wheels_dir = dist.join(urls::WHEELS_DIR);
    let mut wheels: Vec<SiteWheel> = Vec::new();
    let mut sums = Vec::new();
    let names = crate::wheel::list_wheels(&wheels_dir)?;
    if names.is_empty() {
        return Err(IndexError::NoWheels { dir: wheels_dir });
    }
    let tag = plan.release.tag_for(&plan.package.version);
    for name in &names {
        let path = wheels_dir.join(name);
        let info = inspect_wheel(&path)?;
        if !plan.variants.iter().any(|v| {
            v.version == info.filename.version && v.platform == info.filename.platform.platform()
        }) {
            return Err(IndexError::Stray {
                file: name.clone(),
                version: info.filename.version.to_string(),
                platform: info.filename.platform.to_string(),
            });
        }
        let (sha256, _) = sha256_file(&path)?;
        let meta_name = format!("{name}.metadata");
        let meta_path = wheels_dir.join(&meta_name);
        if fs_err::read(&meta_path).ok().as_deref() != Some(&info.metadata[..]) {
            write_atomic(&meta_path, &info.metadata)?;
        }
        let meta_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&info.metadata));
        sums.push((name.clone(), sha256.clone()));
        sums.push((meta_name, meta_sha.clone()));
        let url = urls::wheel_url(base, plan, name);
        wheels.push(SiteWheel {
            tag: tag.clone(),
            link: FileLink {
                file: name.clone(),
                url,
                sha256,
                requires_python: info.requires_python().map(String::from),
                metadata_sha256: Some(meta_sha),
            },
        });
    }
    let (entries, _) = site::entries(plan, &wheels, &urls::site_base(base, plan));
    let helper_text = match helper.filter(|h| h.is_file()) {
        Some(h) => {
            let text = fs_err::read_to_string(h)?;
            Some(match urls::helper_base(base, plan) {
                Some(b) => text.replace(HELPER_BASE_PLACEHOLDER, b),
                None => text,
            })
        }
        None => None,
    };
    let index_dir = dist.join(urls::SITE_DIR);
    write_tree(plan, &index_dir, &entries, helper_text.as_deref())?;
    let report = IndexReport {
        variants: entries
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    e.wheels.iter().map(|w| w.file.clone()).collect(),
                )
            })
            .collect(),
        missing: plan
            .variants
            .iter()
            .filter(|v| !entries.iter().any(|e| e.id == v.id))
            .map(|v| v.id.to_string())
            .collect(),
        landing: index_dir.join("index.html"),
    };
    write_atomic(
        &dist.join("SHA256SUMS"),
        render::sha256sums(&sums).as_bytes(),
    )?;
    Ok(report)
}

/// Writes the site (landing page, `variants.json`, one PEP 503 tree per
/// variant, the helper) into `dir`: assembled beside it and swapped in, so
/// a killed run leaves the old tree or the new one, never half.
pub fn write_tree(
    plan: &Plan,
    dir: &Path,
    entries: &[VariantEntry],
    helper: Option<&str>,
) -> Result<(), IndexError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent)?;
    let staging = temp_sibling(dir);
    fs_err::create_dir_all(&staging)?;
    let project = plan.package.name.as_str();
    for e in entries {
        let simple = staging.join(&e.id).join("simple");
        fs_err::create_dir_all(simple.join(project))?;
        fs_err::write(simple.join("index.html"), render::root_page(project))?;
        // Entry URLs are relative to the site root; the page lies deeper.
        let links: Vec<FileLink> = e
            .links()
            .into_iter()
            .map(|l| FileLink {
                url: urls::from_page(&l.url, urls::PROJECT_PAGE_DEPTH),
                ..l
            })
            .collect();
        fs_err::write(
            simple.join(project).join("index.html"),
            render::project_page(project, &links),
        )?;
    }
    if let Some(text) = helper {
        fs_err::write(staging.join("install.py"), text)?;
    }
    let version = site::latest_version(entries).unwrap_or_else(|| plan.package.version.to_string());
    fs_err::write(
        staging.join("index.html"),
        render::landing_page(project, &version, entries, helper.is_some()),
    )?;
    fs_err::write(
        staging.join("variants.json"),
        site::variants_json(project, entries),
    )?;
    let old = temp_sibling(dir);
    if dir.exists() {
        fs_err::rename(dir, &old)?;
    }
    fs_err::rename(&staging, dir)?;
    if old.exists() {
        fs_err::remove_dir_all(&old)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
