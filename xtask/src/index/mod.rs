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
//! <dist>/index/index.html             landing page
//! <dist>/index/install.py             the install helper, if the repo has one
//! <dist>/index/<variant-id>/simple/index.html
//! <dist>/index/<variant-id>/simple/<project>/index.html
//! ```

pub mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::plan::{Plan, Variant};
use crate::wheel::inspect::{inspect_wheel, InspectError};
use crate::wheel::sha256_file;
use render::{FileLink, VariantPage};

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

/// Where index links point.
#[derive(Debug, Clone, PartialEq, Eq, clap::ValueEnum)]
pub enum BaseUrl {
    /// GitHub release assets: `https://github.com/<owner>/<repo>/releases/download/<tag>/<file>`.
    Release,
    /// Relative paths into `<dist>/wheels/`, for serving `<dist>` itself.
    Local,
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

/// Release asset URL of a file.
pub fn release_url(plan: &Plan, file: &str) -> String {
    format!(
        "https://github.com/{}/{}/releases/download/{}/{}",
        plan.release.owner,
        plan.release.repo,
        render::encode_segment(&plan.release.tag_for(&plan.package.version)),
        render::encode_segment(file)
    )
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    fs_err::write(&tmp, bytes)?;
    fs_err::rename(&tmp, path)
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
    let wheels_dir = dist.join("wheels");
    let mut by_variant: BTreeMap<String, Vec<FileLink>> = BTreeMap::new();
    let mut sums = Vec::new();
    let names = crate::wheel::list_wheels(&wheels_dir)?;
    if names.is_empty() {
        return Err(IndexError::NoWheels { dir: wheels_dir });
    }
    for name in &names {
        let path = wheels_dir.join(name);
        let info = inspect_wheel(&path)?;
        let variant = plan
            .variants
            .iter()
            .find(|v| {
                v.version == info.filename.version
                    && v.platform == info.filename.platform.platform()
            })
            .ok_or_else(|| IndexError::Stray {
                file: name.clone(),
                version: info.filename.version.clone(),
                platform: info.filename.platform.to_string(),
            })?;
        let (sha256, _) = sha256_file(&path)?;
        let meta_name = format!("{name}.metadata");
        let meta_path = wheels_dir.join(&meta_name);
        if fs_err::read(&meta_path).ok().as_deref() != Some(&info.metadata[..]) {
            write_atomic(&meta_path, &info.metadata)?;
        }
        let meta_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&info.metadata));
        sums.push((name.clone(), sha256.clone()));
        sums.push((meta_name, meta_sha.clone()));
        let url = match base {
            BaseUrl::Release => release_url(plan, name),
            // From <dist>/index/<id>/simple/<project>/ up to <dist>/wheels/.
            BaseUrl::Local => format!("../../../../wheels/{}", render::encode_segment(name)),
        };
        by_variant
            .entry(variant.id.clone())
            .or_default()
            .push(FileLink {
                file: name.clone(),
                url,
                sha256,
                requires_python: info.requires_python().map(String::from),
                metadata_sha256: Some(meta_sha),
            });
    }

    // Assemble the new tree beside the old, then swap.
    let index_dir = dist.join("index");
    let staging = dist.join(format!(".index.{}.tmp", std::process::id()));
    if staging.exists() {
        fs_err::remove_dir_all(&staging)?;
    }
    fs_err::create_dir_all(&staging)?;
    let project = &plan.package.name;
    let mut pages: Vec<VariantPage<'_>> = Vec::new();
    let variants: Vec<&Variant> = plan
        .variants
        .iter()
        .filter(|v| by_variant.contains_key(&v.id))
        .collect();
    for v in &variants {
        let files = by_variant.remove(&v.id).unwrap_or_default();
        let simple = staging.join(&v.id).join("simple");
        fs_err::create_dir_all(simple.join(project))?;
        fs_err::write(simple.join("index.html"), render::root_page(project))?;
        fs_err::write(
            simple.join(project).join("index.html"),
            render::project_page(project, &files),
        )?;
        let index_url = match base {
            BaseUrl::Release => format!("{}{}/simple/", plan.release.pages, v.id),
            BaseUrl::Local => format!("http://127.0.0.1:8000/index/{}/simple/", v.id),
        };
        pages.push(VariantPage {
            variant: v,
            files,
            index_url,
        });
    }
    let mut has_helper = false;
    if let Some(h) = helper.filter(|h| h.is_file()) {
        let text = fs_err::read_to_string(h)?;
        let text = match base {
            BaseUrl::Release => text.replace(HELPER_BASE_PLACEHOLDER, &plan.release.pages),
            BaseUrl::Local => text,
        };
        fs_err::write(staging.join("install.py"), text)?;
        has_helper = true;
    }
    fs_err::write(
        staging.join("index.html"),
        render::landing_page(project, &plan.package.version, &pages, has_helper),
    )?;
    let report = IndexReport {
        variants: pages
            .iter()
            .map(|p| {
                (
                    p.variant.id.clone(),
                    p.files.iter().map(|f| f.file.clone()).collect(),
                )
            })
            .collect(),
        missing: plan
            .variants
            .iter()
            .filter(|v| !pages.iter().any(|p| p.variant.id == v.id))
            .map(|v| v.id.clone())
            .collect(),
        landing: index_dir.join("index.html"),
    };
    let old = dist.join(format!(".index.{}.old", std::process::id()));
    if index_dir.exists() {
        fs_err::rename(&index_dir, &old)?;
    }
    fs_err::rename(&staging, &index_dir)?;
    if old.exists() {
        fs_err::remove_dir_all(&old)?;
    }
    write_atomic(
        &dist.join("SHA256SUMS"),
        render::sha256sums(&sums).as_bytes(),
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests;
