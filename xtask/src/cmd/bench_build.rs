//! `cargo xtask bench-build`: time the farm against the per-variant rebuild
//! that existing wheel farms do. Not a test; writes docs/build-benchmark.md.
//!
//! In one run, with toolchains provisioned beforehand (not timed):
//! (a) cold farm build: empty object cache, kernels compiled once and shared;
//! (b) the same variants with the object cache disabled: every variant
//!     compiles its own kernels and bindings;
//! (c) a no-op re-run of (a): nothing changed, nothing compiles or links.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;

use super::build_matrix::{default_options, restrict_arches};
use super::{FilterArgs, MatrixArgs};
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

fn totals(o: &[Outcome]) -> (usize, usize, usize) {
    o.iter().fold((0, 0, 0), |(c, r, f), x| {
        (
            c + x.kernels_compiled,
            r + x.kernels_reused,
            f + usize::from(x.failed()),
        )
    })
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
        let ratio = a / b;
        let mut md = String::new();
        let cpu = fs_err::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arches = plan.variants[0]
            .arches
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let kernels = engine::Sources::read(&snapshot)?.kernels.len();
        let _ = writeln!(md, "# Build benchmark\n");
        let _ = writeln!(
            md,
            "Generated by `cargo xtask bench-build{}{}` (revision {}). \
             Toolchains were provisioned before timing ({provision_s:.1}s, not counted).\n",
            if self.arch.is_empty() {
                String::new()
            } else {
                format!(
                    " --arch {}",
                    self.arch
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            },
            self.jobs.map_or(String::new(), |j| format!(" -j {j}")),
            base.revision
        );
        let _ = writeln!(
            md,
            "- machine: {cpu}, {cores} cores, no GPU; {} parallel jobs",
            base.jobs
        );
        let _ = writeln!(
            md,
            "- variants: {}",
            plan.variants
                .iter()
                .map(|v| format!("`{}`", v.id))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            md,
            "- toolkit CUDA {}; arches {arches}{}; {kernels} kernel source(s)\n",
            plan.variants[0].toolkit,
            plan.variants[0]
                .ptx
                .map_or(String::new(), |p| format!(" + PTX {}", p.compute_name()))
        );
        let _ = writeln!(md, "| run | wall time | kernel objects compiled / reused |");
        let _ = writeln!(md, "|---|---:|---:|");
        for (label, secs, o) in [
            (
                "(a) cold farm build (kernels shared across torch versions)",
                a,
                &oa,
            ),
            (
                "(b) object cache disabled (kernels recompiled per variant)",
                b,
                &ob,
            ),
            ("(c) no-op re-run of (a)", c, &oc),
        ] {
            let (comp, reused, _) = totals(o);
            let _ = writeln!(md, "| {label} | {secs:.1} s | {comp} / {reused} |");
        }
        let _ = writeln!(
            md,
            "\n(a) / (b) = **{ratio:.2}** (target ≤ 0.45); (c) = **{c:.2} s** (target < 2 s).\n"
        );
        let _ = writeln!(
            md,
            "Per variant in (a):\n\n```\n{}```",
            engine::summary_table(&oa)
        );
        let _ = writeln!(
            md,
            "\nPer variant in (b):\n\n```\n{}```",
            engine::summary_table(&ob)
        );
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
