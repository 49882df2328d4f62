//! The repository's sources, read at the start of a run (the object keys are
//! computed from them) and again after each compile, so an edit made during
//! the compile never enters the cache; and the git facts a build records
//! (commit time for SOURCE_DATE_EPOCH, revision for `_build_info`).

use std::path::{Path, PathBuf};

use xshell::Shell;

use super::{keys, EngineError};
use crate::plan::VariantKind;

/// The repo's sources, as read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub kernels: Vec<(PathBuf, Vec<u8>)>,
    pub kernel_headers: String,
    /// The per-minor binding: `bindings/csrc/*.cpp`.
    pub bindings: Vec<(PathBuf, Vec<u8>)>,
    /// The stable-ABI binding: `bindings/csrc/stable/*.cpp`.
    pub stable_bindings: Vec<(PathBuf, Vec<u8>)>,
    /// Both bindings' headers (`bindings/csrc/**`, `kernels/include`).
    pub binding_headers: String,
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for e in fs_err::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            files_under(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn is_header(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("h" | "hpp" | "cuh" | "inl" | "inc")
    )
}

impl Sources {
    /// `kernels/src/*.cu`, `bindings/csrc/*.cpp`, `bindings/csrc/stable/*.cpp`
    /// and the headers they can include.
    pub fn read(repo: &Path) -> Result<Sources, EngineError> {
        let rel = |p: &Path| {
            p.strip_prefix(repo)
                .unwrap_or(p)
                .to_string_lossy()
                .replace('\\', "/")
        };
        let read_set = |dirs: &[&str],
                        pick: &dyn Fn(&Path) -> bool|
         -> Result<Vec<(PathBuf, Vec<u8>)>, EngineError> {
            let mut files = Vec::new();
            for d in dirs {
                files_under(&repo.join(d), &mut files)?;
            }
            files.retain(|p| pick(p));
            files.sort();
            files
                .into_iter()
                .map(|p| Ok((p.clone(), fs_err::read(&p)?)))
                .collect()
        };
        let ext =
            |e: &'static str| move |p: &Path| p.extension().and_then(|x| x.to_str()) == Some(e);
        let kernels = read_set(&["kernels/src"], &ext("cu"))?;
        let csrc = repo.join("bindings/csrc");
        let stable_dir = csrc.join("stable");
        let in_dir = |dir: PathBuf| move |p: &Path| p.parent() == Some(dir.as_path());
        let bindings = read_set(&["bindings/csrc"], &|p| {
            ext("cpp")(p) && in_dir(csrc.clone())(p)
        })?;
        let stable_bindings = read_set(&["bindings/csrc/stable"], &|p| {
            ext("cpp")(p) && in_dir(stable_dir.clone())(p)
        })?;
        let digest = |set: Vec<(PathBuf, Vec<u8>)>| {
            keys::digest_files(
                &set.into_iter()
                    .map(|(p, b)| (rel(&p), b))
                    .collect::<Vec<_>>(),
            )
        };
        let kernel_headers = digest(read_set(&["kernels/include", "kernels/src"], &is_header)?);
        let binding_headers = digest(read_set(&["kernels/include", "bindings/csrc"], &is_header)?);
        if bindings.is_empty() {
            return Err(EngineError::NoBindings {
                dir: repo.join("bindings/csrc"),
            });
        }
        Ok(Sources {
            kernels,
            kernel_headers,
            bindings,
            stable_bindings,
            binding_headers,
        })
    }

    /// The binding sources a variant compiles.
    pub fn bindings_for(&self, kind: VariantKind) -> &[(PathBuf, Vec<u8>)] {
        match kind {
            VariantKind::PerMinor => &self.bindings,
            VariantKind::Stable => &self.stable_bindings,
        }
    }

    /// Whether `now` has the same kernel sources and headers.
    pub fn same_kernels(&self, now: &Sources) -> bool {
        now.kernels == self.kernels && now.kernel_headers == self.kernel_headers
    }

    /// Whether `now` has the same binding sources (both kinds) and headers.
    pub fn same_bindings(&self, now: &Sources) -> bool {
        now.bindings == self.bindings
            && now.stable_bindings == self.stable_bindings
            && now.binding_headers == self.binding_headers
    }
}

/// The git commit time of HEAD, for SOURCE_DATE_EPOCH.
pub fn git_commit_time(repo: &Path) -> Option<u64> {
    let sh = Shell::new().ok()?;
    let out = sh
        .cmd("git")
        .args(["-C"])
        .arg(repo)
        .args(["log", "-1", "--format=%ct"])
        .quiet()
        .ignore_status()
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// HEAD's sha, `-dirty` when kernels/ or bindings/ differ from it; else `unknown`.
pub fn git_revision(repo: &Path) -> String {
    let Ok(sh) = Shell::new() else {
        return "unknown".into();
    };
    let head = sh
        .cmd("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "HEAD"])
        .quiet()
        .ignore_status()
        .output();
    let Ok(head) = head else {
        return "unknown".into();
    };
    let sha = String::from_utf8_lossy(&head.stdout).trim().to_string();
    if !head.status.success() || sha.is_empty() {
        return "unknown".into();
    }
    let clean = sh
        .cmd("git")
        .arg("-C")
        .arg(repo)
        .args(["diff", "--quiet", "HEAD", "--", "kernels", "bindings"])
        .quiet()
        .ignore_status()
        .output()
        .is_ok_and(|o| o.status.success());
    if clean {
        sha
    } else {
        format!("{sha}-dirty")
    }
}
