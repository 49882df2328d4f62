//! The composite toolkit's pure decisions: which front end and back end, the
//! PTX ISA versions in between, and the steps that make the directory.

use std::fmt;
use std::path::{Path, PathBuf};

use super::scripts::{cicc_wrapper, fatbinary_wrapper, nvcc_profile};
use super::{CompositeError, RECIPE_ID};
use crate::platform::Os;
use crate::toolchain::layout::cudart_name;
use crate::versions::CudaVersion;

/// A PTX ISA version. Ex) `8.7`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PtxIsa {
    pub major: u32,
    pub minor: u32,
}

impl fmt::Display for PtxIsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// One row of the PTX ISA table: a toolkit's CUDA `major.minor` and the
/// PTX ISA its compiler writes and its ptxas accepts at most.
struct IsaOf {
    cuda: (u32, u32),
    isa: PtxIsa,
}

const fn isa_of(cuda: (u32, u32), major: u32, minor: u32) -> IsaOf {
    IsaOf {
        cuda,
        isa: PtxIsa { major, minor },
    }
}

/// Add a toolkit here after checking what its ptxas accepts.
const ISAS: &[IsaOf] = &[
    // Checked here: ptxas 12.8.93 says "Unsupported .version 8.8; current
    // version is '8.7'"; cicc 13.0.88 writes `.version 9.0`.
    isa_of((12, 8), 8, 7),
    // From NVIDIA's PTX ISA release history (not checked here).
    isa_of((12, 9), 8, 8),
    isa_of((13, 0), 9, 0),
];

pub(super) fn known_isas() -> String {
    ISAS.iter()
        .map(|IsaOf { cuda: (a, b), isa }| format!("CUDA {a}.{b} → {isa}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The PTX ISA version a toolkit's compiler writes and its ptxas accepts at most.
pub fn ptx_isa(cuda: CudaVersion) -> Option<PtxIsa> {
    ISAS.iter()
        .find(|row| row.cuda == (cuda.major, cuda.minor))
        .map(|row| row.isa)
}

/// Which front end and back end a composite toolkit pairs, and the PTX ISA
/// versions in between. Ex) back end 12.8, front end 13.0: 9.0 → 8.7
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Recipe {
    pub backend: CudaVersion,
    pub frontend: CudaVersion,
    /// What the front end's cicc writes.
    pub from_isa: PtxIsa,
    /// What the back end's ptxas accepts.
    pub to_isa: PtxIsa,
}

impl Recipe {
    pub fn new(backend: CudaVersion, frontend: CudaVersion) -> Result<Recipe, CompositeError> {
        if frontend.major <= backend.major {
            return Err(CompositeError::Order { backend, frontend });
        }
        let to_isa = ptx_isa(backend).ok_or(CompositeError::UnknownIsa(backend))?;
        let from_isa = ptx_isa(frontend).ok_or(CompositeError::UnknownIsa(frontend))?;
        Ok(Recipe {
            backend,
            frontend,
            from_isa,
            to_isa,
        })
    }

    /// The runtime library's file name. Ex) `libcudart.so.12`
    pub fn cudart(&self) -> String {
        cudart_name(Os::Linux, self.backend.major)
    }
}

/// The files a composite toolkit is made of, as found in a toolkit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    // Front end. Ex) under nvidia/cu13/
    pub nvcc: PathBuf,
    pub cudafe: PathBuf,
    pub fatbinary: PathBuf,
    pub cicc: PathBuf,
    pub libdevice: PathBuf,
    /// The `crt/` header directory.
    pub crt: PathBuf,
    pub fatbinary_section: PathBuf,
    // Back end. Ex) under nvidia/cuda_nvcc/, nvidia/cuda_runtime/, nvidia/cuda_cccl/
    pub ptxas: PathBuf,
    /// The runtime's include directory (cuda_runtime_api.h, …).
    pub runtime_include: PathBuf,
    pub cudart: PathBuf,
    /// CCCL's include directory (cuda/, cub/, nv/, thrust/).
    pub cccl_include: PathBuf,
}

/// One step of assembling the directory; `to` is relative to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Hard-link one file (copy where linking fails).
    Link { from: PathBuf, to: String },
    /// Hard-link every file under `from` into `to`, except Python package
    /// markers (`__init__.py`); a file that already exists is an error.
    Tree { from: PathBuf, to: String },
    /// Write generated text; `exec`: mode 0755.
    Write {
        to: String,
        text: String,
        exec: bool,
    },
}

/// How the directory is made from `s`. Pure.
pub fn recipe(s: &Sources, r: &Recipe) -> Vec<Step> {
    let link = |from: &Path, to: &str| Step::Link {
        from: from.to_path_buf(),
        to: to.to_string(),
    };
    let tree = |from: &Path, to: &str| Step::Tree {
        from: from.to_path_buf(),
        to: to.to_string(),
    };
    let write = |to: &str, text: String, exec: bool| Step::Write {
        to: to.to_string(),
        text,
        exec,
    };
    vec![
        link(&s.nvcc, "bin/nvcc"),
        write("bin/nvcc.profile", nvcc_profile(r), false),
        link(&s.cudafe, "bin/cudafe++"),
        link(&s.ptxas, "bin/ptxas"),
        write("bin/fatbinary", fatbinary_wrapper(r), true),
        link(&s.fatbinary, "libexec/fatbinary"),
        write("nvvm/bin/cicc", cicc_wrapper(r), true),
        link(&s.cicc, "libexec/cicc"),
        link(&s.libdevice, "nvvm/libdevice/libdevice.10.bc"),
        tree(&s.runtime_include, "include"),
        tree(&s.crt, "include/crt"),
        link(&s.fatbinary_section, "include/fatbinary_section.h"),
        tree(&s.cccl_include, "include/cccl"),
        link(&s.cudart, &format!("lib/{}", r.cudart())),
    ]
}

/// `RECIPE.txt`: the recipe with sources relative to the entry. Pure.
pub fn describe(steps: &[Step], r: &Recipe, entry: &Path) -> String {
    let rel = |p: &Path| {
        p.strip_prefix(entry)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut out = format!(
        "attnfarm composite toolkit ({RECIPE_ID}): CUDA {} front end, CUDA {} back end; \
         cicc output lowered from PTX ISA {} to {}; fatbins LZ4 or uncompressed.\n",
        r.frontend, r.backend, r.from_isa, r.to_isa
    );
    for s in steps {
        let line = match s {
            Step::Link { from, to } => format!("{to} <- {}", rel(from)),
            Step::Tree { from, to } => format!("{to}/ <- {}/", rel(from)),
            Step::Write { to, exec, .. } => {
                format!(
                    "{to} (generated{})",
                    if *exec { ", executable" } else { "" }
                )
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
/// `#define CUDART_VERSION 12080` in cuda_runtime_api.h. Ex) Some(12.8)
pub fn parse_cudart_version(header: &str) -> Option<CudaVersion> {
    let line = header
        .lines()
        .find(|l| l.trim_start().starts_with("#define CUDART_VERSION"))?;
    let n: u32 = line.split_whitespace().nth(2)?.parse().ok()?;
    Some(CudaVersion::new(n / 1000, (n % 1000) / 10))
}
