//! The farm's cache directory: toolchains and compiled objects, content
//! addressed, shared by concurrent runs through file locks.
//!
//! ```text
//! <cache>/toolkits/<ToolkitSpec::key>/   NVIDIA wheels, installed with uv --target
//! <cache>/torch/<TorchSpec::key>/        the torch wheel, without dependencies
//! <cache>/tools/uv/                      uv (super::uv::UV_VERSION), when it is not on PATH
//! <cache>/objects/<k0k1>/<key>.o         compiled objects (engine::run)
//! <cache>/locks/<name>.lock              one lock file per entry
//! ```
//!
//! An entry is complete iff its directory exists under its final name: it
//! is installed into a temporary sibling ([`crate::fsx::temp_sibling`],
//! `.<name>.tmp-<pid>-<n>`) and renamed after its manifest is written. A
//! broken entry is renamed aside (to another temporary sibling) before it is
//! deleted, so no reader ever sees half of one. Finding and bootstrapping uv
//! is in [`super::uv`]; asking nvcc and checking torch in [`super::probe`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::layout::{self, CudaLayout, TorchLayout};
use super::probe::{check_torch, probe_nvcc};
use super::uv::run_uv;
use super::{index_display, uv_install_args, ToolchainError, ToolkitSpec, TorchSpec};
use crate::fsx::temp_sibling;
use crate::matrix::IndexSource;
use crate::platform::Os;
use crate::wheel::sha256_file;

/// File name of an entry's manifest.
pub const MANIFEST: &str = "attnfarm-manifest.json";

/// What was installed and how to re-check it cheaply.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub key: String,
    pub what: String,
    /// Every file (relative path) and its size.
    pub sizes: BTreeMap<String, u64>,
    /// sha256 of a few key files (nvcc, runtime, headers, libc10, version.py).
    pub sha256: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Cache {
    pub root: PathBuf,
}

/// A held exclusive lock; released when dropped.
pub struct Lock {
    _file: std::fs::File,
}

impl Cache {
    /// `$ATTNFARM_CACHE`, else the platform cache dir + `attnfarm`
    /// (`$XDG_CACHE_HOME`, `~/.cache`, `%LOCALAPPDATA%`).
    pub fn locate() -> Cache {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = env("ATTNFARM_CACHE").unwrap_or_else(|| {
            if cfg!(windows) {
                env("LOCALAPPDATA")
                    .unwrap_or_else(|| PathBuf::from("."))
                    .join("attnfarm")
            } else {
                env("XDG_CACHE_HOME")
                    .or_else(|| env("HOME").map(|h| h.join(".cache")))
                    .unwrap_or_else(|| PathBuf::from("/tmp"))
                    .join("attnfarm")
            }
        });
        Cache { root }
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.root.join("objects")
    }

    /// Blocks until this process holds the lock `name`.
    pub fn lock(&self, name: &str) -> Result<Lock, ToolchainError> {
        let dir = self.root.join("locks");
        fs_err::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        file.lock().map_err(|e| {
            std::io::Error::new(e.kind(), format!("locking {}: {e}", path.display()))
        })?;
        Ok(Lock { _file: file })
    }

    /// Installs (or re-checks) the toolkit and returns its layout.
    pub fn toolkit(
        &self,
        uv: &Path,
        spec: &ToolkitSpec,
        log: &mut Vec<u8>,
    ) -> Result<CudaLayout, ToolchainError> {
        let os = spec.platform.os();
        let key = spec.key();
        let composite = spec
            .frontend
            .map(|fe| super::composite::Recipe::new(spec.cuda, fe))
            .transpose()?;
        let find = |dir: &Path| -> Result<CudaLayout, ToolchainError> {
            if let Some(r) = &composite {
                return Ok(super::composite::layout(dir, r)?);
            }
            let parts =
                layout::find_wheel_toolkit(dir, os, spec.cuda.major).map_err(|missing| {
                    ToolchainError::Incomplete {
                        what: spec.describe(),
                        dir: dir.to_path_buf(),
                        missing: missing.to_string(),
                        packages: spec.packages.clone(),
                    }
                })?;
            probe_nvcc(dir, parts, Some(spec.cuda))
        };
        let dir = self.entry(
            "toolkits",
            &key,
            &spec.describe(),
            log,
            |tmp, log| {
                run_uv(
                    uv,
                    &uv_install_args(
                        tmp,
                        &spec.uv_platform,
                        &spec.packages,
                        &IndexSource::Default,
                    ),
                    &spec.packages.join(" "),
                    &IndexSource::Default,
                    log,
                )?;
                if let Some(r) = &composite {
                    super::composite::assemble(tmp, r, log)?;
                }
                Ok(())
            },
            |dir| Ok(find(dir)?.key_files()),
        )?;
        find(&dir)
    }

    /// Installs (or re-checks) torch and returns its layout; checks that it is
    /// the release and CUDA build the matrix names.
    pub fn torch(
        &self,
        uv: &Path,
        spec: &TorchSpec,
        log: &mut Vec<u8>,
    ) -> Result<TorchLayout, ToolchainError> {
        let os = spec.platform.os();
        let key = spec.key();
        let what = format!(
            "{} from {}",
            spec.requirement(),
            index_display(&spec.source)
        );
        let find = |dir: &Path| -> Result<TorchLayout, ToolchainError> {
            layout::find_torch(&dir.join("torch"), os).map_err(|missing| {
                ToolchainError::Incomplete {
                    what: what.clone(),
                    dir: dir.to_path_buf(),
                    missing: missing.to_string(),
                    packages: vec![spec.requirement()],
                }
            })
        };
        let dir = self.entry(
            "torch",
            &key,
            &what,
            log,
            |tmp, log| {
                run_uv(
                    uv,
                    &uv_install_args(tmp, &spec.uv_platform, &[spec.requirement()], &spec.source),
                    &spec.requirement(),
                    &spec.source,
                    log,
                )
            },
            |dir| Ok(find(dir)?.key_files()),
        )?;
        let t = find(&dir)?;
        check_torch(&t, spec.build, spec.cuda)?;
        Ok(t)
    }

    /// The locked get-or-install of one entry.
    fn entry(
        &self,
        kind: &str,
        key: &str,
        what: &str,
        log: &mut Vec<u8>,
        install: impl Fn(&Path, &mut Vec<u8>) -> Result<(), ToolchainError>,
        key_files: impl Fn(&Path) -> Result<Vec<PathBuf>, ToolchainError>,
    ) -> Result<PathBuf, ToolchainError> {
        let parent = self.root.join(kind);
        let dir = parent.join(key);
        // Fast path without the lock: a complete entry never changes.
        if dir.is_dir() {
            match verify(&dir) {
                Ok(()) => return Ok(dir),
                Err(why) => {
                    let _ = writeln!(
                        log,
                        "cache entry {} failed its check ({why}); reinstalling",
                        dir.display()
                    );
                }
            }
        }
        let _lock = self.lock(&format!("{kind}-{key}"))?;
        if dir.is_dir() {
            if verify(&dir).is_ok() {
                return Ok(dir);
            }
            // Broken entry: move it aside (atomic), then delete.
            let trash = temp_sibling(&dir);
            fs_err::rename(&dir, &trash)?;
            fs_err::remove_dir_all(&trash)?;
        }
        fs_err::create_dir_all(&parent)?;
        // Leftovers of killed runs (we hold the lock, nobody else is writing).
        for e in fs_err::read_dir(&parent)?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&format!(".{key}.")) {
                let _ = fs_err::remove_dir_all(e.path());
            }
        }
        let tmp = temp_sibling(&dir);
        let _ = writeln!(log, "installing {what} into {}", dir.display());
        let result = (|| {
            install(&tmp, log)?;
            let files = key_files(&tmp)?;
            let m = make_manifest(&tmp, key, what, &files)?;
            let path = tmp.join(MANIFEST);
            fs_err::write(&path, serde_json::to_vec_pretty(&m).expect("serializable"))?;
            fs_err::rename(&tmp, &dir)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = fs_err::remove_dir_all(&tmp);
        }
        result.map(|()| dir)
    }
}

fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, u64>) -> std::io::Result<()> {
    for e in fs_err::read_dir(dir)? {
        let e = e?;
        let ft = e.file_type()?;
        let p = e.path();
        if ft.is_dir() {
            walk(&p, base, out)?;
        } else {
            let rel = p
                .strip_prefix(base)
                .expect("under base")
                .to_string_lossy()
                .replace('\\', "/");
            if rel != MANIFEST {
                // Symlinks count with the size of what they point to.
                let len = fs_err::metadata(&p).map(|m| m.len()).unwrap_or(0);
                out.insert(rel, len);
            }
        }
    }
    Ok(())
}

fn make_manifest(
    dir: &Path,
    key: &str,
    what: &str,
    key_files: &[PathBuf],
) -> Result<Manifest, ToolchainError> {
    let mut sizes = BTreeMap::new();
    walk(dir, dir, &mut sizes)?;
    let mut sha256 = BTreeMap::new();
    for f in key_files {
        let rel = f
            .strip_prefix(dir)
            .map_err(|_| ToolchainError::Manifest {
                path: f.clone(),
                why: format!("key file is outside {}", dir.display()),
            })?
            .to_string_lossy()
            .replace('\\', "/");
        sha256.insert(rel, sha256_file(f)?.0);
    }
    Ok(Manifest {
        key: key.to_string(),
        what: what.to_string(),
        sizes,
        sha256,
    })
}

/// Why a cache entry failed its re-check ([`verify`]). Displays as the
/// reason alone; the caller names the entry.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// The manifest or a key file could not be read (the message carries the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{}: {source}", path.display())]
    Manifest {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("`{rel}` is {found} bytes, manifest says {manifest}")]
    Size {
        rel: String,
        found: u64,
        manifest: u64,
    },
    #[error("`{rel}` is missing")]
    Missing { rel: String },
    #[error("`{rel}` has sha256 {found}, manifest says {manifest}")]
    Digest {
        rel: String,
        found: String,
        manifest: String,
    },
}

/// Cheap re-check of a complete entry: every file present with its size,
/// key files with their sha256.
pub fn verify(dir: &Path) -> Result<(), VerifyError> {
    let path = dir.join(MANIFEST);
    let bytes = fs_err::read(&path)?;
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|source| VerifyError::Manifest { path, source })?;
    for (rel, size) in &m.sizes {
        match std::fs::metadata(dir.join(rel)) {
            Ok(md) if md.len() == *size => {}
            Ok(md) => {
                return Err(VerifyError::Size {
                    rel: rel.clone(),
                    found: md.len(),
                    manifest: *size,
                })
            }
            Err(_) => return Err(VerifyError::Missing { rel: rel.clone() }),
        }
    }
    for (rel, want) in &m.sha256 {
        let (got, _) = sha256_file(&dir.join(rel))?;
        if &got != want {
            return Err(VerifyError::Digest {
                rel: rel.clone(),
                found: got,
                manifest: want.clone(),
            });
        }
    }
    Ok(())
}

/// The OS of a layout's platform, for callers holding only a spec.
pub fn os_of(spec: &ToolkitSpec) -> Os {
    spec.platform.os()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_detects_changes() {
        let tmp = std::env::temp_dir().join(format!("attnfarm-manifest-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&tmp);
        fs_err::create_dir_all(tmp.join("bin")).unwrap();
        fs_err::write(tmp.join("bin/nvcc"), b"#!/bin/sh\n").unwrap();
        fs_err::write(tmp.join("big.so"), vec![0u8; 1000]).unwrap();
        let m = make_manifest(&tmp, "k", "w", &[tmp.join("bin/nvcc")]).unwrap();
        fs_err::write(tmp.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
        verify(&tmp).unwrap();
        // Same size, different content of a key file: caught by sha256.
        fs_err::write(tmp.join("bin/nvcc"), b"#!/bin/XX\n").unwrap();
        let e = verify(&tmp).unwrap_err();
        assert!(
            matches!(&e, VerifyError::Digest { rel, .. } if rel == "bin/nvcc"),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("`bin/nvcc` has sha256 "), "{e}");
        fs_err::write(tmp.join("bin/nvcc"), b"#!/bin/sh\n").unwrap();
        // A truncated library: caught by size.
        fs_err::write(tmp.join("big.so"), vec![0u8; 10]).unwrap();
        assert_eq!(
            verify(&tmp).unwrap_err().to_string(),
            "`big.so` is 10 bytes, manifest says 1000"
        );
        fs_err::remove_file(tmp.join("big.so")).unwrap();
        assert_eq!(verify(&tmp).unwrap_err().to_string(), "`big.so` is missing");
        // A damaged manifest names its path.
        fs_err::write(tmp.join(MANIFEST), b"{").unwrap();
        let e = verify(&tmp).unwrap_err();
        assert!(matches!(e, VerifyError::Manifest { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("{}: ", tmp.join(MANIFEST).display())),
            "{e}"
        );
        let _ = fs_err::remove_dir_all(&tmp);
    }

    /// A failed download names the package, the version and the index, and
    /// leaves no cache entry behind. Offline: the index is a missing local dir.
    #[test]
    fn failed_download_names_package_version_and_index() {
        // The uv the farm itself uses: on PATH, or installed into its cache.
        let mut uv_log = Vec::new();
        let uv = Cache::locate().uv(&mut uv_log).unwrap_or_else(|e| {
            panic!(
                "uv is needed (on PATH or installed by the farm with pip): {e}\n{}",
                String::from_utf8_lossy(&uv_log)
            )
        });
        let root = std::env::temp_dir().join(format!("attnfarm-dl-{}", std::process::id()));
        let cache = Cache { root: root.clone() };
        let spec = TorchSpec {
            build: "2.9.1".parse().unwrap(),
            cuda: "12.8".parse().unwrap(),
            source: IndexSource::Named {
                name: "nowhere".into(),
                url: "file:///nonexistent/attnfarm-test/simple".into(),
            },
            platform: crate::platform::Platform::LinuxX86_64,
            uv_platform: "x86_64-manylinux_2_28".into(),
        };
        let mut log = Vec::new();
        let err = cache.torch(&uv, &spec, &mut log).unwrap_err().to_string();
        assert!(
            err.starts_with("downloading torch==2.9.1 from nowhere (file:///nonexistent/attnfarm-test/simple) failed"),
            "{err}"
        );
        let entries: Vec<_> = fs_err::read_dir(root.join("torch")).unwrap().collect();
        assert!(
            entries.is_empty(),
            "no entry, no temp dir left: {entries:?}"
        );
        let _ = fs_err::remove_dir_all(&root);
    }

    #[test]
    fn lock_is_exclusive_across_handles() {
        let root = std::env::temp_dir().join(format!("attnfarm-lock-{}", std::process::id()));
        let cache = Cache { root: root.clone() };
        let held = cache.lock("x").unwrap();
        let path = root.join("locks/x.lock");
        let other = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert!(
            other.try_lock().is_err(),
            "a second handle must not get the lock"
        );
        drop(held);
        assert!(other.try_lock().is_ok());
        let _ = fs_err::remove_dir_all(&root);
    }
}
