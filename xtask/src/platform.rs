//! Platforms a variant targets and the wheel platform tags that describe them.
//!
//! Pure.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::versions::serde_via_str;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlatformError {
    #[error("unknown platform `{0}` (supported: linux_x86_64, linux_aarch64, win_amd64)")]
    Platform(String),
    #[error("`{0}` is not a platform tag this farm writes (expected e.g. `manylinux_2_28_x86_64`, `win_amd64`)")]
    Tag(String),
}

/// An operating system and CPU pair the farm builds for.
/// Ex) `linux_x86_64`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    LinuxX86_64,
    LinuxAarch64,
    WinAmd64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    Windows,
}

impl Platform {
    pub const ALL: [Platform; 3] = [
        Platform::LinuxX86_64,
        Platform::LinuxAarch64,
        Platform::WinAmd64,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Platform::LinuxX86_64 => "linux_x86_64",
            Platform::LinuxAarch64 => "linux_aarch64",
            Platform::WinAmd64 => "win_amd64",
        }
    }

    pub fn os(&self) -> Os {
        match self {
            Platform::LinuxX86_64 | Platform::LinuxAarch64 => Os::Linux,
            Platform::WinAmd64 => Os::Windows,
        }
    }

    /// The CPU name used in manylinux tags. Ex) `x86_64`
    pub fn cpu(&self) -> &'static str {
        match self {
            Platform::LinuxX86_64 => "x86_64",
            Platform::LinuxAarch64 => "aarch64",
            Platform::WinAmd64 => "amd64",
        }
    }

    /// The platform this program runs on, if the farm knows it.
    pub fn host() -> Option<Platform> {
        match (std::env::consts::OS, std::env::consts::ARCH) {
            ("linux", "x86_64") => Some(Platform::LinuxX86_64),
            ("linux", "aarch64") => Some(Platform::LinuxAarch64),
            ("windows", "x86_64") => Some(Platform::WinAmd64),
            _ => None,
        }
    }

    /// The name `uv pip install --python-platform` takes for this platform,
    /// given the manylinux floor to resolve wheels for.
    pub fn uv_python_platform(&self, glibc: (u32, u32)) -> String {
        match self {
            Platform::LinuxX86_64 | Platform::LinuxAarch64 => {
                format!("{}-manylinux_{}_{}", self.cpu(), glibc.0, glibc.1)
            }
            Platform::WinAmd64 => "x86_64-pc-windows-msvc".to_string(),
        }
    }

    /// File name of the extension library inside the wheel.
    pub fn library_name(&self) -> &'static str {
        match self.os() {
            Os::Linux => "_C.abi3.so",
            Os::Windows => "_C.pyd",
        }
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| PlatformError::Platform(s.to_string()))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The platform part of a wheel tag.
/// Ex) `manylinux_2_28_x86_64`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlatformTag {
    /// PEP 600: the wheel runs on any Linux with glibc ≥ major.minor.
    Manylinux {
        glibc_major: u32,
        glibc_minor: u32,
        cpu: String,
    },
    WinAmd64,
}

impl PlatformTag {
    pub fn manylinux(platform: Platform, glibc: (u32, u32)) -> Self {
        PlatformTag::Manylinux {
            glibc_major: glibc.0,
            glibc_minor: glibc.1,
            cpu: platform.cpu().to_string(),
        }
    }

    /// The platform this tag describes.
    pub fn platform(&self) -> Platform {
        match self {
            PlatformTag::Manylinux { cpu, .. } if cpu == "aarch64" => Platform::LinuxAarch64,
            PlatformTag::Manylinux { .. } => Platform::LinuxX86_64,
            PlatformTag::WinAmd64 => Platform::WinAmd64,
        }
    }

    pub fn glibc(&self) -> Option<(u32, u32)> {
        match self {
            PlatformTag::Manylinux {
                glibc_major,
                glibc_minor,
                ..
            } => Some((*glibc_major, *glibc_minor)),
            PlatformTag::WinAmd64 => None,
        }
    }
}

impl FromStr for PlatformTag {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PlatformError::Tag(s.to_string());
        if s == "win_amd64" {
            return Ok(PlatformTag::WinAmd64);
        }
        let rest = s.strip_prefix("manylinux_").ok_or_else(err)?;
        let mut parts = rest.splitn(3, '_');
        let (Some(a), Some(b), Some(cpu)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err());
        };
        let num = |x: &str| -> Result<u32, PlatformError> {
            if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            x.parse().map_err(|_| err())
        };
        if !matches!(cpu, "x86_64" | "aarch64") {
            return Err(err());
        }
        Ok(PlatformTag::Manylinux {
            glibc_major: num(a)?,
            glibc_minor: num(b)?,
            cpu: cpu.to_string(),
        })
    }
}

impl fmt::Display for PlatformTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformTag::Manylinux {
                glibc_major,
                glibc_minor,
                cpu,
            } => write!(f, "manylinux_{glibc_major}_{glibc_minor}_{cpu}"),
            PlatformTag::WinAmd64 => f.write_str("win_amd64"),
        }
    }
}

serde_via_str!(Platform, PlatformTag);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in ["linux_x86_64", "linux_aarch64", "win_amd64"] {
            assert_eq!(s.parse::<Platform>().unwrap().to_string(), s);
        }
        for s in [
            "manylinux_2_28_x86_64",
            "manylinux_2_17_aarch64",
            "manylinux_2_34_x86_64",
            "win_amd64",
        ] {
            assert_eq!(s.parse::<PlatformTag>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in ["linux", "win32", "macosx_11_0_arm64", "Linux_x86_64"] {
            assert!(s.parse::<Platform>().is_err(), "{s}");
        }
        for s in [
            "manylinux2014_x86_64",
            "manylinux_2_x86_64",
            "manylinux_2_28_i686",
            "linux_x86_64",
            "win32",
        ] {
            assert!(s.parse::<PlatformTag>().is_err(), "{s}");
        }
    }

    #[test]
    fn tag_knows_its_platform() {
        let t: PlatformTag = "manylinux_2_28_aarch64".parse().unwrap();
        assert_eq!(t.platform(), Platform::LinuxAarch64);
        assert_eq!(t.glibc(), Some((2, 28)));
        assert_eq!(
            PlatformTag::manylinux(Platform::LinuxX86_64, (2, 32)).to_string(),
            "manylinux_2_32_x86_64"
        );
    }
}
