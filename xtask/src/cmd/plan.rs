//! `cargo xtask plan`: print the plan as a table, JSON, or a GitHub job matrix.

use std::io::Write;

use super::{FilterArgs, MatrixArgs};

/// Show every variant the matrix expands to (no I/O beyond reading the file).
#[derive(Debug, clap::Args)]
pub struct PlanCmd {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Print the full plan as JSON.
    #[arg(long, conflicts_with = "github_matrix")]
    pub json: bool,
    /// Print the object a workflow passes to `fromJSON` as its job matrix.
    #[arg(long)]
    pub github_matrix: bool,
}

impl PlanCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let m = self.matrix.load()?;
        let plan = self.filter.plan(&m)?;
        let mut out = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut out, &plan)?;
            writeln!(out)?;
        } else if self.github_matrix {
            serde_json::to_writer(&mut out, &plan.github_matrix())?;
            writeln!(out)?;
        } else {
            out.write_all(plan.table().as_bytes())?;
        }
        Ok(())
    }
}
