//! Probes of an installed toolchain: what its nvcc says about itself, and
//! whether a torch tree is the build the matrix names.

use std::path::Path;

use xshell::Shell;

use super::layout::{self, CudaLayout, FatbinCompression, TorchLayout};
use super::ToolchainError;
use crate::versions::{CudaVersion, TorchRelease};

/// Asks nvcc for its version (must match `want`) and whether it has
/// `--compress-mode`.
pub fn probe_nvcc(
    root: &Path,
    parts: layout::CudaLayoutParts,
    want: Option<CudaVersion>,
) -> Result<CudaLayout, ToolchainError> {
    let sh = Shell::new()?;
    let run = |arg: &str| -> Result<String, ToolchainError> {
        let out = sh
            .cmd(&parts.nvcc)
            .arg(arg)
            .quiet()
            .ignore_status()
            .output()
            .map_err(|e| ToolchainError::Spawn {
                program: parts.nvcc.display().to_string(),
                why: e.to_string(),
            })?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let text = run("--version")?;
    let version = layout::parse_nvcc_version(&text).ok_or_else(|| ToolchainError::Incomplete {
        what: "nvcc".into(),
        dir: parts.nvcc.clone(),
        missing: format!("a version in `nvcc --version` output: {text:?}"),
        packages: vec![],
    })?;
    if let Some(w) = want {
        if w != version {
            return Err(ToolchainError::Incomplete {
                what: format!("CUDA {w} toolkit"),
                dir: root.to_path_buf(),
                missing: format!("nvcc {w} (nvcc reports {version}; fix the pins in matrix.yaml)"),
                packages: vec![],
            });
        }
    }
    let help = run("--help")?;
    let compression = if help.contains("--compress-mode") {
        FatbinCompression::CompressMode
    } else {
        FatbinCompression::CompressAll
    };
    Ok(CudaLayout {
        root: root.to_path_buf(),
        version,
        nvcc: parts.nvcc,
        include_dirs: parts.include_dirs,
        lib_dir: parts.lib_dir,
        cudart: parts.cudart,
        compression,
    })
}

/// The torch tree is the release and CUDA major the matrix names.
pub fn check_torch(
    t: &TorchLayout,
    build: TorchRelease,
    cuda: CudaVersion,
) -> Result<(), ToolchainError> {
    let public = t.version.split('+').next().unwrap_or_default();
    let found_cuda_major = t
        .cuda
        .as_deref()
        .and_then(|c| c.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    if public != build.to_string() || found_cuda_major != Some(cuda.major) {
        return Err(ToolchainError::TorchMismatch {
            dir: t.root.clone(),
            found: format!(
                "torch {} (CUDA {})",
                t.version,
                t.cuda.as_deref().unwrap_or("none")
            ),
            wanted: format!("torch {build} built for CUDA {}.x", cuda.major),
            fix:
                "point the torch entry's `source` in matrix.yaml at an index that serves that build"
                    .into(),
        });
    }
    Ok(())
}
