//! The farm's cache directory: toolchains and compiled objects, content
//! addressed, shared by concurrent runs through file locks.
//!
//! ```text
//! <cache>/toolkits/<ToolkitSpec::key>/   NVIDIA wheels, installed with uv --target
//! <cache>/torch/<TorchSpec::key>/        the torch wheel, without dependencies
//! <cache>/tools/uv/                      uv, when it is not on PATH
//! <cache>/objects/<k0k1>/<key>.o         compiled objects (engine::run)
//! <cache>/locks/<name>.lock              one lock file per entry
//! ```
//!
//! An entry is complete iff its directory exists under its final name: it
//! is installed into `.<name>.tmp-<pid>` and renamed after its manifest is
//! written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xshell::Shell;

use super::layout::{self, CudaLayout, FatbinCompression, TorchLayout};
use super::{index_display, uv_install_args, ToolchainError, ToolkitSpec, TorchSpec};
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

    /// uv: on PATH, or installed into the cache with `python3 -m pip install --target`.
    pub fn uv(&self, log: &mut Vec<u8>) -> Result<PathBuf, ToolchainError> {
        let sh = Shell::new()?;
        if let Ok(out) = sh
            .cmd("uv")
            .arg("--version")
            .quiet()
            .ignore_status()
            .output()
        {
            if out.status.success() {
                return Ok(PathBuf::from("uv"));
            }
        }
        let dir = self.root.join("tools").join("uv");
        let exe = dir
            .join("bin")
            .join(if cfg!(windows) { "uv.exe" } else { "uv" });
        if exe.is_file() {
            return Ok(exe);
        }
        let _lock = self.lock("tools-uv")?;
        if exe.is_file() {
            return Ok(exe);
        }
        let tmp = self
            .root
            .join("tools")
            .join(format!(".uv.tmp-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&tmp);
        let python = std::env::var("PYTHON")
            .unwrap_or_else(|_| if cfg!(windows) { "python" } else { "python3" }.to_string());
        let out = sh
            .cmd(&python)
            .args(["-m", "pip", "install", "--quiet", "--target"])
            .arg(&tmp)
            .arg("uv")
            .quiet()
            .ignore_status()
            .output()
            .map_err(|e| ToolchainError::Spawn {
                program: python.clone(),
                why: e.to_string(),
            })?;
        log.extend_from_slice(&out.stdout);
        log.extend_from_slice(&out.stderr);
        if !out.status.success() {
            let _ = fs_err::remove_dir_all(&tmp);
            return Err(ToolchainError::NoUv {
                python,
                target: dir,
                tail: tail(&out.stderr, 20),
            });
        }
        fs_err::rename(&tmp, &dir)?;
        Ok(exe)
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
                        missing,
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
                    missing,
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
            let trash = parent.join(format!(".{key}.trash-{}", std::process::id()));
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
        let tmp = parent.join(format!(".{key}.tmp-{}", std::process::id()));
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

/// The last `n` lines of a process's output.
pub fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn run_uv(
    uv: &Path,
    args: &[String],
    what: &str,
    index: &IndexSource,
    log: &mut Vec<u8>,
) -> Result<(), ToolchainError> {
    let sh = Shell::new()?;
    let _ = writeln!(log, "$ {} {}", uv.display(), args.join(" "));
    let out = sh
        .cmd(uv)
        .args(args)
        .quiet()
        .ignore_status()
        .output()
        .map_err(|e| ToolchainError::Spawn {
            program: uv.display().to_string(),
            why: e.to_string(),
        })?;
    log.extend_from_slice(&out.stdout);
    log.extend_from_slice(&out.stderr);
    if !out.status.success() {
        return Err(ToolchainError::Download {
            what: what.to_string(),
            index: index_display(index),
            status: out
                .status
                .code()
                .map_or("signal".to_string(), |c| c.to_string()),
            tail: tail(&out.stderr, 8),
        });
    }
    Ok(())
}

/// Asks nvcc for its version (must match `want`) and whether it has
/// `--compress-mode`.
pub fn probe_nvcc(
    root: &Path,
    parts: layout::CudaLayoutParts,
    want: Option<crate::versions::CudaVersion>,
) -> Result<CudaLayout, ToolchainError> {
    let sh = Shell::new()?;
    let run = |arg: &str| -> Result<String, ToolchainError> {
        let out = sh
            .cmd(&parts.nvcc)
            .arg(arg)
            .quiet()
            .ignore_status()
            .output()
            .map_err(|e| ToolchainError::Spawn {
                program: parts.nvcc.display().to_string(),
                why: e.to_string(),
            })?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let text = run("--version")?;
    let version = layout::parse_nvcc_version(&text).ok_or_else(|| ToolchainError::Incomplete {
        what: "nvcc".into(),
        dir: parts.nvcc.clone(),
        missing: format!("a version in `nvcc --version` output: {text:?}"),
        packages: vec![],
    })?;
    if let Some(w) = want {
        if w != version {
            return Err(ToolchainError::Incomplete {
                what: format!("CUDA {w} toolkit"),
                dir: root.to_path_buf(),
                missing: format!("nvcc {w} (nvcc reports {version}; fix the pins in matrix.yaml)"),
                packages: vec![],
            });
        }
    }
    let help = run("--help")?;
    let compression = if help.contains("--compress-mode") {
        FatbinCompression::CompressMode
    } else {
        FatbinCompression::CompressAll
    };
    Ok(CudaLayout {
        root: root.to_path_buf(),
        version,
        nvcc: parts.nvcc,
        include_dirs: parts.include_dirs,
        lib_dir: parts.lib_dir,
        cudart: parts.cudart,
        compression,
    })
}

/// The torch tree is the release and CUDA major the matrix names.
pub fn check_torch(
    t: &TorchLayout,
    build: crate::versions::TorchRelease,
    cuda: crate::versions::CudaVersion,
) -> Result<(), ToolchainError> {
    let public = t.version.split('+').next().unwrap_or_default();
    let found_cuda_major = t
        .cuda
        .as_deref()
        .and_then(|c| c.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    if public != build.to_string() || found_cuda_major != Some(cuda.major) {
        return Err(ToolchainError::TorchMismatch {
            dir: t.root.clone(),
            found: format!(
                "torch {} (CUDA {})",
                t.version,
                t.cuda.as_deref().unwrap_or("none")
            ),
            wanted: format!("torch {build} built for CUDA {}.x", cuda.major),
            fix:
                "point the torch entry's `source` in matrix.yaml at an index that serves that build"
                    .into(),
        });
    }
    Ok(())
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

/// Cheap re-check of a complete entry: every file present with its size,
/// key files with their sha256.
pub fn verify(dir: &Path) -> Result<(), String> {
    let path = dir.join(MANIFEST);
    let bytes = fs_err::read(&path).map_err(|e| e.to_string())?;
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    for (rel, size) in &m.sizes {
        match std::fs::metadata(dir.join(rel)) {
            Ok(md) if md.len() == *size => {}
            Ok(md) => {
                return Err(format!(
                    "`{rel}` is {} bytes, manifest says {size}",
                    md.len()
                ))
            }
            Err(_) => return Err(format!("`{rel}` is missing")),
        }
    }
    for (rel, want) in &m.sha256 {
        let (got, _) = sha256_file(&dir.join(rel)).map_err(|e| e.to_string())?;
        if &got != want {
            return Err(format!("`{rel}` has sha256 {got}, manifest says {want}"));
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
        assert_eq!(verify(&tmp), Ok(()));
        // Same size, different content of a key file: caught by sha256.
        fs_err::write(tmp.join("bin/nvcc"), b"#!/bin/XX\n").unwrap();
        assert!(verify(&tmp).unwrap_err().contains("`bin/nvcc` has sha256"));
        fs_err::write(tmp.join("bin/nvcc"), b"#!/bin/sh\n").unwrap();
        // A truncated library: caught by size.
        fs_err::write(tmp.join("big.so"), vec![0u8; 10]).unwrap();
        assert_eq!(
            verify(&tmp).unwrap_err(),
            "`big.so` is 10 bytes, manifest says 1000"
        );
        fs_err::remove_file(tmp.join("big.so")).unwrap();
        assert_eq!(verify(&tmp).unwrap_err(), "`big.so` is missing");
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
