//! MSVC on Windows: where `cl.exe` and `link.exe` are, and whether nvcc
//! accepts that `cl.exe`.
//!
//! The tools are located explicitly, never through `PATH`: under Git's bash
//! (`shell: bash` on Windows runners) `/usr/bin/link.exe` is coreutils'
//! `link`, found before MSVC's, and it fails with no message. Order:
//! `ATTNFARM_MSVC_BIN` (a folder holding both), then a `CXX` that is a path
//! to `cl.exe` (its `link.exe` beside it), then `VCToolsInstallDir` (set by
//! Visual Studio's developer shell) + `bin\Hostx64\x64`.
//!
//! nvcc refuses host compilers outside the `_MSC_VER` range in its
//! `crt/host_config.h` (`#if _MSC_VER < 1910 || _MSC_VER >= 1950` for CUDA
//! 12.8 to 13.0); [`check_msc_ver`] reads that range from the toolkit in use
//! and compares it with `cl.exe`'s banner, so a too-new Visual Studio is
//! reported before the first compile with both numbers.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The override: a folder holding `cl.exe` and `link.exe`.
pub const MSVC_BIN_ENV: &str = "ATTNFARM_MSVC_BIN";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msvc {
    pub cl: PathBuf,
    pub link: PathBuf,
    /// Which rule found them. Ex) `VCToolsInstallDir`
    pub source: &'static str,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MsvcError {
    #[error("{source_name} points at `{}`, which lacks {missing}; {hint}", dir.display())]
    Incomplete {
        source_name: &'static str,
        dir: PathBuf,
        missing: String,
        hint: &'static str,
    },
    #[error("MSVC not found: run from a Visual Studio developer shell (it sets VCToolsInstallDir), or set {MSVC_BIN_ENV} to the folder holding cl.exe and link.exe (e.g. `...\\VC\\Tools\\MSVC\\14.44.35207\\bin\\Hostx64\\x64`). link.exe is never taken from PATH: Git's /usr/bin/link.exe comes first there")]
    NotFound,
    #[error("cl.exe {cl_version} (_MSC_VER {msc_ver}) is outside what CUDA {cuda}'s nvcc accepts ({lo} <= _MSC_VER < {hi}, from {}): use a Visual Studio whose MSVC is in that range (set {MSVC_BIN_ENV} to its Hostx64\\x64 folder)", host_config.display())]
    Unsupported {
        cl_version: String,
        msc_ver: u32,
        cuda: String,
        lo: u32,
        hi: u32,
        host_config: PathBuf,
    },
}

/// Finds `cl.exe` and `link.exe`. `env` reads a variable, `is_file` tests a
/// path (both injected so the rules are testable anywhere).
pub fn locate(
    env: &dyn Fn(&str) -> Option<String>,
    is_file: &dyn Fn(&Path) -> bool,
) -> Result<Msvc, MsvcError> {
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let pair = |dir: &Path, source: &'static str, hint: &'static str| -> Result<Msvc, MsvcError> {
        let cl = dir.join("cl.exe");
        let link = dir.join("link.exe");
        let missing: Vec<&str> = [("cl.exe", &cl), ("link.exe", &link)]
            .iter()
            .filter(|(_, p)| !is_file(p))
            .map(|(n, _)| *n)
            .collect();
        if missing.is_empty() {
            Ok(Msvc { cl, link, source })
        } else {
            Err(MsvcError::Incomplete {
                source_name: source,
                dir: dir.to_path_buf(),
                missing: missing.join(" and "),
                hint,
            })
        }
    };
    if let Some(dir) = get(MSVC_BIN_ENV) {
        return pair(
            Path::new(dir.trim()),
            MSVC_BIN_ENV,
            "point it at MSVC's bin\\Hostx64\\x64 folder",
        );
    }
    if let Some(cxx) = get("CXX") {
        let p = PathBuf::from(cxx.trim());
        let is_cl = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case("cl.exe"));
        if is_cl && p.parent().is_some_and(|d| !d.as_os_str().is_empty()) {
            return pair(
                p.parent().expect("checked"),
                "CXX",
                "set CXX to the full path of MSVC's cl.exe, or unset it",
            );
        }
    }
    if let Some(tools) = get("VCToolsInstallDir") {
        let dir = Path::new(tools.trim())
            .join("bin")
            .join("Hostx64")
            .join("x64");
        return pair(
            &dir,
            "VCToolsInstallDir",
            "install the x64 C++ build tools of that Visual Studio",
        );
    }
    Err(MsvcError::NotFound)
}

/// `_MSC_VER` from cl.exe's banner, and the version text.
/// Ex) `Microsoft (R) C/C++ Optimizing Compiler Version 19.44.35211 for x64` → (1944, `19.44.35211`)
pub fn msc_ver_from_banner(banner: &str) -> Option<(u32, String)> {
    let after = banner.split("Version ").nth(1)?;
    let version = after.split_whitespace().next()?.to_string();
    let mut parts = version.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some((major * 100 + minor, version))
}

/// The `_MSC_VER` range nvcc accepts, from `crt/host_config.h`: the
/// `_MSC_VER < LO || _MSC_VER >= HI` guard. Ex) (1910, 1950)
pub fn nvcc_msc_range(host_config: &str) -> Option<(u32, u32)> {
    for line in host_config.lines() {
        let t: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
        let Some(rest) = t.split("_MSC_VER < ").nth(1) else {
            continue;
        };
        let lo: u32 = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()?;
        let hi_part = rest.split("_MSC_VER >= ").nth(1)?;
        let hi: u32 = hi_part
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()?;
        return Some((lo, hi));
    }
    None
}

/// `crt/host_config.h` among a toolkit's include folders.
pub fn find_host_config(include_dirs: &[PathBuf]) -> Option<PathBuf> {
    include_dirs
        .iter()
        .map(|d| d.join("crt").join("host_config.h"))
        .find(|p| p.is_file())
}

/// Fails when `banner`'s `_MSC_VER` is outside the range of `host_config`
/// (its text and path). An unreadable banner or guard passes: nvcc itself
/// then has the last word.
pub fn check_msc_ver(
    banner: &str,
    host_config_text: &str,
    host_config: &Path,
    cuda: &str,
) -> Result<Option<u32>, MsvcError> {
    let (Some((msc_ver, cl_version)), Some((lo, hi))) = (
        msc_ver_from_banner(banner),
        nvcc_msc_range(host_config_text),
    ) else {
        return Ok(None);
    };
    if msc_ver < lo || msc_ver >= hi {
        return Err(MsvcError::Unsupported {
            cl_version,
            msc_ver,
            cuda: cuda.to_string(),
            lo,
            hi,
            host_config: host_config.to_path_buf(),
        });
    }
    Ok(Some(msc_ver))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn files(list: &'static [&'static str]) -> impl Fn(&Path) -> bool {
        move |p| {
            let s = p.to_string_lossy().replace('\\', "/");
            list.iter().any(|f| s == *f)
        }
    }

    const VC: &str = "C:/VS/VC/Tools/MSVC/14.44.35207";
    const BIN: [&str; 2] = [
        "C:/VS/VC/Tools/MSVC/14.44.35207/bin/Hostx64/x64/cl.exe",
        "C:/VS/VC/Tools/MSVC/14.44.35207/bin/Hostx64/x64/link.exe",
    ];

    #[test]
    fn never_from_path() {
        // PATH holds Git's link.exe and a cl.exe: neither is used.
        let env = env_of(&[("PATH", "C:/Program Files/Git/usr/bin;C:/VS/bin")]);
        let is = files(&["C:/Program Files/Git/usr/bin/link.exe", "C:/VS/bin/cl.exe"]);
        assert_eq!(locate(&env, &is), Err(MsvcError::NotFound));
        assert!(MsvcError::NotFound
            .to_string()
            .contains("never taken from PATH"));
    }

    #[test]
    fn from_vc_tools_install_dir() {
        let env = env_of(&[("VCToolsInstallDir", "C:/VS/VC/Tools/MSVC/14.44.35207/")]);
        let m = locate(&env, &files(&BIN)).unwrap();
        assert_eq!(m.source, "VCToolsInstallDir");
        assert!(m
            .link
            .to_string_lossy()
            .replace('\\', "/")
            .ends_with("14.44.35207/bin/Hostx64/x64/link.exe"));
        assert!(m
            .cl
            .to_string_lossy()
            .replace('\\', "/")
            .ends_with("bin/Hostx64/x64/cl.exe"));
        let _ = VC;
    }

    #[test]
    fn override_and_cxx_come_first() {
        let env = env_of(&[
            (
                "ATTNFARM_MSVC_BIN",
                "C:/VS/VC/Tools/MSVC/14.44.35207/bin/Hostx64/x64",
            ),
            ("VCToolsInstallDir", "C:/elsewhere"),
        ]);
        assert_eq!(locate(&env, &files(&BIN)).unwrap().source, MSVC_BIN_ENV);
        let env = env_of(&[
            (
                "CXX",
                "C:/VS/VC/Tools/MSVC/14.44.35207/bin/Hostx64/x64/cl.exe",
            ),
            ("VCToolsInstallDir", "C:/elsewhere"),
        ]);
        assert_eq!(locate(&env, &files(&BIN)).unwrap().source, "CXX");
        // A bare `cl.exe` in CXX says nothing about where it is.
        let env = env_of(&[("CXX", "cl.exe"), ("VCToolsInstallDir", VC)]);
        assert_eq!(
            locate(&env, &files(&BIN)).unwrap().source,
            "VCToolsInstallDir"
        );
    }

    #[test]
    fn incomplete_folder_is_named() {
        let env = env_of(&[(
            "ATTNFARM_MSVC_BIN",
            "C:/VS/VC/Tools/MSVC/14.44.35207/bin/Hostx64/x64",
        )]);
        let e = locate(&env, &files(&BIN[..1])).unwrap_err().to_string();
        assert!(e.contains("lacks link.exe"), "{e}");
        assert!(e.starts_with("ATTNFARM_MSVC_BIN points at"), "{e}");
    }

    #[test]
    fn msc_ver_against_nvcc_range() {
        let banner = "Microsoft (R) C/C++ Optimizing Compiler Version 19.44.35211 for x64\nCopyright (C) Microsoft Corporation.  All rights reserved.\n";
        assert_eq!(
            msc_ver_from_banner(banner),
            Some((1944, "19.44.35211".into()))
        );
        let guard = "#if !defined(__NV_NO_HOST_COMPILER_CHECK)\n#if _MSC_VER < 1910 || _MSC_VER >= 1950\n#error -- unsupported Microsoft Visual Studio version! Only the versions between 2017 and 2022 (inclusive) are supported!\n";
        assert_eq!(nvcc_msc_range(guard), Some((1910, 1950)));
        let hc = Path::new("C:/tc/include/crt/host_config.h");
        assert_eq!(check_msc_ver(banner, guard, hc, "13.0"), Ok(Some(1944)));
        let vs2026 = "Microsoft (R) C/C++ Optimizing Compiler Version 19.50.35717 for x64";
        let e = check_msc_ver(vs2026, guard, hc, "13.0")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cl.exe 19.50.35717 (_MSC_VER 1950) is outside what CUDA 13.0's nvcc accepts (1910 <= _MSC_VER < 1950"), "{e}");
        // Unreadable inputs leave the verdict to nvcc.
        assert_eq!(check_msc_ver("garbage", guard, hc, "13.0"), Ok(None));
        assert_eq!(check_msc_ver(banner, "no guard here", hc, "13.0"), Ok(None));
    }
}
