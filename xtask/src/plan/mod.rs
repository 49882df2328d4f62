//! The plan: every variant the matrix asks for, with every name, tag, flag
//! and URL decided. Pure: computed from a [`Matrix`] and the host platform,
//! no I/O. Later stages only execute it; CI builds its job matrix from it.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

pub use crate::matrix::VariantId;
use crate::matrix::{IndexSource, Matrix, Package, Release, TorchSel};
use crate::platform::{GlibcVersion, Os, Platform, PlatformTag};
use crate::versions::{
    CudaVersion, LocalLabel, RequiresPython, SmArch, TorchMinor, TorchRelease, Version,
    VersionError,
};
use crate::wheel::filename::WheelFilename;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("`{0}` is not a shard (expected I/N with 1 <= I <= N, e.g. `2/4`)")]
    Shard(String),
    #[error("no variant matches the filters ({filters}); variants: {available}")]
    NothingSelected { filters: String, available: String },
    #[error("torch.__version__ `{version}` is not MAJOR.MINOR.PATCH")]
    AmbientTorch {
        version: String,
        source: VersionError,
    },
    #[error("torch.version.cuda `{version}`")]
    AmbientCuda {
        version: String,
        source: VersionError,
    },
}

/// The glibc floor a Linux variant assumes where the matrix names none for
/// its platform: an ambient variant synthesized for a platform the matrix
/// does not list, and the `--python-platform` of a tag without a glibc.
/// Ex) 2.28: `manylinux_2_28`
pub const DEFAULT_GLIBC_FLOOR: GlibcVersion = GlibcVersion::new(2, 28);

/// The SASS arches an ambient variant gets when the matrix has no toolkit
/// for its CUDA major (compute capability × 10); [`fallback_arches`] keeps
/// those the toolkit can compile.
pub const FALLBACK_ARCHES: [u32; 6] = [80, 86, 89, 90, 100, 120];

/// [`FALLBACK_ARCHES`] the toolkit can compile. Ex) CUDA 12.4: sm_80 … sm_90
pub fn fallback_arches(toolkit: CudaVersion) -> Vec<SmArch> {
    FALLBACK_ARCHES
        .into_iter()
        .map(SmArch::base)
        .filter(|a| a.supported_by(toolkit))
        .collect()
}

/// Whether (and why not) this host can build a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "buildable", content = "reason", rename_all = "lowercase")]
pub enum HostSupport {
    Yes,
    No(String),
}

/// Which torch a wheel loads into, and so which binding it is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VariantKind {
    /// `bindings/csrc/*.cpp` (ATen/c10 headers): loads only into the torch
    /// minor it was built against. Ex) id `cu12-torch2.9-linux_x86_64`
    PerMinor,
    /// `bindings/csrc/stable/*.cpp` (LibTorch stable ABI): loads into every
    /// torch from the floor (`Variant::torch`) on.
    /// Ex) id `cu13-torchstable2.10-linux_x86_64`
    Stable,
}

impl VariantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VariantKind::PerMinor => "per-minor",
            VariantKind::Stable => "stable",
        }
    }
}

/// One wheel to build. Ex) id `cu12-torch2.9-linux_x86_64`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    /// Stable id used in file names, cache keys, CI job names and index paths.
    pub id: VariantId,
    pub kind: VariantKind,
    pub platform: Platform,
    /// The platform tag the wheel is planned with; the audit checks the
    /// binary meets it.
    pub platform_tag: PlatformTag,
    /// Per-minor: the minor the wheel serves. Stable: the floor (the wheel
    /// serves this minor and every later one).
    pub torch: TorchMinor,
    pub torch_build: TorchRelease,
    /// The CUDA build of the torch release.
    pub torch_cuda: CudaVersion,
    pub torch_source: IndexSource,
    /// The toolkit the kernels are compiled with.
    pub toolkit: CudaVersion,
    /// A composite toolkit's front end (matrix `frontend`). Ex) `13.0`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toolkit_frontend: Option<CudaVersion>,
    pub toolkit_packages: Vec<String>,
    pub arches: Vec<SmArch>,
    pub ptx: Option<SmArch>,
    /// Full version with local label (the wheel file name's version).
    /// Ex) `2026.1.0+cu128torch2.9`
    pub version: Version,
    pub wheel: WheelFilename,
    pub requires_dist: Vec<String>,
    /// Ex) `>=3.10`
    pub requires_python: RequiresPython,
    pub host: HostSupport,
    /// GitHub Actions runner label for this platform (from the matrix).
    pub runner: String,
    /// Container image Linux builds run in (from the matrix).
    pub container: Option<String>,
    /// The torch releases `cargo xtask verify` installs the wheel under, one
    /// fresh environment each: a per-minor wheel only its own build; a stable
    /// wheel every listed release from the floor on built for its CUDA major
    /// (`Matrix::torches_served`).
    pub load_test: Vec<LoadTestTorch>,
}

/// One torch release a wheel is load-tested under, and where it comes from.
/// Ex) `torch==2.9.1` from the installer's default index
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadTestTorch {
    pub build: TorchRelease,
    /// The CUDA build of that release (what `torch.version.cuda` must say).
    pub cuda: CudaVersion,
    pub source: IndexSource,
}

impl Variant {
    pub fn cuda_major(&self) -> u32 {
        self.toolkit.major
    }

    pub fn is_stable(&self) -> bool {
        self.kind == VariantKind::Stable
    }

    /// The torch this variant serves, as `exclude` entries name it.
    pub fn torch_sel(&self) -> TorchSel {
        match self.kind {
            VariantKind::PerMinor => TorchSel::Minor(self.torch),
            VariantKind::Stable => TorchSel::Stable,
        }
    }

    /// The `--python-platform` uv resolves torch and toolkit wheels for.
    pub fn uv_platform(&self) -> String {
        self.platform
            .uv_python_platform(self.platform_tag.glibc().unwrap_or(DEFAULT_GLIBC_FLOOR))
    }
}

/// Everything the farm will do for one matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub package: Package,
    pub release: Release,
    pub variants: Vec<Variant>,
}

/// Variant id: CUDA major, torch minor, platform. Ex) `cu13-torch2.11-linux_x86_64`
pub fn variant_id(cuda_major: u32, torch: TorchMinor, platform: Platform) -> VariantId {
    VariantId::per_minor(cuda_major, torch, platform)
}

/// Stable variant id: CUDA major, `torchstable` + the floor, platform.
/// Ex) `cu13-torchstable2.10-linux_x86_64` (torch 2.10 and every later one)
pub fn stable_variant_id(cuda_major: u32, floor: TorchMinor, platform: Platform) -> VariantId {
    VariantId::stable(cuda_major, floor, platform)
}

/// Local version label naming the toolkit and torch minor. Ex) `cu128torch2.9`
pub fn local_label(toolkit: CudaVersion, torch: TorchMinor) -> LocalLabel {
    format!("cu{}torch{torch}", toolkit.compact())
        .parse()
        .expect("`cu<digits>torch<digits>.<digits>` is a local label")
}

/// Local version label of a stable wheel: the toolkit and the floor.
/// Ex) `cu130torchstable2.10`
pub fn stable_local_label(toolkit: CudaVersion, floor: TorchMinor) -> LocalLabel {
    format!("cu{}torchstable{floor}", toolkit.compact())
        .parse()
        .expect("`cu<digits>torchstable<digits>.<digits>` is a local label")
}

/// `Requires-Dist` of a stable wheel: the floor, no upper bound.
/// Ex) `torch>=2.10`
pub fn stable_requirement(floor: TorchMinor) -> String {
    format!("torch>={floor}")
}

impl Plan {
    /// Expands a validated matrix. `host` is the platform of the machine that
    /// will build (None: unknown, nothing is buildable).
    pub fn from_matrix(m: &Matrix, host: Option<Platform>) -> Plan {
        let mut variants = Vec::new();
        for (sel, major, platform) in m.candidates() {
            if m.excluded(sel, major, platform) {
                continue;
            }
            let settings = m
                .platform(platform)
                .expect("candidates come from platforms");
            let toolkit = m
                .toolkit_for_major(major)
                .expect("validated: every torch CUDA major has a toolkit");
            let (kind, t, id, label, requirement) = match sel {
                TorchSel::Minor(minor) => {
                    let t = m
                        .torch
                        .iter()
                        .find(|t| t.version == minor && t.cuda.major == major)
                        .expect("candidate from a torch entry");
                    (
                        VariantKind::PerMinor,
                        t,
                        variant_id(major, minor, platform),
                        local_label(toolkit.cuda, minor),
                        minor.requirement(),
                    )
                }
                TorchSel::Stable => {
                    let floor = m
                        .stable
                        .expect("stable candidates need a stable section")
                        .from;
                    let t = m
                        .stable_base(major)
                        .expect("validated: the floor is listed");
                    (
                        VariantKind::Stable,
                        t,
                        stable_variant_id(major, floor, platform),
                        stable_local_label(toolkit.cuda, floor),
                        stable_requirement(floor),
                    )
                }
            };
            let platform_tag = match platform.os() {
                Os::Linux => PlatformTag::manylinux(
                    platform,
                    settings.manylinux.expect("validated: linux has a floor"),
                ),
                Os::Windows => PlatformTag::WinAmd64,
            };
            let version = m.package.version.with_local(&label);
            let wheel = WheelFilename::abi3(
                &m.package.name,
                &version,
                m.package.abi3,
                platform_tag.clone(),
            );
            let host_support = match host {
                Some(h) if h == platform => HostSupport::Yes,
                Some(h) => HostSupport::No(format!("needs a {platform} host (this is {h})")),
                None => {
                    HostSupport::No("this host's platform is not one the farm builds on".into())
                }
            };
            variants.push(Variant {
                id,
                kind,
                platform,
                platform_tag,
                torch: t.version,
                torch_build: t.build,
                torch_cuda: t.cuda,
                torch_source: t.source[&platform].clone(),
                toolkit: toolkit.cuda,
                toolkit_frontend: toolkit.frontend,
                toolkit_packages: toolkit.packages[&platform].clone(),
                arches: toolkit.arches.clone(),
                ptx: toolkit.ptx,
                version,
                wheel,
                requires_dist: vec![requirement],
                requires_python: t.requires_python.clone(),
                host: host_support,
                runner: settings.runner.clone(),
                container: settings.container.clone(),
                load_test: m
                    .torches_served(sel, major)
                    .into_iter()
                    .map(|t| LoadTestTorch {
                        build: t.build,
                        cuda: t.cuda,
                        source: t.source[&platform].clone(),
                    })
                    .collect(),
            });
        }
        // A stable order that keeps one toolkit's variants together, so a
        // contiguous shard shares its kernel objects; a toolkit's stable
        // wheel after its per-minor ones.
        variants.sort_by(|a, b| {
            (a.platform, a.toolkit, a.kind, a.torch).cmp(&(b.platform, b.toolkit, b.kind, b.torch))
        });
        Plan {
            package: m.package.clone(),
            release: m.release.clone(),
            variants,
        }
    }

    /// Keeps the variants that pass every filter. Errors if none is left.
    pub fn select(mut self, filter: &Filter) -> Result<Plan, PlanError> {
        let available = self
            .variants
            .iter()
            .map(|v| v.id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        self.variants.retain(|v| {
            (filter.only.is_empty() || filter.only.iter().any(|g| glob_match(g, &v.id)))
                && filter.platform.is_none_or(|p| p == v.platform)
        });
        if let Some(shard) = filter.shard {
            self.variants = shard.take(std::mem::take(&mut self.variants));
        }
        if self.variants.is_empty() && !filter.allow_empty {
            return Err(PlanError::NothingSelected {
                filters: filter.to_string(),
                available,
            });
        }
        Ok(self)
    }

    pub fn find(&self, id: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.id == id)
    }
}

/// The one variant an ambient toolchain builds (the torch a Python has, the
/// toolkit at CUDA_HOME): the plan's per-minor variant for that torch minor
/// and CUDA major on `host`, else one synthesized from the matrix's package
/// settings ([`DEFAULT_GLIBC_FLOOR`] and [`fallback_arches`] where the matrix
/// has no platform or toolkit entry). Either way it is re-labelled with the
/// real toolkit (arches and PTX it cannot compile dropped), marked buildable,
/// and has no load test (the Python's own torch may be a local build no
/// index serves). The other constructor of [`Variant`] is [`Plan::from_matrix`].
///
/// `torch_version`: `torch.__version__`, Ex) `2.9.1+cu128`;
/// `torch_cuda`: `torch.version.cuda`, Ex) `12.8`.
pub fn ambient(
    m: &Matrix,
    host: Platform,
    torch_version: &str,
    torch_cuda: &str,
    toolkit: CudaVersion,
) -> Result<Variant, PlanError> {
    let public = torch_version.split('+').next().unwrap_or(torch_version);
    let build: TorchRelease = public.parse().map_err(|source| PlanError::AmbientTorch {
        version: torch_version.to_string(),
        source,
    })?;
    let minor = build.minor_line();
    let torch_cuda: CudaVersion = torch_cuda
        .parse()
        .map_err(|source| PlanError::AmbientCuda {
            version: torch_cuda.to_string(),
            source,
        })?;
    // Re-labelled with the real toolkit, whichever variant it starts from.
    let version = m.package.version.with_local(&local_label(toolkit, minor));
    let plan = Plan::from_matrix(m, Some(host));
    let found = plan
        .variants
        .iter()
        .find(|v| {
            // Ambient builds are for exactly the torch at hand: per-minor.
            v.kind == VariantKind::PerMinor
                && v.platform == host
                && v.torch == minor
                && v.toolkit.major == toolkit.major
        })
        .cloned();
    let mut v = match found {
        Some(v) => v,
        None => {
            let settings = m.platform(host);
            let platform_tag = match host.os() {
                Os::Linux => PlatformTag::manylinux(
                    host,
                    settings
                        .and_then(|s| s.manylinux)
                        .unwrap_or(DEFAULT_GLIBC_FLOOR),
                ),
                Os::Windows => PlatformTag::WinAmd64,
            };
            let tk = m.toolkit_for_major(toolkit.major);
            let arches = tk
                .map(|t| t.arches.clone())
                .unwrap_or_else(|| fallback_arches(toolkit));
            let requires_python = m
                .torch
                .iter()
                .find(|t| t.version == minor)
                .map(|t| t.requires_python.clone())
                .unwrap_or_else(|| RequiresPython::floor(m.package.abi3));
            Variant {
                id: variant_id(toolkit.major, minor, host),
                kind: VariantKind::PerMinor,
                platform: host,
                platform_tag: platform_tag.clone(),
                torch: minor,
                torch_build: build,
                torch_cuda,
                torch_source: IndexSource::Default,
                toolkit,
                toolkit_frontend: None,
                toolkit_packages: vec![],
                arches,
                ptx: tk.and_then(|t| t.ptx),
                version: version.clone(),
                wheel: WheelFilename::abi3(&m.package.name, &version, m.package.abi3, platform_tag),
                requires_dist: vec![minor.requirement()],
                requires_python,
                host: HostSupport::Yes,
                runner: settings.map(|s| s.runner.clone()).unwrap_or_default(),
                container: None,
                load_test: vec![],
            }
        }
    };
    v.torch_build = build;
    v.torch_cuda = torch_cuda;
    v.toolkit = toolkit;
    v.arches.retain(|a| a.supported_by(toolkit));
    v.ptx = v.ptx.filter(|p| p.supported_by(toolkit));
    v.wheel = WheelFilename::abi3(
        &m.package.name,
        &version,
        m.package.abi3,
        v.platform_tag.clone(),
    );
    v.version = version;
    v.host = HostSupport::Yes;
    v.load_test.clear();
    Ok(v)
}

/// `--only`, `--platform`, `--shard`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Ids or globs (`*`, `?`). Ex) `cu12-*-linux_x86_64`
    pub only: Vec<String>,
    pub platform: Option<Platform>,
    pub shard: Option<Shard>,
    /// An empty selection is fine (e.g. a shard beyond the variant count).
    pub allow_empty: bool,
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.only.is_empty() {
            parts.push(format!("--only {}", self.only.join(",")));
        }
        if let Some(p) = self.platform {
            parts.push(format!("--platform {p}"));
        }
        if let Some(s) = self.shard {
            parts.push(format!("--shard {s}"));
        }
        if parts.is_empty() {
            parts.push("none".into());
        }
        f.write_str(&parts.join(" "))
    }
}

/// Shard I of N (1-based): contiguous, balanced slices of the plan's order.
/// Ex) `2/4`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Sizes differ by at most one; earlier shards take the remainder.
    pub fn take<T>(&self, items: Vec<T>) -> Vec<T> {
        let n = items.len();
        let base = n / self.count;
        let extra = n % self.count;
        let i = self.index - 1;
        let start = i * base + i.min(extra);
        let len = base + usize::from(i < extra);
        items.into_iter().skip(start).take(len).collect()
    }
}

impl FromStr for Shard {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PlanError::Shard(s.to_string());
        let (a, b) = s.split_once('/').ok_or_else(err)?;
        let index: usize = a.parse().map_err(|_| err())?;
        let count: usize = b.parse().map_err(|_| err())?;
        if index == 0 || count == 0 || index > count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Shell-style glob: `*` any run, `?` one character. An id without
/// metacharacters matches only itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// One entry of the GitHub Actions job matrix.
#[derive(Debug, Serialize)]
pub struct GithubJob {
    pub id: VariantId,
    pub platform: Platform,
    /// The runner label the job needs.
    pub runner: String,
    /// The container Linux builds run in (empty for Windows).
    pub container: String,
    pub wheel: String,
}

#[derive(Debug, Serialize)]
pub struct GithubMatrix {
    pub include: Vec<GithubJob>,
}

impl Plan {
    /// The object a workflow passes to `fromJSON` as `strategy.matrix`.
    pub fn github_matrix(&self) -> GithubMatrix {
        GithubMatrix {
            include: self
                .variants
                .iter()
                .map(|v| GithubJob {
                    id: v.id.clone(),
                    platform: v.platform,
                    runner: v.runner.clone(),
                    container: v.container.clone().unwrap_or_default(),
                    wheel: v.wheel.to_string(),
                })
                .collect(),
        }
    }

    /// The human table `cargo xtask plan` prints.
    pub fn table(&self) -> String {
        let header = [
            "variant", "wheel", "toolkit", "torch", "source", "arches", "host",
        ];
        let rows: Vec<[String; 7]> = self
            .variants
            .iter()
            .map(|v| {
                let mut arches = v
                    .arches
                    .iter()
                    .map(|a| a.to_string().trim_start_matches("sm_").to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                if let Some(p) = v.ptx {
                    arches.push_str(&format!("+ptx{}", p.number));
                }
                [
                    v.id.to_string(),
                    v.wheel.to_string(),
                    v.toolkit.to_string(),
                    match v.kind {
                        VariantKind::PerMinor => {
                            format!("{} (cu{})", v.torch_build, v.torch_cuda.compact())
                        }
                        VariantKind::Stable => format!(
                            ">={} stable ABI (on {} cu{})",
                            v.torch,
                            v.torch_build,
                            v.torch_cuda.compact()
                        ),
                    },
                    v.torch_source.to_string(),
                    arches,
                    match &v.host {
                        HostSupport::Yes => "yes".into(),
                        HostSupport::No(why) => format!("no: {why}"),
                    },
                ]
            })
            .collect();
        let mut out = crate::table::render(header, &rows);
        out.push_str(&format!(
            "{} variant(s); {} buildable on this host\n",
            self.variants.len(),
            self.variants
                .iter()
                .filter(|v| v.host == HostSupport::Yes)
                .count()
        ));
        out
    }
}

#[cfg(test)]
mod tests;
