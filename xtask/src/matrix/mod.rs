//! `matrix.yaml`: parsing and validation into a typed [`Matrix`].
//!
//! Pure: [`Matrix::parse`] takes the file's text; [`Matrix::load`] is the one
//! convenience that reads it. Every rejection names the file, the line and
//! column, and the offending value; all semantic problems are reported
//! together, sorted by position.

mod locate;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::platform::Platform;
use crate::versions::{CudaVersion, SmArch, TorchMinor, TorchRelease};
pub use locate::Pos;
use locate::Positions;

/// The schema version this farm reads.
pub const SCHEMA: u32 = 1;

/// The oldest torch whose LibTorch stable ABI offers what the stable binding
/// (`bindings/csrc/stable/attention.cpp`) uses: `str` arguments, `empty` /
/// `new_zeros` with sizes and a device, `contiguous`, and the versioned
/// `torch_library_impl` all arrive in 2.10 (its header comment has the list).
pub const STABLE_ABI_MIN: TorchMinor = TorchMinor {
    major: 2,
    minor: 10,
};

/// One problem found in a matrix file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pos: Pos,
    pub message: String,
}

#[derive(Debug, Error)]
pub enum MatrixError {
    #[error("cannot read matrix {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

fn render_problems(file: &str, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "{file}:{}:{}: {}",
            p.pos.line, p.pos.col, p.message
        ));
    }
    out
}

// ---------------------------------------------------------------------------
// The file as written (serde shapes). Strings stay strings here so that a bad
// value is reported with its position by `validate`, not by serde.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    schema: u32,
    package: RawPackage,
    #[serde(default)]
    indexes: BTreeMap<String, String>,
    platforms: BTreeMap<String, RawPlatform>,
    toolkits: Vec<RawToolkit>,
    torch: Vec<RawTorch>,
    stable: Option<RawStable>,
    #[serde(default)]
    exclude: Vec<RawExclude>,
    release: RawRelease,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStable {
    from: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPackage {
    name: String,
    version: String,
    summary: String,
    license: String,
    #[serde(default)]
    license_files: Vec<String>,
    readme: Option<String>,
    #[serde(default)]
    urls: BTreeMap<String, String>,
    abi3: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    manylinux: Option<String>,
    runner: String,
    container: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolkit {
    cuda: String,
    /// Optional: a composite toolkit's front end (toolchain::composite).
    frontend: Option<String>,
    arches: Vec<String>,
    ptx: Option<String>,
    packages: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTorch {
    version: String,
    build: String,
    cuda: String,
    requires_python: String,
    source: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclude {
    torch: Option<String>,
    cuda: Option<u32>,
    platform: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    github: String,
    tag: String,
    pages: String,
}

// ---------------------------------------------------------------------------
// The validated matrix.

/// Wheel metadata shared by every variant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Package {
    /// Normalised distribution name. Ex) `attnfarm`
    pub name: String,
    /// Public version, without local label. Ex) `2026.1.0`
    pub version: String,
    pub summary: String,
    /// SPDX license expression. Ex) `Apache-2.0`
    pub license: String,
    pub license_files: Vec<String>,
    pub readme: Option<String>,
    pub urls: BTreeMap<String, String>,
    /// Python tag of the stable-ABI floor. Ex) `cp39`
    pub abi3: String,
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
    /// Linux only: the glibc floor, e.g. (2, 28).
    pub manylinux: Option<(u32, u32)>,
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
    pub requires_python: String,
    pub source: BTreeMap<Platform, IndexSource>,
}

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
    /// Reads and validates a matrix file.
    pub fn load(path: &Path) -> Result<Matrix, MatrixError> {
        let text = std::fs::read_to_string(path).map_err(|source| MatrixError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Matrix::parse(&path.display().to_string(), &text)
    }

    /// Validates matrix text; `file` is only used in messages.
    pub fn parse(file: &str, text: &str) -> Result<Matrix, MatrixError> {
        let invalid = |problems: Vec<Problem>| MatrixError::Invalid {
            file: file.to_string(),
            problems,
        };
        let raw: RawMatrix = serde_yaml::from_str(text).map_err(|e| {
            let pos = e
                .location()
                .map(|l| Pos {
                    line: l.line(),
                    col: l.column(),
                })
                .unwrap_or(Pos { line: 1, col: 1 });
            invalid(vec![Problem {
                pos,
                message: strip_location(&e.to_string()),
            }])
        })?;
        let positions = Positions::parse(text);
        let mut v = Validator {
            pos: &positions,
            problems: Vec::new(),
        };
        let matrix = v.matrix(file, raw);
        if v.problems.is_empty() {
            Ok(matrix.expect("no problems means a matrix"))
        } else {
            let mut problems = v.problems;
            problems.sort_by(|a, b| a.pos.cmp(&b.pos).then(a.message.cmp(&b.message)));
            problems.dedup();
            Err(invalid(problems))
        }
    }

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

/// serde_yaml appends " at line L column C"; we print the position first.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

struct Validator<'a> {
    pos: &'a Positions,
    problems: Vec<Problem>,
}

/// PEP 503 (see [`crate::names`]).
pub use crate::names::normalize as normalize_name;

/// Whether `v` is a public PEP 440 version in normalised form
/// (`N(.N)*[{a|b|rc}N][.postN][.devN]`).
pub fn is_canonical_public_version(v: &str) -> bool {
    let bytes = v.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize| -> bool {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start && (bytes[start] != b'0' || *i - start == 1)
    };
    if !num(&mut i) {
        return false;
    }
    while i < bytes.len() && bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        if !num(&mut i) {
            return false;
        }
    }
    for pre in ["rc", "a", "b"] {
        if v[i..].starts_with(pre) {
            i += pre.len();
            if !num(&mut i) {
                return false;
            }
            break;
        }
    }
    for (tag, _) in [(".post", 0), (".dev", 1)] {
        if v[i..].starts_with(tag) {
            i += tag.len();
            if !num(&mut i) {
                return false;
            }
        }
    }
    i == bytes.len()
}

fn parse_manylinux(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('_')?;
    let a: u32 = a.parse().ok()?;
    let b: u32 = b.parse().ok()?;
    (a == 2 && b >= 17).then_some((a, b))
}

fn is_requires_python(s: &str) -> bool {
    // A single lower bound on a 3.x release, as torch itself declares.
    s.strip_prefix(">=3.").is_some_and(|rest| {
        rest.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

impl Validator<'_> {
    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            pos,
            message: message.into(),
        });
    }

    fn at(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.pos.get(path);
        self.err(pos, format!("{path}: {}", message.into()));
    }

    fn at_key(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.pos.key(path);
        self.err(pos, format!("{path}: {}", message.into()));
    }

    fn parse<T: std::str::FromStr>(&mut self, path: &str, s: &str) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        match s.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.at(path, e.to_string());
                None
            }
        }
    }

    fn platform_key(&mut self, path: &str, s: &str) -> Option<Platform> {
        match s.parse::<Platform>() {
            Ok(p) => Some(p),
            Err(e) => {
                self.at_key(path, e.to_string());
                None
            }
        }
    }

    fn matrix(&mut self, file: &str, raw: RawMatrix) -> Option<Matrix> {
        if raw.schema != SCHEMA {
            self.at(
                "schema",
                format!(
                    "unsupported schema `{}` (this farm reads schema {SCHEMA})",
                    raw.schema
                ),
            );
        }
        let package = self.package(raw.package);
        let indexes = self.indexes(&raw.indexes);
        let platforms = self.platforms(&raw.platforms);
        let toolkits = self.toolkits(&raw.toolkits, &platforms);
        let torch = self.torch(&raw.torch, &toolkits, &platforms, &indexes);
        let stable = raw.stable.as_ref().and_then(|s| self.stable(s, &torch));
        let exclude = self.excludes(&raw.exclude);
        let release = self.release(&raw.release);

        // Excludes must each remove something, and something must remain.
        let draft = Matrix {
            file: file.to_string(),
            package: package.clone()?,
            platforms: platforms.clone(),
            toolkits: toolkits.clone(),
            torch: torch.clone(),
            stable,
            exclude: exclude.clone(),
            release: release.clone()?,
        };
        let mut remaining = 0;
        let mut used = vec![false; exclude.len()];
        let mut composite_reported = BTreeSet::new();
        for (sel, major, p) in draft.candidates() {
            let hit = exclude
                .iter()
                .enumerate()
                .filter(|(_, e)| e.matches(sel, major, p))
                .map(|(i, _)| i)
                .collect::<Vec<_>>();
            if hit.is_empty() {
                remaining += 1;
                let composite = toolkits
                    .iter()
                    .find(|k| k.cuda.major == major && k.frontend.is_some());
                if let (Some(k), crate::platform::Os::Windows) = (composite, p.os()) {
                    if composite_reported.insert((major, p)) {
                        self.at(
                            "exclude",
                            format!(
                                "CUDA {major} variants on {p} would use the composite CUDA {} toolkit (front end {}), which is Linux-only: add `{{cuda: {major}, platform: {p}}}` to exclude (see docs/toolchains.md)",
                                k.cuda,
                                k.frontend.map(|f| f.to_string()).unwrap_or_default(),
                            ),
                        );
                    }
                }
            }
            for i in hit {
                used[i] = true;
            }
        }
        if self.problems.is_empty() {
            for (i, u) in used.iter().enumerate() {
                if !u {
                    self.at(
                        &format!("exclude[{i}]"),
                        "this exclude matches no variant (remove it, or fix its torch/cuda/platform)",
                    );
                }
            }
            if remaining == 0 {
                self.at(
                    "exclude",
                    "the matrix is empty after excludes: no variant is left to build",
                );
            }
        }
        Some(draft)
    }

    fn stable(&mut self, raw: &RawStable, torch: &[TorchEntry]) -> Option<Stable> {
        let from = self.parse::<TorchMinor>("stable.from", &raw.from)?;
        if from < STABLE_ABI_MIN {
            self.at(
                "stable.from",
                format!(
                    "the stable binding needs torch {STABLE_ABI_MIN} or newer (its LibTorch stable ABI first offers what the op uses; see bindings/csrc/stable/attention.cpp), got `{from}`"
                ),
            );
            return None;
        }
        if !torch.iter().any(|t| t.version == from) {
            let listed = torch
                .iter()
                .map(|t| t.version.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            self.at(
                "stable.from",
                format!("torch `{from}` is not listed under `torch` (the stable wheels are compiled against the floor's entry; listed: {listed})"),
            );
            return None;
        }
        Some(Stable { from })
    }

    fn package(&mut self, raw: RawPackage) -> Option<Package> {
        let name = normalize_name(&raw.name);
        let mut ok = true;
        if name.is_empty()
            || name.starts_with('-')
            || name.ends_with('-')
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            self.at(
                "package.name",
                format!("invalid distribution name `{}`", raw.name),
            );
            ok = false;
        }
        if raw.version.contains('+') {
            self.at(
                "package.version",
                format!(
                    "version `{}` has a local label; the farm adds `+cu<XY>torch<M>.<m>` itself",
                    raw.version
                ),
            );
            ok = false;
        } else if !is_canonical_public_version(&raw.version) {
            self.at(
                "package.version",
                format!(
                    "`{}` is not a normalised PEP 440 version (expected e.g. `2026.1.0`, `1.2rc1`, `1.2.post1`)",
                    raw.version
                ),
            );
            ok = false;
        }
        let abi_ok = raw
            .abi3
            .strip_prefix("cp3")
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m >= 2 && !raw.abi3.ends_with("t"));
        if !abi_ok {
            self.at(
                "package.abi3",
                format!(
                    "`{}` is not a stable-ABI floor (expected e.g. `cp39`)",
                    raw.abi3
                ),
            );
            ok = false;
        }
        for (label, url) in &raw.urls {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                self.at(
                    &format!("package.urls.{label}"),
                    format!("`{url}` is not an http(s) URL"),
                );
                ok = false;
            }
        }
        if raw.summary.contains('\n') {
            self.at("package.summary", "the summary must be one line");
            ok = false;
        }
        ok.then_some(Package {
            name,
            version: raw.version,
            summary: raw.summary,
            license: raw.license,
            license_files: raw.license_files,
            readme: raw.readme,
            urls: raw.urls,
            abi3: raw.abi3,
        })
    }

    fn indexes(&mut self, raw: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (name, url) in raw {
            let path = format!("indexes.{name}");
            if name == "default" {
                self.at_key(
                    &path,
                    "`default` names the installer's own default index and cannot be redefined",
                );
            } else if !(url.starts_with("https://")
                || url.starts_with("http://")
                || url.starts_with("file://"))
            {
                self.at(
                    &path,
                    format!("index `{name}` has URL `{url}`, which is not http(s):// or file://"),
                );
            } else {
                out.insert(name.clone(), url.trim_end_matches('/').to_string());
            }
        }
        out
    }

    fn platforms(&mut self, raw: &BTreeMap<String, RawPlatform>) -> Vec<PlatformSettings> {
        let mut out = Vec::new();
        if raw.is_empty() {
            self.at("platforms", "no platforms are listed");
        }
        for (name, settings) in raw {
            let path = format!("platforms.{name}");
            let Some(platform) = self.platform_key(&path, name) else {
                continue;
            };
            let manylinux = match (&settings.manylinux, platform.os()) {
                (Some(m), crate::platform::Os::Linux) => match parse_manylinux(m) {
                    Some(v) => Some(v),
                    None => {
                        self.at(
                            &format!("{path}.manylinux"),
                            format!("`{m}` is not a manylinux glibc floor (expected e.g. \"2_28\", at least \"2_17\")"),
                        );
                        None
                    }
                },
                (None, crate::platform::Os::Linux) => {
                    self.at(
                        &path,
                        format!("{name} needs a `manylinux` floor (e.g. \"2_28\")"),
                    );
                    None
                }
                (Some(_), crate::platform::Os::Windows) => {
                    self.at(
                        &format!("{path}.manylinux"),
                        format!("`manylinux` does not apply to {name}"),
                    );
                    None
                }
                (None, crate::platform::Os::Windows) => None,
            };
            if settings.runner.trim().is_empty() {
                self.at(&format!("{path}.runner"), "the runner label is empty");
            }
            out.push(PlatformSettings {
                platform,
                manylinux,
                runner: settings.runner.clone(),
                container: settings.container.clone(),
            });
        }
        out
    }

    fn toolkits(&mut self, raw: &[RawToolkit], platforms: &[PlatformSettings]) -> Vec<Toolkit> {
        let mut out: Vec<Toolkit> = Vec::new();
        if raw.is_empty() {
            self.at("toolkits", "no CUDA toolkits are listed");
        }
        for (i, t) in raw.iter().enumerate() {
            let path = format!("toolkits[{i}]");
            let Some(cuda) = self.parse::<CudaVersion>(&format!("{path}.cuda"), &t.cuda) else {
                continue;
            };
            if let Some(prev) = out.iter().find(|o| o.cuda.major == cuda.major) {
                self.at(
                    &format!("{path}.cuda"),
                    format!(
                        "a second toolkit for CUDA major {} (`{cuda}`; `{}` is already listed): variants are keyed by CUDA major, list one toolkit per major",
                        cuda.major, prev.cuda
                    ),
                );
                continue;
            }
            let frontend = t.frontend.as_ref().and_then(|f| {
                let fpath = format!("{path}.frontend");
                let fe = self.parse::<CudaVersion>(&fpath, f)?;
                // Which pairs have a known PTX ISA mapping is checked when the
                // toolkit is provisioned (toolchain::composite::Recipe).
                if fe.major <= cuda.major {
                    self.at(
                        &fpath,
                        format!("front end CUDA {fe} is not a newer major than the toolkit's CUDA {cuda}: a composite toolkit pairs CUDA {cuda}'s back end with a newer compiler front end"),
                    );
                    return None;
                }
                for (j, a) in t.arches.iter().enumerate() {
                    if let Ok(arch) = a.parse::<SmArch>() {
                        if arch.supported_by(cuda) && !arch.supported_by(fe) {
                            self.at(
                                &format!("{path}.arches[{j}]"),
                                format!(
                                    "arch `{arch}` is not supported by the front end CUDA {fe}"
                                ),
                            );
                        }
                    }
                }
                Some(fe)
            });
            let mut arches = Vec::new();
            if t.arches.is_empty() {
                self.at(
                    &format!("{path}.arches"),
                    format!("toolkit CUDA {cuda} lists no arches"),
                );
            }
            for (j, a) in t.arches.iter().enumerate() {
                let apath = format!("{path}.arches[{j}]");
                let Some(arch) = self.parse::<SmArch>(&apath, a) else {
                    continue;
                };
                if !arch.supported_by(cuda) {
                    self.unsupported_arch(&apath, arch, cuda);
                } else if arches.contains(&arch) {
                    self.at(&apath, format!("arch `{arch}` is listed twice"));
                } else {
                    arches.push(arch);
                }
            }
            arches.sort();
            let ptx = t.ptx.as_ref().and_then(|p| {
                let ppath = format!("{path}.ptx");
                let arch = self.parse::<SmArch>(&ppath, p)?;
                if !arch.supported_by(cuda) {
                    self.unsupported_arch(&ppath, arch, cuda);
                    return None;
                }
                Some(arch)
            });
            let mut packages = BTreeMap::new();
            for (pname, list) in &t.packages {
                let ppath = format!("{path}.packages.{pname}");
                let Some(p) = self.platform_key(&ppath, pname) else {
                    continue;
                };
                if list.is_empty() {
                    self.at(&ppath, format!("no packages listed for CUDA {cuda} on {p}"));
                }
                for (k, req) in list.iter().enumerate() {
                    if !req.contains("==") {
                        self.at(
                            &format!("{ppath}[{k}]"),
                            format!("`{req}` is not pinned: write `name==version` so builds are reproducible"),
                        );
                    }
                }
                packages.insert(p, list.clone());
            }
            for s in platforms {
                // A composite toolkit is Linux-only (its front end is driven
                // through Linux paths and NVIDIA's CUDA 12 Windows runtime
                // wheel has no import library): it lists no Windows packages,
                // and every Windows variant of its major must be excluded
                // (checked with the excludes below).
                if t.frontend.is_some() && s.platform.os() == crate::platform::Os::Windows {
                    if packages.contains_key(&s.platform) {
                        self.at(
                            &format!("{path}.packages.{}", s.platform),
                            format!(
                                "toolkit CUDA {cuda} is a composite (front end {}), which is Linux-only: remove its {} packages and exclude {{cuda: {}, platform: {}}}",
                                frontend.map(|f| f.to_string()).unwrap_or_default(),
                                s.platform,
                                cuda.major,
                                s.platform
                            ),
                        );
                    }
                    continue;
                }
                if !packages.contains_key(&s.platform) {
                    self.at(
                        &format!("{path}.packages"),
                        format!(
                            "toolkit CUDA {cuda} has no packages for platform {}",
                            s.platform
                        ),
                    );
                }
            }
            out.push(Toolkit {
                cuda,
                frontend,
                arches,
                ptx,
                packages,
            });
        }
        out
    }

    fn unsupported_arch(&mut self, path: &str, arch: SmArch, cuda: CudaVersion) {
        let list = SmArch::supported_list(cuda)
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        self.at(
            path,
            format!("unknown arch `{arch}` for CUDA {cuda} (supported: {list})"),
        );
    }

    fn torch(
        &mut self,
        raw: &[RawTorch],
        toolkits: &[Toolkit],
        platforms: &[PlatformSettings],
        indexes: &BTreeMap<String, String>,
    ) -> Vec<TorchEntry> {
        let mut out: Vec<TorchEntry> = Vec::new();
        let mut seen = BTreeSet::new();
        if raw.is_empty() {
            self.at("torch", "no torch releases are listed");
        }
        for (i, t) in raw.iter().enumerate() {
            let path = format!("torch[{i}]");
            let version = self.parse::<TorchMinor>(&format!("{path}.version"), &t.version);
            let build = self.parse::<TorchRelease>(&format!("{path}.build"), &t.build);
            let cuda = self.parse::<CudaVersion>(&format!("{path}.cuda"), &t.cuda);
            if !is_requires_python(&t.requires_python) {
                self.at(
                    &format!("{path}.requires_python"),
                    format!(
                        "`{}` is not a Requires-Python floor (expected e.g. `>=3.10`)",
                        t.requires_python
                    ),
                );
            }
            let (Some(version), Some(build), Some(cuda)) = (version, build, cuda) else {
                continue;
            };
            if build.minor_line() != version {
                self.at(
                    &format!("{path}.build"),
                    format!("build `{build}` is not a release of torch {version}"),
                );
            }
            if !toolkits.iter().any(|tk| tk.cuda.major == cuda.major) {
                let have = toolkits
                    .iter()
                    .map(|tk| tk.cuda.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                self.at(
                    &format!("{path}.cuda"),
                    format!("torch {version} is built for CUDA {cuda} but no toolkit serves CUDA major {} (toolkits: {have})", cuda.major),
                );
            }
            if !seen.insert((version, cuda.major)) {
                self.at(
                    &format!("{path}.version"),
                    format!(
                        "duplicate variant: torch {version} with CUDA {} is listed twice",
                        cuda.major
                    ),
                );
                continue;
            }
            let mut source = BTreeMap::new();
            for (pname, idx) in &t.source {
                let spath = format!("{path}.source.{pname}");
                let Some(p) = self.platform_key(&spath, pname) else {
                    continue;
                };
                if idx == "default" {
                    source.insert(p, IndexSource::Default);
                } else if let Some(url) = indexes.get(idx) {
                    source.insert(
                        p,
                        IndexSource::Named {
                            name: idx.clone(),
                            url: url.clone(),
                        },
                    );
                } else {
                    let names = std::iter::once("default".to_string())
                        .chain(indexes.keys().cloned())
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.at(&spath, format!("unknown index `{idx}` (defined: {names})"));
                }
            }
            for s in platforms {
                if !t.source.contains_key(s.platform.as_str()) {
                    self.at(
                        &format!("{path}.source"),
                        format!(
                            "torch {version} has no source for platform {} (add one, or exclude {{torch: \"{version}\", platform: {}}})",
                            s.platform, s.platform
                        ),
                    );
                }
            }
            out.push(TorchEntry {
                version,
                build,
                cuda,
                requires_python: t.requires_python.clone(),
                source,
            });
        }
        out
    }

    fn excludes(&mut self, raw: &[RawExclude]) -> Vec<Exclude> {
        let mut out = Vec::new();
        for (i, e) in raw.iter().enumerate() {
            let path = format!("exclude[{i}]");
            if e.torch.is_none() && e.cuda.is_none() && e.platform.is_none() {
                self.at(
                    &path,
                    "an exclude needs at least one of torch, cuda, platform",
                );
                continue;
            }
            let torch = match &e.torch {
                Some(t) if t == "stable" => Some(TorchSel::Stable),
                Some(t) => match self.parse::<TorchMinor>(&format!("{path}.torch"), t) {
                    Some(v) => Some(TorchSel::Minor(v)),
                    None => continue,
                },
                None => None,
            };
            let platform = match &e.platform {
                Some(p) => match p.parse::<Platform>() {
                    Ok(v) => Some(v),
                    Err(err) => {
                        self.at(&format!("{path}.platform"), err.to_string());
                        continue;
                    }
                },
                None => None,
            };
            out.push(Exclude {
                torch,
                cuda: e.cuda,
                platform,
            });
        }
        out
    }

    fn release(&mut self, raw: &RawRelease) -> Option<Release> {
        let mut ok = true;
        let parts: Vec<&str> = raw.github.split('/').collect();
        let valid_part = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if parts.len() != 2 || !parts.iter().all(|p| valid_part(p)) {
            self.at(
                "release.github",
                format!("`{}` is not OWNER/REPO", raw.github),
            );
            ok = false;
        }
        if raw.tag.is_empty() || raw.tag.contains(char::is_whitespace) {
            self.at(
                "release.tag",
                format!("`{}` is not a usable tag pattern", raw.tag),
            );
            ok = false;
        }
        if !(raw.pages.starts_with("https://") || raw.pages.starts_with("http://")) {
            self.at(
                "release.pages",
                format!("`{}` is not an http(s) URL", raw.pages),
            );
            ok = false;
        }
        let pages = if raw.pages.ends_with('/') {
            raw.pages.clone()
        } else {
            format!("{}/", raw.pages)
        };
        ok.then(|| Release {
            owner: parts[0].to_string(),
            repo: parts[1].to_string(),
            tag: raw.tag.clone(),
            pages,
        })
    }
}

#[cfg(test)]
mod tests;
