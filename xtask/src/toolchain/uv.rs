//! uv, the installer every hermetic toolchain goes through: found on PATH,
//! else bootstrapped once into the cache (`<cache>/tools/uv/`) with
//! `python3 -m pip install --target`; and running it.

use std::io::Write;
use std::path::{Path, PathBuf};

use xshell::Shell;

use super::{index_display, tail, Cache, ToolchainError};
use crate::matrix::IndexSource;

/// The uv release the bootstrap installs when uv is not on PATH.
///
/// Pinned so that two machines without uv on PATH install toolchains with
/// the same uv (its resolver and `pip install --target` behaviour change
/// between releases), and so that a new uv release cannot change a build
/// unannounced. It is the release the unpinned bootstrap installed when the
/// pin was introduced. Bump it deliberately; a cache that already holds a
/// bootstrapped uv keeps it (`<cache>/tools/uv/` is not keyed by version).
pub const UV_VERSION: &str = "0.13.9";

/// The interpreter the bootstrap runs pip with: `$PYTHON`, else `python3`
/// (`python` on Windows).
fn bootstrap_python() -> String {
    std::env::var("PYTHON")
        .unwrap_or_else(|_| if cfg!(windows) { "python" } else { "python3" }.to_string())
}

/// The bootstrap's arguments to the interpreter: pip installs the pinned uv
/// into `target`. Pure.
pub fn bootstrap_args(target: &Path) -> Vec<String> {
    vec![
        "-m".into(),
        "pip".into(),
        "install".into(),
        "--quiet".into(),
        "--target".into(),
        target.display().to_string(),
        format!("uv=={UV_VERSION}"),
    ]
}

impl Cache {
    /// uv: on PATH, or installed into the cache with `python3 -m pip install
    /// --target` (uv [`UV_VERSION`]).
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
        let tmp = crate::fsx::temp_sibling(&dir);
        let _ = fs_err::remove_dir_all(&tmp);
        let python = bootstrap_python();
        let out = sh
            .cmd(&python)
            .args(bootstrap_args(&tmp))
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
}

/// Runs `uv <args>`, its output into `log`; a failure names `what` and the
/// index it came from.
pub(super) fn run_uv(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The bootstrap installs exactly the pinned uv, never "the latest".
    #[test]
    fn bootstrap_installs_the_pinned_uv() {
        let args = bootstrap_args(Path::new("/c/tools/.uv.tmp-1-0"));
        assert_eq!(
            args.join(" "),
            "-m pip install --quiet --target /c/tools/.uv.tmp-1-0 uv==0.13.9"
        );
        assert_eq!(args.last().unwrap(), &format!("uv=={UV_VERSION}"));
        assert!(
            UV_VERSION.split('.').count() == 3
                && UV_VERSION.split('.').all(|p| p.parse::<u32>().is_ok()),
            "an exact release, not a range: {UV_VERSION}"
        );
    }
}
