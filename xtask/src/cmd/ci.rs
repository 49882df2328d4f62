//! `cargo xtask ci [--check]`: write (or check) `.github/workflows/` from the plan.

use std::path::PathBuf;

use anyhow::{bail, Context};

use super::MatrixArgs;
use crate::ci::workflows;
use crate::plan::Plan;

/// Generate the GitHub Actions workflows from matrix.yaml.
#[derive(Debug, clap::Args)]
pub struct CiCmd {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Fail if the committed workflows differ from what would be generated.
    #[arg(long)]
    pub check: bool,
    /// Repository root the workflow paths are relative to.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

impl CiCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let m = self.matrix.load()?;
        let plan = Plan::from_matrix(&m, None);
        let mut stale = Vec::new();
        for g in workflows(&plan)? {
            let path = self.root.join(g.path);
            let current = fs_err::read_to_string(&path).ok();
            if current.as_deref() == Some(g.text.as_str()) {
                continue;
            }
            if self.check {
                stale.push(g.path);
                continue;
            }
            let dir = path.parent().context("workflow path has a parent")?;
            fs_err::create_dir_all(dir)?;
            let tmp = dir.join(format!(".{}.tmp", std::process::id()));
            fs_err::write(&tmp, &g.text)?;
            fs_err::rename(&tmp, &path)?;
            eprintln!("wrote {}", g.path);
        }
        if !stale.is_empty() {
            bail!(
                "{} out of date with {} and the generator: run `cargo xtask ci` and commit the result",
                stale.join(", "),
                self.matrix.matrix.display()
            );
        }
        Ok(())
    }
}
