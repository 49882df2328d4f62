//! The validated matrix: what `validate` builds from the raw shapes and
//! every later stage reads. Every value here has passed its check.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::names::PackageName;
use crate::platform::{GlibcVersion, Platform};
use crate::versions::{
    CudaVersion, PythonTag, RequiresPython, SmArch, TorchMinor, TorchRelease, Version,
};

/// Wheel metadata shared by every variant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Package {
    /// Normalised distribution name. Ex) `attnfarm`
    pub name: PackageName,
    /// Public version, without local label. Ex) `2026.1.0`
    pub version: Version,
    pub summary: String,
    /// SPDX license expression. Ex) `Apache-2.0`
    pub license: String,
    pub license_files: Vec<String>,
    pub readme: Option<String>,
    pub urls: BTreeMap<String, String>,
    /// Python tag of the stable-ABI floor (CPython 3.2 or newer). Ex) `cp39`
    pub abi3: PythonTag,
}

/// Where a torch build is downloaded from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum IndexSource {
    /// The installer's own default index (no URL written anywhere).
    Default,
    /// A named index from the matrix's `indexes` table.
    Named { name: String, url: String },
}

impl fmt::Display for IndexSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexSource::Default => f.write_str("default"),
            IndexSource::Named { name, .. } => f.write_str(name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSettings {
    pub platform: Platform,
    /// Linux only: the glibc floor of the manylinux tag. Ex) `2.28`
    pub manylinux: Option<GlibcVersion>,
    /// GitHub Actions runner label that builds this platform.
    pub runner: String,
    /// Container image the CI build runs in (Linux), pinned by the matrix.
    pub container: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolkit {
    pub cuda: CudaVersion,
    /// A composite toolkit: this CUDA version's back end (ptxas, runtime,
    /// CCCL) driven by a newer major's front end (nvcc, cicc, cudafe++,
    /// fatbinary). See `toolchain::composite`. Ex) `13.0` for a `12.8` toolkit
    pub frontend: Option<CudaVersion>,
    pub arches: Vec<SmArch>,
    pub ptx: Option<SmArch>,
    pub packages: BTreeMap<Platform, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorchEntry {
    pub version: TorchMinor,
    pub build: TorchRelease,
    pub cuda: CudaVersion,
    /// Checked to admit a CPython at or above the package's abi3 floor.
    /// Ex) `>=3.10`
    pub requires_python: RequiresPython,
    pub source: BTreeMap<Platform, IndexSource>,
}

/// A variant's one stable id: CUDA major, the torch it serves (a minor, or
/// `torchstable` and the stable floor), platform. Used in file names, cache
/// keys, CI job names and index paths.
/// Ex) `cu12-torch2.9-linux_x86_64`, `cu13-torchstable2.10-win_amd64`
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VariantId(String);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("`{0}` is not a variant id (expected e.g. `cu12-torch2.9-linux_x86_64`, `cu13-torchstable2.10-win_amd64`)")]
pub struct VariantIdError(String);

impl VariantId {
    /// A per-minor variant. Ex) `cu13-torch2.11-linux_x86_64`
    pub fn per_minor(cuda_major: u32, torch: TorchMinor, platform: Platform) -> Self {
        VariantId(format!("cu{cuda_major}-torch{torch}-{platform}"))
    }

    /// A stable variant: `torchstable` + the floor.
    /// Ex) `cu13-torchstable2.10-linux_x86_64` (torch 2.10 and every later one)
    pub fn stable(cuda_major: u32, floor: TorchMinor, platform: Platform) -> Self {
        VariantId(format!("cu{cuda_major}-torchstable{floor}-{platform}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for VariantId {
    type Err = VariantIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VariantIdError(s.to_string());
        let mut parts = s.splitn(3, '-');
        let (Some(cuda), Some(torch), Some(platform)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        let major: u32 = cuda
            .strip_prefix("cu")
            .filter(|m| {
                !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) && !m.starts_with('0')
            })
            .and_then(|m| m.parse().ok())
            .ok_or_else(err)?;
        let platform: Platform = platform.parse().map_err(|_| err())?;
        let id = if let Some(floor) = torch.strip_prefix("torchstable") {
            VariantId::stable(major, floor.parse().map_err(|_| err())?, platform)
        } else {
            let minor = torch.strip_prefix("torch").ok_or_else(err)?;
            VariantId::per_minor(major, minor.parse().map_err(|_| err())?, platform)
        };
        if id.0 != s {
            return Err(err());
        }
        Ok(id)
    }
}

// Debug-prints as the string does (`"cu12-torch2.9-linux_x86_64"`), as the
// id did when it was a `String`.
crate::versions::string_newtype!(VariantId);

/// Ids are file and folder names (logs, build trees, index paths).
impl AsRef<std::path::Path> for VariantId {
    fn as_ref(&self) -> &std::path::Path {
        self.0.as_ref()
    }
}

impl std::borrow::Borrow<str> for VariantId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<VariantId> for &str {
    fn eq(&self, other: &VariantId) -> bool {
        *self == other.0
    }
}

impl From<VariantId> for String {
    fn from(id: VariantId) -> String {
        id.0
    }
}

crate::versions::serde_via_str!(VariantId);

/// Which torch a variant serves: one minor (a per-minor wheel) or every
/// release from the stable floor on (a stable-ABI wheel). In `exclude`
/// entries, `torch: stable` names the stable variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TorchSel {
    Minor(TorchMinor),
    Stable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclude {
    pub torch: Option<TorchSel>,
    pub cuda: Option<u32>,
    pub platform: Option<Platform>,
}

impl Exclude {
    pub fn matches(&self, torch: TorchSel, cuda_major: u32, platform: Platform) -> bool {
        self.torch.is_none_or(|t| t == torch)
            && self.cuda.is_none_or(|c| c == cuda_major)
            && self.platform.is_none_or(|p| p == platform)
    }
}

/// The matrix's `stable` section: one stable-ABI wheel per CUDA major ×
/// platform that loads into every torch from `from` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stable {
    /// The floor: the oldest torch the stable wheels load into, and the torch
    /// whose headers they are compiled against. Ex) `2.10`
    pub from: TorchMinor,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Release {
    pub owner: String,
    pub repo: String,
    /// Tag pattern. Ex) `v{version}`
    pub tag: String,
    /// Base URL of the Pages site, with a trailing `/`.
    pub pages: String,
}

impl Release {
    pub fn tag_for(&self, version: &str) -> String {
        self.tag.replace("{version}", version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    /// How the file was named when loaded (for messages).
    pub file: String,
    pub package: Package,
    pub platforms: Vec<PlatformSettings>,
    pub toolkits: Vec<Toolkit>,
    pub torch: Vec<TorchEntry>,
    pub stable: Option<Stable>,
    pub exclude: Vec<Exclude>,
    pub release: Release,
}
impl Matrix {
    pub fn toolkit_for_major(&self, major: u32) -> Option<&Toolkit> {
        self.toolkits.iter().find(|t| t.cuda.major == major)
    }

    pub fn platform(&self, p: Platform) -> Option<&PlatformSettings> {
        self.platforms.iter().find(|s| s.platform == p)
    }

    /// Whether a torch minor gets its own per-minor wheel: every listed minor
    /// below the stable floor (all of them without a `stable` section).
    /// Minors at or above the floor are served by the stable wheels.
    pub fn has_per_minor_wheel(&self, minor: TorchMinor) -> bool {
        self.stable.is_none_or(|s| minor < s.from)
    }

    /// The torch entry a stable wheel for `cuda_major` is compiled against:
    /// the floor's entry built for that CUDA major if the matrix lists one,
    /// else the floor's first entry (the stable binding uses only torch's C
    /// shims and header-only code, which do not depend on torch's CUDA).
    pub fn stable_base(&self, cuda_major: u32) -> Option<&TorchEntry> {
        let floor = self.stable?.from;
        let mut at_floor = self.torch.iter().filter(|t| t.version == floor);
        let first = at_floor.clone().next();
        at_floor.find(|t| t.cuda.major == cuda_major).or(first)
    }

    /// The listed torch releases a variant is meant to load into, i.e. the
    /// ones to load-test it under: a per-minor variant's own entry; for a
    /// stable variant every entry from the floor on built for its CUDA major
    /// (a torch built for another CUDA major brings another CUDA runtime, and
    /// the import guard refuses it; list a build for this major to cover it).
    pub fn torches_served(&self, torch: TorchSel, cuda_major: u32) -> Vec<&TorchEntry> {
        self.torch
            .iter()
            .filter(|t| t.cuda.major == cuda_major)
            .filter(|t| match torch {
                TorchSel::Minor(m) => t.version == m,
                TorchSel::Stable => self.stable.is_some_and(|s| t.version >= s.from),
            })
            .collect()
    }

    /// Every (torch, CUDA major, platform) the matrix expands to before
    /// excludes: per-minor wheels, then the stable wheels (one per toolkit).
    pub fn candidates(&self) -> Vec<(TorchSel, u32, Platform)> {
        let mut out = Vec::new();
        for p in &self.platforms {
            for t in &self.torch {
                if self.has_per_minor_wheel(t.version) {
                    out.push((TorchSel::Minor(t.version), t.cuda.major, p.platform));
                }
            }
            if self.stable.is_some() {
                for tk in &self.toolkits {
                    out.push((TorchSel::Stable, tk.cuda.major, p.platform));
                }
            }
        }
        out
    }

    /// Whether an exclude entry removes this candidate.
    pub fn excluded(&self, torch: TorchSel, cuda_major: u32, platform: Platform) -> bool {
        self.exclude
            .iter()
            .any(|e| e.matches(torch, cuda_major, platform))
    }
}
