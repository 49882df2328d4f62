//! `cargo xtask bench-build`: time the farm against the per-variant rebuild
//! that existing wheel farms do. Not a test; writes docs/build-benchmark.md.
//!
//! In one run, with toolchains provisioned beforehand (not timed):
//! (a) cold farm build: empty object cache, kernels compiled once and shared;
//! (b) the same variants with the object cache disabled: every variant
//!     compiles its own kernels and bindings;
//! (c) a no-op re-run of (a): nothing changed, nothing compiles or links.
//!
//! The report is rendered by `engine::bench_report`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;

use super::build_matrix::{default_options, restrict_arches};
use super::{FilterArgs, MatrixArgs};
use crate::engine::bench_report::{self, BenchReport, BenchRun};
use crate::engine::{self, Outcome, Status, ToolchainMode};
use crate::progress::{Progress, Stderr};
use crate::versions::SmArch;

#[derive(Debug, clap::Args)]
pub struct BenchBuildCmd {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Variants to build (default: the cu12 variants for torch 2.8, 2.9 and the stable one).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cu12-torch2.8-linux_x86_64,cu12-torch2.9-linux_x86_64,cu12-torchstable2.10-linux_x86_64"
    )]
    pub only: Vec<String>,
    /// Restrict the arch set (same for every run).
    #[arg(long, value_delimiter = ',')]
    pub arch: Vec<SmArch>,
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Scratch directory for the runs' outputs and object caches.
    #[arg(long, default_value = "target/bench-build")]
    pub scratch: PathBuf,
    /// Write the results into this Markdown file.
    #[arg(long)]
    pub write: Option<PathBuf>,
}

impl BenchBuildCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let m = self.matrix.load()?;
        let repo = self.matrix.repo_root();
        let filter = FilterArgs {
            only: self.only.clone(),
            ..Default::default()
        };
        let mut plan = filter.plan(&m)?;
        for v in &mut plan.variants {
            restrict_arches(v, &self.arch)?;
        }
        let scratch = repo.join(&self.scratch);
        let _ = fs_err::remove_dir_all(&scratch);
        let progress = Stderr::new(plan.variants.len());
        // Build from a snapshot of the sources: others may be editing the
        // checkout, and (c) must see exactly what (a) built.
        let snapshot = scratch.join("src");
        for rel in ["kernels", "bindings/csrc", "bindings/python"] {
            copy_tree(&repo.join(rel), &snapshot.join(rel))?;
        }
        for f in m
            .package
            .license_files
            .iter()
            .chain(m.package.readme.iter())
        {
            if repo.join(f).is_file() {
                fs_err::create_dir_all(snapshot.join(f).parent().expect("relative path"))?;
                fs_err::copy(repo.join(f), snapshot.join(f))?;
            }
        }
        let mut base = default_options(&repo, &scratch.join("a"), self.jobs, true);
        base.repo = snapshot.clone();
        base.objects = scratch.join("objects");
        let t0 = Instant::now();
        let failures = engine::provision_only(&plan, &base, &progress);
        if !failures.is_empty() {
            bail!("provisioning failed: {failures:?}");
        }
        let provision_s = t0.elapsed().as_secs_f64();
        progress.note(&format!(
            "toolchains ready in {provision_s:.1}s (not counted)"
        ));

        let run = |opts: &engine::Options, label: &str| -> anyhow::Result<(f64, Vec<Outcome>)> {
            let progress = Stderr::new(plan.variants.len());
            progress.note(&format!("--- {label}"));
            let t = Instant::now();
            let o = engine::build(&plan, &ToolchainMode::Hermetic, opts, &progress)?;
            let s = t.elapsed().as_secs_f64();
            if o.iter().any(|x| x.failed()) {
                eprint!("{}", engine::summary_table(&o));
                bail!("{label}: a variant failed");
            }
            Ok((s, o))
        };
        let (a, oa) = run(&base, "(a) cold farm build, shared kernel objects")?;
        let mut b_opts = default_options(&repo, &scratch.join("b"), self.jobs, false);
        b_opts.repo = snapshot.clone();
        b_opts.objects = scratch.join("objects-unused");
        let (b, ob) = run(&b_opts, "(b) object cache disabled, kernels per variant")?;
        let (c, oc) = run(&base, "(c) no-op re-run of (a)")?;
        if !oc.iter().all(|o| o.status == Status::UpToDate) {
            bail!("(c) was not a no-op: {}", engine::summary_table(&oc));
        }
        let md = bench_report::render(&BenchReport {
            arch_flag: &self.arch,
            jobs_flag: self.jobs,
            jobs: base.jobs,
            revision: &base.revision,
            provision_s,
            cpu: &bench_report::host_cpu(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            variants: &plan.variants,
            kernel_sources: engine::Sources::read(&snapshot)?.kernels.len(),
            cold: BenchRun {
                seconds: a,
                outcomes: &oa,
            },
            uncached: BenchRun {
                seconds: b,
                outcomes: &ob,
            },
            noop: BenchRun {
                seconds: c,
                outcomes: &oc,
            },
        });
        print!("{md}");
        if let Some(path) = &self.write {
            fs_err::write(repo.join(path), &md)?;
            progress.note(&format!("wrote {}", path.display()));
        }
        Ok(())
    }
}

/// Copies a directory tree (plain files only; `__pycache__` skipped).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs_err::create_dir_all(to)?;
    for e in fs_err::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        if name == "__pycache__" {
            continue;
        }
        let ft = e.file_type()?;
        if ft.is_dir() {
            copy_tree(&e.path(), &to.join(&name))?;
        } else if ft.is_file() {
            fs_err::copy(e.path(), to.join(&name))?;
        }
    }
    Ok(())
}
