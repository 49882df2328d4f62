//! `matrix.yaml`: parsing and validation into a typed [`Matrix`].
//!
//! Pure: [`Matrix::parse`] takes the file's text; [`Matrix::load`] is the one
//! convenience that reads it. Every rejection names the file, the line and
//! column, and the offending value; all semantic problems are reported
//! together, sorted by position.

mod locate;
mod model;
mod raw;
mod validate;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::versions::TorchMinor;
pub use locate::Pos;
use locate::Positions;
pub use model::*;
use raw::RawMatrix;

/// The schema version this farm reads.
pub const SCHEMA: u32 = 1;

/// The oldest torch whose LibTorch stable ABI offers what the stable binding
/// (`bindings/csrc/stable/attention.cpp`) uses: `str` arguments, `empty` /
/// `new_zeros` with sizes and a device, `contiguous`, and the versioned
/// `torch_library_impl` all arrive in 2.10 (its header comment has the list).
pub const STABLE_ABI_MIN: TorchMinor = TorchMinor {
    major: 2,
    minor: 10,
};

/// One problem found in a matrix file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pos: Pos,
    pub message: String,
}

#[derive(Debug, Error)]
pub enum MatrixError {
    #[error("cannot read matrix {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

fn render_problems(file: &str, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "{file}:{}:{}: {}",
            p.pos.line, p.pos.col, p.message
        ));
    }
    out
}

impl Matrix {
    /// Reads and validates a matrix file.
    pub fn load(path: &Path) -> Result<Matrix, MatrixError> {
        let text = std::fs::read_to_string(path).map_err(|source| MatrixError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Matrix::parse(&path.display().to_string(), &text)
    }

    /// Validates matrix text; `file` is only used in messages.
    pub fn parse(file: &str, text: &str) -> Result<Matrix, MatrixError> {
        let invalid = |problems: Vec<Problem>| MatrixError::Invalid {
            file: file.to_string(),
            problems,
        };
        let raw: RawMatrix = serde_yaml::from_str(text).map_err(|e| {
            let pos = e
                .location()
                .map(|l| Pos {
                    line: l.line(),
                    col: l.column(),
                })
                .unwrap_or(Pos { line: 1, col: 1 });
            invalid(vec![Problem {
                pos,
                message: strip_location(&e.to_string()),
            }])
        })?;
        let positions = Positions::parse(text);
        match validate::validate(file, raw, &positions) {
            Ok(matrix) => Ok(matrix),
            Err(mut problems) => {
                problems.sort_by(|a, b| a.pos.cmp(&b.pos).then(a.message.cmp(&b.message)));
                problems.dedup();
                Err(invalid(problems))
            }
        }
    }
}

/// serde_yaml appends " at line L column C"; we print the position first.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// PEP 503 (see [`crate::names`]).
pub use crate::names::normalize as normalize_name;

pub use crate::versions::is_canonical_public_version;

#[cfg(test)]
mod tests;
