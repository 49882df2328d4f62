//! The source bundle `attnfarm-farm` carries: the files of the repository a
//! build needs (kernels/, bindings/, LICENSE, README.md, matrix.yaml),
//! packed at compile time by `farm/build.rs` and unpacked on first use into
//! `<cache>/farm-sources/<sha256 prefix>/`, so one binary always builds its
//! own release's sources, from any directory.
//!
//! Format (written by `farm/build.rs`, read by [`entries`]): a sequence of
//! records, each `u32 LE path length, path (UTF-8, `/`-separated, relative),
//! u64 LE data length, data`. No compression: the sources are ~0.4 MB.

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("source bundle is truncated at byte {0}")]
    Truncated(usize),
    #[error("source bundle holds an unsafe path `{0}`")]
    BadPath(String),
    #[error("source bundle lacks {0}")]
    Missing(String),
}

/// The files every build needs; the bundle must hold each.
pub const REQUIRED: &[&str] = &[
    "matrix.yaml",
    "LICENSE",
    "bindings/python/attnfarm/__init__.py",
];

/// Packs `(path, data)` records (the writer `farm/build.rs` mirrors).
pub fn pack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (p, d) in files {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(&(d.len() as u64).to_le_bytes());
        out.extend_from_slice(d);
    }
    out
}

/// The records of a bundle, checked: relative, normal paths only.
pub fn entries(bytes: &[u8]) -> Result<Vec<(String, &[u8])>, BundleError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], BundleError> {
        let end = at.checked_add(n).filter(|&e| e <= bytes.len());
        let end = end.ok_or(BundleError::Truncated(*at))?;
        let s = &bytes[*at..end];
        *at = end;
        Ok(s)
    };
    while at < bytes.len() {
        let n = u32::from_le_bytes(take(&mut at, 4)?.try_into().expect("4 bytes")) as usize;
        let path = String::from_utf8_lossy(take(&mut at, n)?).into_owned();
        let len = u64::from_le_bytes(take(&mut at, 8)?.try_into().expect("8 bytes")) as usize;
        let data = take(&mut at, len)?;
        let safe = !path.is_empty()
            && !path.contains('\\')
            && Path::new(&path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(BundleError::BadPath(path));
        }
        out.push((path, data));
    }
    for r in REQUIRED {
        if !out.iter().any(|(p, _)| p == r) {
            return Err(BundleError::Missing((*r).to_string()));
        }
    }
    Ok(out)
}

/// Content address of a bundle. Ex) `3f9a0c1b2d4e5f60`
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// Unpacks `bytes` into `<root>/<digest>/` unless it is already there
/// (complete: a marker is written last; the tree is assembled beside and
/// renamed into place, so a killed run never leaves half a tree in use).
pub fn extract(bytes: &[u8], root: &Path) -> Result<PathBuf, anyhow::Error> {
    let dir = root.join(digest(bytes));
    let marker = dir.join(".complete");
    if marker.is_file() {
        return Ok(dir);
    }
    let files = entries(bytes)?;
    fs_err::create_dir_all(root)?;
    let tmp = crate::fsx::temp_sibling(&dir);
    for (p, data) in &files {
        let dest = tmp.join(p);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&dest, data)?;
    }
    fs_err::write(tmp.join(".complete"), b"")?;
    match fs_err::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another run put the same content there first.
        Err(_) if marker.is_file() => {
            let _ = fs_err::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => {
            // A stale incomplete tree from a killed run: replace it.
            if dir.exists() && !marker.is_file() {
                fs_err::remove_dir_all(&dir)?;
                fs_err::rename(&tmp, &dir)?;
                return Ok(dir);
            }
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = REQUIRED
            .iter()
            .map(|p| (p.to_string(), p.as_bytes().to_vec()))
            .collect();
        v.push((
            "kernels/src/a.cu".into(),
            b"__global__ void k() {}".to_vec(),
        ));
        v
    }

    #[test]
    fn pack_round_trips() {
        let bytes = pack(&sample());
        let got = entries(&bytes).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[3].0, "kernels/src/a.cu");
        assert_eq!(got[3].1, b"__global__ void k() {}");
    }

    #[test]
    fn rejects_truncated_unsafe_and_incomplete_bundles() {
        let bytes = pack(&sample());
        assert!(matches!(
            entries(&bytes[..bytes.len() - 3]),
            Err(BundleError::Truncated(_))
        ));
        let mut evil = sample();
        evil.push(("../etc/passwd".into(), vec![]));
        assert_eq!(
            entries(&pack(&evil)),
            Err(BundleError::BadPath("../etc/passwd".into()))
        );
        let mut abs = sample();
        abs.push(("/abs".into(), vec![]));
        assert!(matches!(entries(&pack(&abs)), Err(BundleError::BadPath(_))));
        assert_eq!(
            entries(&pack(&sample()[1..])),
            Err(BundleError::Missing("matrix.yaml".into()))
        );
    }

    #[test]
    fn extracts_once_by_content() {
        let root = std::env::temp_dir().join(format!("attnfarm-bundle-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&root);
        let bytes = pack(&sample());
        let dir = extract(&bytes, &root).unwrap();
        assert_eq!(dir.file_name().unwrap().to_str().unwrap(), digest(&bytes));
        assert_eq!(
            fs_err::read(dir.join("kernels/src/a.cu")).unwrap(),
            b"__global__ void k() {}"
        );
        // Re-extracting reuses the tree (an edit inside it is not undone).
        fs_err::write(dir.join("marker-of-reuse"), b"").unwrap();
        assert_eq!(extract(&bytes, &root).unwrap(), dir);
        assert!(dir.join("marker-of-reuse").is_file());
        // Other content, other tree.
        let mut other = sample();
        other[3].1 = b"changed".to_vec();
        assert_ne!(extract(&pack(&other), &root).unwrap(), dir);
        fs_err::remove_dir_all(&root).unwrap();
    }
}
