//! One module per CLI command: `impl Cmd { fn run(self, ctx) }`.

pub mod bench_build;
pub mod build_matrix;
pub mod ci;
pub mod index;
pub mod plan;
pub mod publish;
pub mod release_notes;
pub mod verify;

use std::path::PathBuf;

use crate::matrix::Matrix;
use crate::plan::{Filter, Plan};
use crate::platform::Platform;

/// Flags shared by every command that reads the matrix.
#[derive(Debug, Clone, clap::Args)]
pub struct MatrixArgs {
    /// The matrix file.
    #[arg(long, default_value = "matrix.yaml")]
    pub matrix: PathBuf,
}

impl MatrixArgs {
    pub fn load(&self) -> Result<Matrix, crate::matrix::MatrixError> {
        Matrix::load(&self.matrix)
    }

    /// The repository the matrix belongs to: its file's directory (`kernels/`
    /// and `bindings/` are found there), else the current directory.
    pub fn repo_root(&self) -> PathBuf {
        self.matrix
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(|p| p.to_path_buf()))
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// `--only`, `--platform`, `--shard`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Variant ids or globs (`cu12-*`); repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Only variants for this platform (linux_x86_64, linux_aarch64, win_amd64).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Deterministic, balanced slice I of N of the plan. Ex) `2/4`
    #[arg(long)]
    pub shard: Option<crate::plan::Shard>,
}

impl FilterArgs {
    pub fn filter(&self) -> Filter {
        Filter {
            only: self.only.clone(),
            platform: self.platform,
            shard: self.shard,
            allow_empty: self.shard.is_some(),
        }
    }

    /// Plans the matrix for this host and applies the filters.
    pub fn plan(&self, m: &Matrix) -> Result<Plan, crate::plan::PlanError> {
        Plan::from_matrix(m, Platform::host()).select(&self.filter())
    }
}
