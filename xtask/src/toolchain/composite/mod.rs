//! Composite CUDA 12 toolkits: the CUDA 13 compiler front end with the CUDA 12
//! back end, assembled from NVIDIA's wheels.
//!
//! Why: NVIDIA's CUDA 12 compiler wheels (`nvidia-cuda-nvcc-cu12` 12.8.93 and
//! 12.9.86) ship only `ptxas`, libNVVM and libdevice: no nvcc driver, no
//! cicc, no cudafe++, no fatbinary. The CUDA 13 wheels ship all of them. So a
//! CUDA 12 variant is compiled by the CUDA 13.0 front end (nvcc, cudafe++,
//! cicc, the crt headers, fatbinary) and the CUDA 12.8 back end (ptxas, the
//! runtime headers and `libcudart.so.12`, CCCL), with two small wrappers that
//! keep every output readable by CUDA 12:
//!
//! - `nvvm/bin/cicc` runs the real cicc, then lowers the PTX ISA version of its
//!   output (`.version 9.0` → `.version 8.7`), the newest the 12.8 ptxas and a
//!   12.8 driver's JIT accept; anything else than exactly that one line fails
//!   the compile. The lowered PTX is assembled by the 12.8 ptxas (nvcc runs
//!   ptxas on PTX-only targets too), so syntax the older ISA lacks is an error
//!   at build time, never at JIT time.
//! - `bin/fatbinary` runs the real fatbinary with LZ4 compression for every
//!   entry (`-compress-all --compress-mode=speed`), or none when
//!   `--compress-mode=none` was asked for. The 13.0 fatbinary compresses with
//!   ZSTD for `--compress-mode=default|balance|size` and for `-compress-all`
//!   alone; CUDA 12 drivers before 550.54.14 cannot read ZSTD entries. LZ4 on
//!   every entry is what nvcc 12.8 wrote into torch's own cu128 libraries.
//!
//! The runtime headers are the back end's (12.8): host code sees the
//! declarations `libcudart.so.12` implements. The crt headers are the front
//! end's: cudafe++ 13.0 emits `__cudaLaunch(fun, isTileKernel)`, which only
//! the 13.0 `crt/host_runtime.h` defines; the crt headers declare the same
//! runtime entry points (`__cudaRegisterFatBinary`, `__cudaGetKernel`,
//! `__cudaLaunchKernel`, …) with the same signatures as 12.8's, and every one
//! is exported by `libcudart.so.12`. See docs/toolchains.md for what was
//! verified.
//!
//! Layout, under `<toolkit cache entry>/composite/` ([`DIR`]):
//!
//! ```text
//! bin/nvcc                         front end nvcc driver (hard link)
//! bin/nvcc.profile                 generated: the paths below
//! bin/cudafe++                     front end
//! bin/fatbinary                    generated wrapper of libexec/fatbinary
//! bin/ptxas                        back end ptxas
//! nvvm/bin/cicc                    generated wrapper of libexec/cicc
//! nvvm/libdevice/libdevice.10.bc   front end (pairs with its cicc)
//! libexec/cicc, libexec/fatbinary  the front end's real tools
//! include/                         back end runtime headers, front end crt/
//!                                  and fatbinary_section.h
//! include/cccl/                    back end CCCL
//! lib/libcudart.so.<major>         back end runtime
//! RECIPE.txt                       what came from where
//! ```
//!
//! Files: `recipe.rs` holds the pure decisions ([`Recipe`], the PTX ISA
//! table, the [`Step`]s and `RECIPE.txt`); `scripts.rs` the generated texts
//! (the two wrappers, `nvcc.profile`) and [`lower_ptx_version`], the cicc
//! wrapper's rewrite as a function; `assemble.rs` the I/O ([`discover`],
//! [`execute`], [`assemble()`], [`layout`]). Linux only: the wrappers are
//! POSIX shell scripts. The fatbin reader with which the tests check what
//! nvcc wrote is test-only (`fatbin.rs`).

mod assemble;
mod recipe;
mod scripts;

#[cfg(test)]
mod fatbin;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use thiserror::Error;

use crate::platform::Os;
use crate::versions::CudaVersion;

pub use assemble::{assemble, discover, execute, layout};
pub use recipe::{describe, parse_cudart_version, ptx_isa, recipe, PtxIsa, Recipe, Sources, Step};
pub use scripts::{cicc_wrapper, fatbinary_wrapper, lower_ptx_version, nvcc_profile};

/// Recipe identity; part of the toolkit's cache key, so a change to the
/// wrappers or the layout makes a new entry.
pub const RECIPE_ID: &str = "composite-v1";

/// The composite toolkit's directory inside its cache entry.
pub const DIR: &str = "composite";

#[derive(Debug, Error)]
pub enum CompositeError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Shell(#[from] xshell::Error),
    #[error("a composite toolkit needs a front end of a newer CUDA major than its back end (front end {frontend}, back end {backend})")]
    Order {
        backend: CudaVersion,
        frontend: CudaVersion,
    },
    #[error("no PTX ISA version is known for CUDA {0} (known: {known}); add it to `ISAS` in xtask/src/toolchain/composite/recipe.rs after checking that toolkit's ptxas", known = recipe::known_isas())]
    UnknownIsa(CudaVersion),
    #[error("composite toolkit in {}: {what} not found ({hint})", dir.display())]
    Missing {
        dir: PathBuf,
        what: String,
        hint: String,
    },
    #[error("composite toolkit in {}: {what} is ambiguous, found {}", dir.display(), found.join(", "))]
    Ambiguous {
        dir: PathBuf,
        what: String,
        found: Vec<String>,
    },
    #[error("composite toolkit: {what} is {found}, the recipe wants {wanted} (fix the pins in matrix.yaml)")]
    Version {
        what: String,
        found: String,
        wanted: String,
    },
    #[error("composite toolkits are Linux-only (their cicc and fatbinary wrappers are shell scripts); this host is {0:?}")]
    Unsupported(Os),
    #[error("composite toolkit: `{}` already exists (two packages ship the same header?)", .0.display())]
    Conflict(PathBuf),
    #[error("PTX: {0}")]
    Ptx(String),
}
