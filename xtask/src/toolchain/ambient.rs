//! The ambient toolchain: the torch of a given Python and the CUDA at
//! `CUDA_HOME` (or `CUDA_PATH`, or the nvcc on PATH). This is how a user
//! builds for exactly what they have, and how the GPU machine builds for its
//! own torch without network.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use xshell::Shell;

use super::layout::{self, CudaLayout, TorchLayout};
use super::probe::probe_nvcc;
use super::{Toolchain, ToolchainError};
use crate::platform::Platform;

/// What the Python's torch says about itself.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PythonTorch {
    /// Ex) `2.11.0+cu130`
    pub version: String,
    /// Ex) `13.0`
    pub cuda: Option<String>,
    /// The torch package directory.
    pub root: PathBuf,
    pub cxx11_abi: bool,
}

pub const PROBE: &str = "import json, os, torch; print(json.dumps({'version': torch.__version__, \
'cuda': torch.version.cuda, 'root': os.path.dirname(torch.__file__), \
'cxx11_abi': bool(torch.compiled_with_cxx11_abi())}))";

/// Runs `python -c` to ask torch for its version, location and ABI.
pub fn probe_python(python: &str) -> Result<PythonTorch, ToolchainError> {
    let sh = Shell::new()?;
    let out = sh
        .cmd(python)
        .args(["-c", PROBE])
        .quiet()
        .ignore_status()
        .output()
        .map_err(|e| ToolchainError::Ambient(format!("cannot run `{python}`: {e}")))?;
    if !out.status.success() {
        return Err(ToolchainError::Ambient(format!(
            "`{python} -c 'import torch'` failed; pass --python with an interpreter that has torch:\n{}",
            super::tail(&out.stderr, 6)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .map_err(|e| ToolchainError::Ambient(format!("unexpected probe output {line:?}: {e}")))
}

/// The CUDA root: `CUDA_HOME`, `CUDA_PATH`, else the parent of `bin/nvcc` on PATH.
pub fn cuda_root() -> Result<PathBuf, ToolchainError> {
    for k in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(v) = std::env::var_os(k).filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(v));
        }
    }
    let exe = if cfg!(windows) { "nvcc.exe" } else { "nvcc" };
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join(exe);
        if p.is_file() {
            let p = fs_err::canonicalize(&p).unwrap_or(p);
            if let Some(root) = p.parent().and_then(Path::parent) {
                return Ok(root.to_path_buf());
            }
        }
    }
    Err(ToolchainError::Ambient(
        "no CUDA found: set CUDA_HOME to the toolkit root (the directory with bin/nvcc) or put nvcc on PATH"
            .into(),
    ))
}

/// The ambient toolchain for `platform` (the host).
pub fn discover(
    python: &str,
    platform: Platform,
) -> Result<(Toolchain, PythonTorch), ToolchainError> {
    let os = platform.os();
    let py = probe_python(python)?;
    let cuda_str = py.cuda.clone().ok_or_else(|| {
        ToolchainError::Ambient(format!(
            "torch {} in `{python}` is a CPU build (torch.version.cuda is None); install a CUDA build of torch",
            py.version
        ))
    })?;
    let torch_cuda: crate::versions::CudaVersion = cuda_str.parse().map_err(|_| {
        ToolchainError::Ambient(format!(
            "torch.version.cuda `{cuda_str}` is not MAJOR.MINOR"
        ))
    })?;
    let root = cuda_root()?;
    let parts = layout::find_install_toolkit(&root, os, torch_cuda.major).map_err(|missing| {
        ToolchainError::Ambient(format!(
            "the CUDA at {} lacks {missing}; torch {} needs CUDA {}.x",
            root.display(),
            py.version,
            torch_cuda.major
        ))
    })?;
    let cuda: CudaLayout = probe_nvcc(&root, parts, None)?;
    if cuda.version.major != torch_cuda.major {
        return Err(ToolchainError::Ambient(format!(
            "nvcc at {} is CUDA {}, but torch {} was built with CUDA {}: set CUDA_HOME to a CUDA {}.x toolkit",
            cuda.nvcc.display(),
            cuda.version,
            py.version,
            cuda_str,
            torch_cuda.major
        )));
    }
    let (torch, torch_id) = python_torch_layout(&py, os)?;
    let cuda_id = format!(
        "ambient-cuda{}-{}",
        cuda.version,
        crate::fsx::hash_id(&[&cuda.nvcc.display().to_string(), &cuda.version.to_string()])
    );
    Ok((
        Toolchain {
            cuda,
            torch,
            cuda_id,
            torch_id,
        },
        py,
    ))
}

/// The torch tree of a probed Python, checked against the interpreter's own
/// answer for the C++ ABI, and its object-cache identity.
pub fn python_torch_layout(
    py: &PythonTorch,
    os: crate::platform::Os,
) -> Result<(TorchLayout, String), ToolchainError> {
    let mut torch: TorchLayout = layout::find_torch(&py.root, os).map_err(|missing| {
        ToolchainError::Ambient(format!("torch at {} lacks {missing}", py.root.display()))
    })?;
    // The interpreter's own answer is authoritative for the ABI; the files
    // must agree with it.
    if os == crate::platform::Os::Linux && torch.abi.cxx11 != Some(py.cxx11_abi) {
        return Err(ToolchainError::Ambient(format!(
            "torch.compiled_with_cxx11_abi() is {} but {} says otherwise",
            py.cxx11_abi, torch.abi.source
        )));
    }
    torch.abi.source = format!(
        "{} (torch.compiled_with_cxx11_abi() agrees)",
        torch.abi.source
    );
    let torch_id = format!(
        "ambient-torch{}-{}",
        py.version,
        crate::fsx::hash_id(&[&py.root.display().to_string(), &py.version])
    );
    Ok((torch, torch_id))
}
