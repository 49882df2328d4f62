//! `cargo xtask build-matrix`: build every variant of the plan this host can
//! build, then write the index.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{FilterArgs, MatrixArgs};
use crate::engine::{self, Options, Outcome, ToolchainMode};
use crate::index::BaseUrl;
use crate::matrix::Matrix;
use crate::plan::{HostSupport, Plan, Variant};
use crate::platform::{GlibcVersion, Platform, PlatformTag};
use crate::progress::{Progress, Stderr};
use crate::toolchain::{ambient, Cache};
use crate::versions::SmArch;
use crate::wheel::filename::WheelFilename;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ToolchainKind {
    /// Toolkit and torch wheels provisioned into the cache (default).
    Hermetic,
    /// The torch of `--python` and the CUDA at CUDA_HOME / on PATH.
    Ambient,
}

/// Compile, link, audit and package every buildable variant; write the index.
#[derive(Debug, clap::Args)]
pub struct BuildMatrixCmd {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Parallel compile/link jobs (default: the number of cores).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value = "hermetic")]
    pub toolchain: ToolchainKind,
    /// The Python whose torch an ambient build uses.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Restrict the SASS arch set (and drop PTX) for a quick build, e.g.
    /// `--arch sm_90`; recorded in `_build_info.SASS_ARCHES`.
    #[arg(long, value_delimiter = ',')]
    pub arch: Vec<SmArch>,
    /// Output root (wheels/, logs/, index/).
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
    /// Compile every object per variant, ignoring and not filling the cache.
    #[arg(long)]
    pub no_object_cache: bool,
    /// Where the index's links point (see `cargo xtask index`).
    #[arg(long, value_enum, default_value = "local")]
    pub index_base: BaseUrl,
    /// Do not write the index at the end.
    #[arg(long)]
    pub no_index: bool,
    /// Then load-test every wheel built (see `cargo xtask verify`).
    #[arg(long)]
    pub verify: bool,
    /// `--verify`: environments set up at once.
    #[arg(long, default_value_t = 2)]
    pub verify_jobs: usize,
}

/// Zip timestamps: SOURCE_DATE_EPOCH, else the commit time, else 1980-01-01.
pub fn epoch(repo: &Path) -> u64 {
    crate::wheel::source_date_epoch()
        .or_else(|| engine::git_commit_time(repo))
        .unwrap_or(315_532_800)
}

/// `--arch`: every arch must be one the variant's toolkit can compile.
pub fn restrict_arches(v: &mut Variant, arches: &[SmArch]) -> anyhow::Result<()> {
    if arches.is_empty() {
        return Ok(());
    }
    for a in arches {
        if !a.supported_by(v.toolkit) {
            bail!(
                "--arch {a}: CUDA {} cannot compile it for {} (supported: {})",
                v.toolkit,
                v.id,
                SmArch::supported_list(v.toolkit)
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    v.arches = arches.to_vec();
    v.ptx = None;
    Ok(())
}

/// This host's glibc version (`getconf GNU_LIBC_VERSION` → `glibc 2.39`).
fn host_glibc() -> Option<GlibcVersion> {
    let sh = xshell::Shell::new().ok()?;
    let out = sh
        .cmd("getconf")
        .arg("GNU_LIBC_VERSION")
        .quiet()
        .read()
        .ok()?;
    parse_glibc_version(&out)
}

/// Ex) `glibc 2.39` → 2.39
fn parse_glibc_version(text: &str) -> Option<GlibcVersion> {
    let v = text.trim().strip_prefix("glibc ")?;
    let mut it = v.split('.');
    Some(GlibcVersion::new(
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

/// A build for this machine links against this machine's glibc: its floor
/// is the host's glibc, not the matrix's (which only a manylinux container
/// build can meet). The audit still derives and checks what the binary
/// really needs.
pub fn retag_for_host(v: &mut Variant, m: &Matrix, host: Platform, progress: &dyn Progress) {
    if let (Some(floor), Some(host_glibc)) = (v.platform_tag.glibc(), host_glibc()) {
        if host_glibc > floor {
            v.platform_tag = PlatformTag::manylinux(host, host_glibc);
            let version = v.wheel.version.clone();
            v.wheel = WheelFilename::abi3(
                &m.package.name,
                &version,
                m.package.abi3,
                v.platform_tag.clone(),
            );
            progress.note(&format!(
                "this host has glibc {host_glibc}, so the wheel is tagged {} (for this machine and newer ones)",
                v.platform_tag
            ));
        }
    }
}

/// Resolves the toolchain mode and the plan to build.
pub fn prepare(
    cmd_toolchain: ToolchainKind,
    python: &str,
    m: &Matrix,
    filter: &FilterArgs,
    arches: &[SmArch],
    progress: &dyn Progress,
) -> anyhow::Result<(Plan, ToolchainMode)> {
    let (mut plan, mode) = match cmd_toolchain {
        ToolchainKind::Hermetic => (filter.plan(m)?, ToolchainMode::Hermetic),
        ToolchainKind::Ambient => {
            let host =
                Platform::host().context("this host's platform is not one the farm builds on")?;
            let (tc, py) = ambient::discover(python, host)?;
            let mut v = crate::plan::ambient(
                m,
                host,
                &py.version,
                py.cuda.as_deref().unwrap_or(""),
                tc.cuda.version,
            )?;
            retag_for_host(&mut v, m, host, progress);
            progress.note(&format!(
                "ambient: torch {} at {}, nvcc {} → variant {} ({})",
                py.version,
                py.root.display(),
                tc.cuda.version,
                v.id,
                v.wheel
            ));
            let plan = Plan {
                package: m.package.clone(),
                release: m.release.clone(),
                variants: vec![v],
            };
            (plan, ToolchainMode::Ambient(Box::new(tc)))
        }
    };
    for v in &mut plan.variants {
        restrict_arches(v, arches)?;
    }
    Ok((plan, mode))
}

pub fn default_options(
    repo: &Path,
    out: &Path,
    jobs: Option<usize>,
    object_cache: bool,
) -> Options {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let windows = cfg!(windows);
    let env = |k: &str, d: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| d.to_string())
    };
    let cache = Cache::locate();
    Options {
        repo: repo.to_path_buf(),
        out: out.to_path_buf(),
        objects: cache.objects_dir(),
        cache,
        jobs: jobs.unwrap_or(cores).max(1),
        object_cache,
        epoch: epoch(repo),
        revision: engine::git_revision(repo),
        cxx: env("CXX", if windows { "cl.exe" } else { "g++" }),
        cc: env("CC", if windows { "cl.exe" } else { "gcc" }),
        link_exe: "link.exe".into(),
    }
}

impl BuildMatrixCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let m = self.matrix.load()?;
        let repo = self.matrix.repo_root();
        let buildable_note = Stderr::new(0);
        let (plan, mode) = prepare(
            self.toolchain,
            &self.python,
            &m,
            &self.filter,
            &self.arch,
            &buildable_note,
        )?;
        let total = plan
            .variants
            .iter()
            .filter(|v| v.host == HostSupport::Yes)
            .count();
        let progress = Stderr::new(total);
        let opts = default_options(&repo, &self.out, self.jobs, !self.no_object_cache);
        progress.note(&format!(
            "building {total} variant(s) with {} job(s); cache {}",
            opts.jobs,
            opts.cache.root.display()
        ));
        let outcomes: Vec<Outcome> = engine::build(&plan, &mode, &opts, &progress)?;
        print!("{}", engine::summary_table(&outcomes));
        let failed: Vec<&str> = outcomes
            .iter()
            .filter(|o| o.failed())
            .map(|o| o.id.as_str())
            .collect();
        if !self.no_index && outcomes.iter().any(|o| o.wheel.is_some()) {
            // The index covers every wheel in <out>/wheels that the full plan knows.
            let full = Plan::from_matrix(&m, Platform::host());
            let helper = repo.join("install/install.py");
            let helper = helper.is_file().then_some(helper);
            match crate::index::write_index(&full, &self.out, self.index_base, helper.as_deref()) {
                Ok(r) => progress.note(&format!("index written: {}", r.landing.display())),
                Err(e) => progress.note(&format!("index not written: {e}")),
            }
        }
        let verified = if self.verify {
            let mut built = plan.clone();
            built.variants.retain(|v| {
                outcomes
                    .iter()
                    .any(|o| o.id == v.id && o.wheel.is_some() && !o.failed())
            });
            if built.variants.is_empty() {
                progress.note("--verify: no wheel was built, nothing to load-test");
                Ok(())
            } else if super::verify::units(&built) == 0 {
                progress.note(
                    "--verify: an ambient build uses this Python's own torch; import it here \
                     (`python -m attnfarm`) instead of a load test in a fresh environment",
                );
                Ok(())
            } else {
                let full = Plan::from_matrix(&m, Platform::host());
                let vprogress = Stderr::new(super::verify::units(&built));
                let vopts = crate::verify::Options {
                    dist: self.out.clone(),
                    python: self.python.clone(),
                    cache: opts.cache.clone(),
                    jobs: self.verify_jobs,
                    keep_envs: false,
                };
                super::verify::run_verify(&built, &full, &vopts, &vprogress)
            }
        } else {
            Ok(())
        };
        if !failed.is_empty() {
            bail!("{} variant(s) failed: {}", failed.len(), failed.join(", "));
        }
        verified
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> Matrix {
        crate::testing::fixture_matrix()
    }

    #[test]
    fn parses_getconf_glibc() {
        assert_eq!(
            parse_glibc_version("glibc 2.39\n"),
            Some(GlibcVersion::new(2, 39))
        );
        assert_eq!(
            parse_glibc_version("glibc 2.36"),
            Some(GlibcVersion::new(2, 36))
        );
        assert_eq!(parse_glibc_version("musl"), None);
    }

    #[test]
    fn arch_override_is_checked() {
        let plan = Plan::from_matrix(&matrix(), Some(Platform::LinuxX86_64));
        let mut v = plan
            .find("cu13-torchstable2.10-linux_x86_64")
            .unwrap()
            .clone();
        restrict_arches(&mut v, &["sm_90".parse().unwrap()]).unwrap();
        assert_eq!(v.arches, ["sm_90".parse::<SmArch>().unwrap()]);
        assert_eq!(v.ptx, None);
        let err = restrict_arches(&mut v, &["sm_70".parse().unwrap()]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--arch sm_70: CUDA 13.0 cannot compile it"),
            "{err}"
        );
    }
}
