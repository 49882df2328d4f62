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
    #[error("unknown CPU architecture `{0}` (supported: x86_64, aarch64)")]
    Arch(String),
    #[error("`{0}` is not a glibc version (expected MAJOR.MINOR, e.g. `2.28`)")]
    Glibc(String),
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

    /// The CPU architecture. Ex) `x86_64` (also for `win_amd64`)
    pub fn arch(&self) -> Arch {
        match self {
            Platform::LinuxX86_64 | Platform::WinAmd64 => Arch::X86_64,
            Platform::LinuxAarch64 => Arch::Aarch64,
        }
    }

    /// The CPU name used in this platform's tags. Ex) `x86_64`, `amd64`
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
    pub fn uv_python_platform(&self, glibc: GlibcVersion) -> String {
        match self {
            Platform::LinuxX86_64 | Platform::LinuxAarch64 => {
                format!("{}-manylinux_{}_{}", self.cpu(), glibc.major, glibc.minor)
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

/// A CPU architecture a manylinux tag names. Ex) `x86_64`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    pub fn as_str(&self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

impl FromStr for Arch {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| PlatformError::Arch(s.to_string()))
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A glibc release, the floor a manylinux tag promises. Ex) `2.28`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion {
    pub major: u32,
    pub minor: u32,
}

impl GlibcVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        GlibcVersion { major, minor }
    }

    /// The floor of a manylinux tag as `matrix.yaml` writes it, at least
    /// manylinux_2_17 (PEP 600's oldest). Ex) `2_28`
    pub fn from_manylinux_floor(s: &str) -> Option<GlibcVersion> {
        let (a, b) = s.split_once('_')?;
        let a: u32 = a.parse().ok()?;
        let b: u32 = b.parse().ok()?;
        (a == 2 && b >= 17).then_some(GlibcVersion::new(a, b))
    }
}

impl From<(u32, u32)> for GlibcVersion {
    fn from((major, minor): (u32, u32)) -> Self {
        GlibcVersion { major, minor }
    }
}

impl FromStr for GlibcVersion {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PlatformError::Glibc(s.to_string());
        let (a, b) = s.split_once('.').ok_or_else(err)?;
        let num = |x: &str| -> Result<u32, PlatformError> {
            if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            x.parse().map_err(|_| err())
        };
        Ok(GlibcVersion::new(num(a)?, num(b)?))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The platform part of a wheel tag.
/// Ex) `manylinux_2_28_x86_64`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlatformTag {
    /// PEP 600: the wheel runs on any Linux with glibc ≥ `glibc` on `arch`.
    Manylinux {
        glibc: GlibcVersion,
        arch: Arch,
    },
    WinAmd64,
}

impl PlatformTag {
    /// The manylinux tag of a Linux platform.
    pub fn manylinux(platform: Platform, glibc: impl Into<GlibcVersion>) -> Self {
        PlatformTag::Manylinux {
            glibc: glibc.into(),
            arch: platform.arch(),
        }
    }

    /// The platform this tag describes.
    pub fn platform(&self) -> Platform {
        match self {
            PlatformTag::Manylinux {
                arch: Arch::X86_64, ..
            } => Platform::LinuxX86_64,
            PlatformTag::Manylinux {
                arch: Arch::Aarch64,
                ..
            } => Platform::LinuxAarch64,
            PlatformTag::WinAmd64 => Platform::WinAmd64,
        }
    }

    pub fn glibc(&self) -> Option<GlibcVersion> {
        match self {
            PlatformTag::Manylinux { glibc, .. } => Some(*glibc),
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
        let (Some(a), Some(b), Some(arch)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err());
        };
        let glibc = format!("{a}.{b}").parse().map_err(|_| err())?;
        let arch = arch.parse().map_err(|_| err())?;
        Ok(PlatformTag::Manylinux { glibc, arch })
    }
}

impl fmt::Display for PlatformTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformTag::Manylinux { glibc, arch } => {
                write!(f, "manylinux_{}_{}_{arch}", glibc.major, glibc.minor)
            }
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
        assert_eq!(t.glibc(), Some(GlibcVersion::new(2, 28)));
        assert_eq!(
            PlatformTag::manylinux(Platform::LinuxX86_64, GlibcVersion::new(2, 32)).to_string(),
            "manylinux_2_32_x86_64"
        );
        assert_eq!(
            "manylinux_2_34_x86_64"
                .parse::<PlatformTag>()
                .unwrap()
                .platform(),
            Platform::LinuxX86_64
        );
    }

    #[test]
    fn arches_and_glibc_versions_round_trip() {
        for s in ["x86_64", "aarch64"] {
            assert_eq!(s.parse::<Arch>().unwrap().to_string(), s);
        }
        for s in ["2.17", "2.28", "2.39"] {
            assert_eq!(s.parse::<GlibcVersion>().unwrap().to_string(), s);
        }
        for s in ["amd64", "i686", "arm64", ""] {
            assert!(s.parse::<Arch>().is_err(), "{s}");
        }
        for s in ["2", "2.", "2_28", "2.x", ".28"] {
            assert!(s.parse::<GlibcVersion>().is_err(), "{s}");
        }
        assert_eq!(
            GlibcVersion::from_manylinux_floor("2_28"),
            Some(GlibcVersion::new(2, 28))
        );
        assert_eq!(GlibcVersion::from_manylinux_floor("2_16"), None);
        assert_eq!(GlibcVersion::from_manylinux_floor("2.28"), None);
        assert!(GlibcVersion::new(2, 9) < GlibcVersion::new(2, 28));
    }
}
