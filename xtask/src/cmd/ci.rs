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
    /// Also run shellcheck (it must be on PATH) on every bash `run:` script.
    #[arg(long)]
    pub shellcheck: bool,
    /// Repository root the workflow paths are relative to.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

impl CiCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let m = self.matrix.load()?;
        let plan = Plan::from_matrix(&m, None);
        let generated = workflows(&plan)?;
        let mut stale = Vec::new();
        for g in &generated {
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
            crate::fsx::write_atomic(&path, g.text.as_bytes())?;
            eprintln!("wrote {}", g.path);
        }
        if self.shellcheck {
            shellcheck(&generated)?;
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

/// shellcheck on every bash script of `generated`; all findings reported.
fn shellcheck(generated: &[crate::ci::Generated]) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("attnfarm-shellcheck-{}", std::process::id()));
    fs_err::create_dir_all(&dir)?;
    let mut findings = Vec::new();
    let mut count = 0;
    for g in generated {
        for (job, step, script) in crate::ci::bash_scripts(&g.text)? {
            count += 1;
            let file = dir.join(format!("{count}.sh"));
            fs_err::write(&file, &script)?;
            let out = std::process::Command::new("shellcheck")
                .args(["--shell=bash", "--format=gcc"])
                .arg(&file)
                .output()
                .context("running shellcheck (install it: apt-get install shellcheck)")?;
            if !out.status.success() {
                findings.push(format!(
                    "{} job {job}, `{step}`:\n{}",
                    g.path,
                    String::from_utf8_lossy(&out.stdout).trim_end()
                ));
            }
        }
    }
    let _ = fs_err::remove_dir_all(&dir);
    eprintln!(
        "shellcheck: {count} run: script(s), {} with findings",
        findings.len()
    );
    if !findings.is_empty() {
        bail!("shellcheck findings:\n{}", findings.join("\n"));
    }
    Ok(())
}
