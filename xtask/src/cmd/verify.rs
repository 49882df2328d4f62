//! `cargo xtask verify`: load-test every built wheel under its own torch
//! (see [`crate::verify`]); prints the table, exits non-zero on a failure.

use std::path::PathBuf;

use anyhow::bail;

use super::{FilterArgs, MatrixArgs};
use crate::plan::{HostSupport, Plan};
use crate::platform::Platform;
use crate::progress::{Progress, Stderr};
use crate::toolchain::Cache;
use crate::verify::{self, Options};

/// Install each built wheel from the farm's index into a fresh environment
/// with its torch, import it and check its ops (no GPU needed).
#[derive(Debug, clap::Args)]
pub struct VerifyCmd {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The build output root holding wheels/.
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
    /// The interpreter the environments are made from.
    #[arg(long, default_value = if cfg!(windows) { "python" } else { "python3" })]
    pub python: String,
    /// Environments at once (torch installs are network- and disk-bound).
    #[arg(short = 'j', long, default_value_t = 2)]
    pub jobs: usize,
    /// Keep the environments (paths in the logs) for a closer look.
    #[arg(long)]
    pub keep_envs: bool,
}

/// Runs the load test over `plan` and prints the table; Err names the failures.
pub fn run_verify(
    plan: &Plan,
    full: &Plan,
    opts: &Options,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let outcomes = verify::verify(plan, full, opts, progress)?;
    print!("{}", verify::summary_table(&outcomes));
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.ok())
        .map(|o| format!("{} (torch {})", o.variant, o.torch))
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} load test(s) failed: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// Load-test units (variant × torch) among the buildable variants of a plan.
pub fn units(plan: &Plan) -> usize {
    plan.variants
        .iter()
        .filter(|v| v.host == HostSupport::Yes)
        .map(|v| v.load_test.len())
        .sum()
}

impl VerifyCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let m = self.matrix.load()?;
        let plan = self.filter.plan(&m)?;
        let full = Plan::from_matrix(&m, Platform::host());
        let progress = Stderr::new(units(&plan));
        let opts = Options {
            dist: self.out,
            python: self.python,
            cache: Cache::locate(),
            jobs: self.jobs,
            keep_envs: self.keep_envs,
        };
        progress.note(&format!(
            "load-testing {} wheel/torch pair(s), {} at a time; environments under {}",
            units(&plan),
            opts.jobs.max(1),
            opts.cache.root.join("verify").display()
        ));
        run_verify(&plan, &full, &opts, &progress)
    }
}
