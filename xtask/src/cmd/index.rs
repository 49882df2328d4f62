//! `cargo xtask index`: write the per-variant pip indexes from `dist/wheels/`.

use std::path::PathBuf;

use xtask_index::{write_index, BaseUrl};

use super::MatrixArgs;
use crate::index as xtask_index;
use crate::plan::Plan;
use crate::platform::Platform;

/// Write one PEP 503 index per variant, the landing page and SHA256SUMS.
#[derive(Debug, clap::Args)]
pub struct IndexCmd {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Where index links point: GitHub release assets, or relative paths.
    #[arg(long, value_enum, default_value = "local")]
    pub base_url: BaseUrl,
    /// The output root holding `wheels/`.
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// Instead: write a preview site here with every variant of the plan
    /// (placeholder wheels, zero digests) to look at the landing page.
    #[arg(long)]
    pub preview: Option<PathBuf>,
    /// The install helper copied beside the landing page.
    #[arg(long, default_value = "install/install.py")]
    pub helper: PathBuf,
}

impl IndexCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let m = self.matrix.load()?;
        if let Some(dir) = &self.preview {
            let plan = Plan::from_matrix(&m, None);
            let entries = crate::index::site::preview_entries(&plan);
            crate::index::write_tree(&plan, dir, &entries, None)?;
            eprintln!(
                "wrote a preview of {} variant(s): {}",
                entries.len(),
                dir.join("index.html").display()
            );
            return Ok(());
        }
        let plan = Plan::from_matrix(&m, Platform::host());
        let report = write_index(&plan, &self.dist, self.base_url, Some(&self.helper))?;
        for (id, files) in &report.variants {
            println!("{id}\t{}", files.join(" "));
        }
        if !report.missing.is_empty() {
            eprintln!(
                "note: {} variant(s) of the plan have no wheel here: {}",
                report.missing.len(),
                report.missing.join(", ")
            );
        }
        eprintln!("wrote {}", report.landing.display());
        Ok(())
    }
}
