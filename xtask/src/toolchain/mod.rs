//! Toolchains: the CUDA toolkit and the torch tree a variant compiles and
//! links against.
//!
//! Hermetic (default): NVIDIA's toolkit wheels (pinned in matrix.yaml) and the
//! torch wheel (without dependencies) are installed with `uv pip install
//! --target` into a content-addressed cache outside the repo. Each entry is
//! installed into a temporary directory and renamed into place only when it is
//! complete and its manifest written, under a file lock, so two concurrent
//! runs cannot corrupt it and a killed run never leaves half a toolchain that
//! looks complete. On reuse the manifest is re-checked cheaply (sizes of every
//! file, sha256 of a few key files).
//!
//! Ambient (`--toolchain ambient`): the torch of a given Python and the CUDA
//! at `CUDA_HOME`/on PATH (see [`ambient`]).
//!
//! What is pure here: [`ToolkitSpec`]/[`TorchSpec`] keys and the uv command
//! lines ([`uv_install_args`]). Discovery of the installed layout is in
//! [`layout`]; the cache, locking and installing in [`cache`]; finding or
//! bootstrapping uv (and running it) in [`uv`]; asking nvcc and checking
//! torch in [`probe`].

pub mod ambient;
pub mod cache;
pub mod composite;
pub mod layout;
pub mod msvc;
pub mod probe;
pub mod uv;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::matrix::IndexSource;
use crate::plan::Variant;
use crate::platform::Platform;
use crate::versions::{CudaVersion, TorchRelease};

pub use cache::Cache;
pub use layout::{CudaLayout, CxxAbi, TorchLayout};

#[derive(Debug, Error)]
pub enum ToolchainError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Shell(#[from] xshell::Error),
    #[error("downloading {what} from {index} failed (uv exit status {status}); see the log for uv's output. Check the pin in matrix.yaml and that the index is reachable.\n{tail}")]
    Download {
        what: String,
        index: String,
        status: String,
        tail: String,
    },
    #[error("could not run `{program}`: {why}")]
    Spawn { program: String, why: String },
    #[error("uv is not on PATH and installing it with `{python} -m pip install --target {}` failed: {tail}", target.display())]
    NoUv {
        python: String,
        target: PathBuf,
        tail: String,
    },
    #[error("{what} installed at {} lacks {missing}; the pinned packages {packages:?} do not provide a complete toolchain (add the package that ships it to matrix.yaml)", dir.display())]
    Incomplete {
        what: String,
        dir: PathBuf,
        missing: String,
        packages: Vec<String>,
    },
    #[error("torch at {} is {found}, but the variant wants {wanted}: {fix}", dir.display())]
    TorchMismatch {
        dir: PathBuf,
        found: String,
        wanted: String,
        fix: String,
    },
    #[error("cache manifest {}: {why}", path.display())]
    Manifest { path: PathBuf, why: String },
    #[error("ambient toolchain: {0}")]
    Ambient(String),
    #[error(transparent)]
    Composite(#[from] composite::CompositeError),
}

/// The interpreter version uv resolves wheels for. The torch wheel is
/// CPython-specific, but its headers and link libraries are not; any
/// version torch ships for works.
pub const UV_PYTHON_VERSION: &str = "3.12";

/// A CUDA toolkit as pinned NVIDIA wheels for one platform.
/// Ex) CUDA 13.0 for `x86_64-manylinux_2_28`: nvidia-cuda-nvcc==13.0.88, …
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ToolkitSpec {
    pub cuda: CudaVersion,
    pub platform: Platform,
    /// uv's `--python-platform`. Ex) `x86_64-manylinux_2_28`
    pub uv_platform: String,
    pub packages: Vec<String>,
    /// A composite toolkit's front end (see [`composite`]). Ex) `13.0`
    pub frontend: Option<CudaVersion>,
}

/// A torch release fetched (without dependencies) from one index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TorchSpec {
    pub build: TorchRelease,
    /// The CUDA build the matrix says this torch has (checked after install).
    pub cuda: CudaVersion,
    pub source: IndexSource,
    pub platform: Platform,
    pub uv_platform: String,
}

impl ToolkitSpec {
    pub fn for_variant(v: &Variant) -> ToolkitSpec {
        ToolkitSpec {
            cuda: v.toolkit,
            platform: v.platform,
            uv_platform: v.uv_platform(),
            packages: v.toolkit_packages.clone(),
            frontend: v.toolkit_frontend,
        }
    }

    /// Content address: what, pins and platform. Ex) `cuda13.0-linux_x86_64-1f2e…`
    pub fn key(&self) -> String {
        let mut pins = self.packages.clone();
        pins.sort();
        let mut parts = vec!["toolkit-v1", &self.uv_platform];
        parts.extend(pins.iter().map(String::as_str));
        let fe = self
            .frontend
            .map(|f| format!("{} frontend={f}", composite::RECIPE_ID));
        parts.extend(fe.as_deref());
        format!(
            "cuda{}-{}-{}",
            self.cuda,
            self.platform,
            crate::fsx::hash_id(&parts)
        )
    }

    pub fn describe(&self) -> String {
        format!("CUDA {} toolkit ({})", self.cuda, self.packages.join(" "))
    }
}

impl TorchSpec {
    pub fn for_variant(v: &Variant) -> TorchSpec {
        TorchSpec {
            build: v.torch_build,
            cuda: v.torch_cuda,
            source: v.torch_source.clone(),
            platform: v.platform,
            uv_platform: v.uv_platform(),
        }
    }

    /// `torch==<build>`; `==` without a local label also matches `+cu128` builds.
    pub fn requirement(&self) -> String {
        format!("torch=={}", self.build)
    }

    /// Content address: release, index and platform. Ex) `torch2.9.1-linux_x86_64-9a0b…`
    pub fn key(&self) -> String {
        let index = index_display(&self.source);
        let build = self.build.to_string();
        format!(
            "torch{}-{}-{}",
            self.build,
            self.platform,
            crate::fsx::hash_id(&["torch-v1", &build, &index, &self.uv_platform])
        )
    }
}

/// The last `n` lines of a process's output.
pub fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// How an index is named in messages and keys: `default` or its URL.
pub fn index_display(source: &IndexSource) -> String {
    match source {
        IndexSource::Default => "uv's default index".to_string(),
        IndexSource::Named { name, url } => format!("{name} ({url})"),
    }
}

/// `uv` arguments that install `packages` (without dependencies) into
/// `target` for `uv_platform`. `IndexSource::Default` writes no URL: uv's
/// own default (or the user's `UV_DEFAULT_INDEX`) applies.
pub fn uv_install_args(
    target: &Path,
    uv_platform: &str,
    packages: &[String],
    index: &IndexSource,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "pip".into(),
        "install".into(),
        "--no-config".into(),
        "--target".into(),
        target.display().to_string(),
        "--no-deps".into(),
        "--python-platform".into(),
        uv_platform.into(),
        "--python-version".into(),
        UV_PYTHON_VERSION.into(),
    ];
    if let IndexSource::Named { url, .. } = index {
        args.push("--index-url".into());
        args.push(url.clone());
    }
    args.extend(packages.iter().cloned());
    args
}

/// A provisioned toolchain pair for one variant.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub cuda: CudaLayout,
    pub torch: TorchLayout,
    /// Stable identity of the toolkit for object-cache keys. Ex) the toolkit's
    /// cache key, or a digest of `nvcc --version` for an ambient CUDA.
    pub cuda_id: String,
    /// Stable identity of the torch tree for object-cache keys.
    pub torch_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tk() -> ToolkitSpec {
        ToolkitSpec {
            cuda: "13.0".parse().unwrap(),
            platform: Platform::LinuxX86_64,
            uv_platform: "x86_64-manylinux_2_28".into(),
            packages: vec![
                "nvidia-cuda-nvcc==13.0.88".into(),
                "nvidia-cuda-runtime==13.0.96".into(),
            ],
            frontend: None,
        }
    }

    #[test]
    fn toolkit_key_is_content_addressed() {
        let a = tk();
        let mut b = tk();
        b.packages.reverse();
        assert_eq!(a.key(), b.key(), "pin order does not matter");
        assert!(a.key().starts_with("cuda13.0-linux_x86_64-"));
        let mut c = tk();
        c.packages[0] = "nvidia-cuda-nvcc==13.0.48".into();
        assert_ne!(a.key(), c.key(), "a different pin is a different entry");
        let mut d = tk();
        d.uv_platform = "x86_64-manylinux_2_34".into();
        assert_ne!(
            a.key(),
            d.key(),
            "a different platform is a different entry"
        );
    }

    #[test]
    fn torch_key_depends_on_index() {
        let a = TorchSpec {
            build: "2.9.1".parse().unwrap(),
            cuda: "12.8".parse().unwrap(),
            source: IndexSource::Default,
            platform: Platform::LinuxX86_64,
            uv_platform: "x86_64-manylinux_2_28".into(),
        };
        let mut b = a.clone();
        b.source = IndexSource::Named {
            name: "x".into(),
            url: "https://example.invalid/whl/cu128".into(),
        };
        assert_ne!(a.key(), b.key());
        assert!(a.key().starts_with("torch2.9.1-linux_x86_64-"));
        assert_eq!(a.requirement(), "torch==2.9.1");
    }

    #[test]
    fn uv_command_lines() {
        let t = Path::new("/c/tmp");
        assert_eq!(
            uv_install_args(t, "x86_64-manylinux_2_28", &tk().packages, &IndexSource::Default)
                .join(" "),
            "pip install --no-config --target /c/tmp --no-deps --python-platform x86_64-manylinux_2_28 \
             --python-version 3.12 nvidia-cuda-nvcc==13.0.88 nvidia-cuda-runtime==13.0.96"
        );
        let named = IndexSource::Named {
            name: "pytorch-cu130".into(),
            url: "https://example.invalid/whl/cu130".into(),
        };
        assert_eq!(
            uv_install_args(t, "x86_64-pc-windows-msvc", &["torch==2.11.0".into()], &named)
                .join(" "),
            "pip install --no-config --target /c/tmp --no-deps --python-platform x86_64-pc-windows-msvc \
             --python-version 3.12 --index-url https://example.invalid/whl/cu130 torch==2.11.0"
        );
    }
}
