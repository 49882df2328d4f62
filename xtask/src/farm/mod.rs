//! `attnfarm-farm build --for-python P`: one wheel for exactly the torch a
//! given Python has, built from sources carried inside the binary.
//!
//! The toolchain is mixed: the CUDA toolkit is hermetic (NVIDIA's wheels at
//! the matrix's pins for that torch's CUDA major, provisioned into the cache
//! like any farm build; no system CUDA), the torch is the user's own (headers
//! and libraries of the Python's installed torch, its C++ ABI as the
//! interpreter reports it). Then the ordinary farm build runs: compile, link,
//! audit, wheel.
//!
//! What is pure here: choosing the toolkit ([`toolkit_for`]), parsing
//! `nvidia-smi` ([`parse_compute_caps`]), the install command
//! ([`pip_install_argv`]), the source bundle format ([`bundle`]).

pub mod bundle;

use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;
use xshell::Shell;

use crate::cmd::build_matrix::{default_options, restrict_arches, retag_for_host};
use crate::engine::{self, Outcome, ToolchainMode};
use crate::matrix::Matrix;
use crate::plan::{Plan, Variant};
use crate::platform::{Os, Platform};
use crate::progress::Progress;
use crate::toolchain::ambient::{self, PythonTorch};
use crate::toolchain::{Toolchain, ToolchainError, ToolkitSpec};
use crate::versions::{CudaVersion, SmArch};

#[derive(Debug, Error)]
pub enum FarmError {
    #[error("cannot run `{python}`: {why}; pass --for-python the path of the Python interpreter whose torch you use (Ex) `/path/to/venv/bin/python`, `C:\\ComfyUI\\python_embeded\\python.exe`)")]
    NoPython { python: String, why: String },
    #[error("`{python}` has no usable torch (`import torch` failed); install torch into that Python first, or point --for-python at the interpreter that has it:\n{tail}")]
    NoTorch { python: String, tail: String },
    #[error("torch {version} in `{python}` is a CPU-only build (torch.version.cuda is None): attnfarm's kernels need a CUDA build of torch; install one (e.g. from the torch index for your CUDA) and run again")]
    CpuTorch { python: String, version: String },
    #[error("torch {version} in `{python}` was built with CUDA {cuda}, but this farm pins toolkits only for CUDA {available} on {platform} (matrix.yaml `toolkits`): use a torch built for one of those")]
    NoToolkit {
        python: String,
        version: String,
        cuda: String,
        available: String,
        platform: Platform,
    },
    #[error("no C++ compiler: {detail}. {fix}")]
    NoCompiler { detail: String, fix: String },
    #[error("this machine ({0}) is not a platform the farm builds on (Linux x86_64/aarch64, Windows x86_64)")]
    UnsupportedHost(String),
    #[error("torch.__version__ `{version}` / torch.version.cuda `{cuda}` from `{python}`: {why}")]
    BadProbe {
        python: String,
        version: String,
        cuda: String,
        why: String,
    },
    #[error("provisioning the CUDA {cuda} toolkit failed: {why}\nfull log: {}", log.display())]
    Provision {
        cuda: String,
        why: String,
        log: PathBuf,
    },
    #[error("`{command}` failed ({status}):\n{tail}\n(a Python without pip: `uv pip install --python {python} --no-deps {}`)", wheel.display())]
    InstallFailed {
        command: String,
        status: std::process::ExitStatus,
        tail: String,
        python: String,
        wheel: PathBuf,
    },
    #[error("cannot run `{command}`: {source}")]
    CannotRun {
        command: String,
        source: xshell::Error,
    },
    #[error(transparent)]
    Shell(#[from] xshell::Error),
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What to build and where.
#[derive(Debug, Clone)]
pub struct Request {
    /// The interpreter whose torch the wheel is for.
    pub python: String,
    /// Arches to build; empty: the GPUs `nvidia-smi` reports, else the
    /// matrix's full set.
    pub arches: Vec<SmArch>,
    /// Output root (wheels/, logs/, build/).
    pub out: PathBuf,
    pub jobs: Option<usize>,
    /// The extracted sources (kernels/, bindings/, LICENSE, README, matrix.yaml).
    pub sources: PathBuf,
    /// Source revision recorded in `_build_info.py`.
    pub revision: String,
    /// Zip timestamps.
    pub epoch: u64,
}

/// What a successful (or failed) build produced.
#[derive(Debug, Clone)]
pub struct Report {
    pub torch: PythonTorch,
    pub variant: Variant,
    pub outcome: Outcome,
    /// Absolute path of the wheel, when one was written.
    pub wheel: Option<PathBuf>,
    /// Where the arches came from. Ex) `nvidia-smi: NVIDIA H200 (9.0)`
    pub arch_source: String,
}

/// Runs the interpreter's torch probe, with errors that say what to do.
pub fn probe(python: &str) -> Result<PythonTorch, FarmError> {
    let out = std::process::Command::new(python)
        .args(["-c", ambient::PROBE])
        .output()
        .map_err(|e| FarmError::NoPython {
            python: python.into(),
            why: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(FarmError::NoTorch {
            python: python.into(),
            tail: crate::toolchain::tail(&out.stderr, 6),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let py: PythonTorch = serde_json::from_str(line).map_err(|e| FarmError::BadProbe {
        python: python.into(),
        version: "?".into(),
        cuda: "?".into(),
        why: format!("unexpected probe output {line:?}: {e}"),
    })?;
    if py.cuda.is_none() {
        return Err(FarmError::CpuTorch {
            python: python.into(),
            version: py.version,
        });
    }
    Ok(py)
}

/// The toolkit for a torch built with CUDA `cuda` on `host`: the matrix's
/// toolkit of that major (the one a matrix variant of the same torch minor
/// uses, else the newest of that major).
pub fn toolkit_for(
    plan: &Plan,
    host: Platform,
    torch_minor: crate::versions::TorchMinor,
    cuda: CudaVersion,
) -> Option<ToolkitSpec> {
    let mut same_major: Vec<&Variant> = plan
        .variants
        .iter()
        .filter(|v| v.platform == host && v.toolkit.major == cuda.major)
        .collect();
    same_major.sort_by_key(|v| (v.torch == torch_minor, v.toolkit));
    same_major.last().map(|v| ToolkitSpec::for_variant(v))
}

/// The CUDA majors the plan has toolkits for on `host`. Ex) `12, 13`
pub fn toolkit_majors(plan: &Plan, host: Platform) -> String {
    let mut majors: Vec<u32> = plan
        .variants
        .iter()
        .filter(|v| v.platform == host)
        .map(|v| v.toolkit.major)
        .collect();
    majors.sort();
    majors.dedup();
    if majors.is_empty() {
        return "none".into();
    }
    majors
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `nvidia-smi --query-gpu=compute_cap --format=csv,noheader` → arches.
/// Ex) `9.0\n8.6\n` → [sm_90, sm_86]
pub fn parse_compute_caps(text: &str) -> Vec<SmArch> {
    let mut out: Vec<SmArch> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((major, minor)) = line.split_once('.') else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
            continue;
        };
        let a = SmArch::base(major * 10 + minor);
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// The GPUs of this machine, by `nvidia-smi`; None when it is missing or says nothing.
pub fn detect_gpus() -> Option<(Vec<SmArch>, String)> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=compute_cap,name", "--format=csv,noheader"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let caps: String = text
        .lines()
        .map(|l| l.split(',').next().unwrap_or("").trim().to_string() + "\n")
        .collect();
    let arches = parse_compute_caps(&caps);
    if arches.is_empty() {
        return None;
    }
    let names: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    Some((arches, format!("nvidia-smi: {}", names.join("; "))))
}

/// The command that installs the wheel into that Python: no dependencies
/// (the wheel was built against exactly the torch there, which a version
/// range could not express for a nightly or local build), replacing an
/// attnfarm already installed.
pub fn pip_install_argv(python: &str, wheel: &Path) -> Vec<String> {
    vec![
        python.to_string(),
        "-m".into(),
        "pip".into(),
        "install".into(),
        "--no-deps".into(),
        "--force-reinstall".into(),
        wheel.display().to_string(),
    ]
}

/// Quotes an argv for the user's shell (POSIX or PowerShell/cmd double quotes).
pub fn quoted(argv: &[String], os: Os) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@\\".contains(c));
            if plain {
                a.clone()
            } else if os == Os::Windows {
                format!("\"{a}\"")
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Is there a host C++ compiler the build can use? `cxx` is `CXX` or the
/// platform default; Windows looks for MSVC the way the build does.
pub fn check_compiler(os: Os, cxx: &str) -> Result<(), FarmError> {
    check_compiler_in(os, cxx, &|k| std::env::var(k).ok())
}

/// [`check_compiler`] with the environment injected (`env` reads a variable).
pub fn check_compiler_in(
    os: Os,
    cxx: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), FarmError> {
    match os {
        Os::Windows => crate::toolchain::msvc::locate(env, &|p| p.is_file())
            .map(|_| ())
            .map_err(|e| FarmError::NoCompiler {
                detail: e.to_string(),
                fix: "Install the Visual Studio Build Tools (free) with the \"Desktop development with C++\" workload \
                      (`winget install Microsoft.VisualStudio.2022.BuildTools --override \"--passive --wait --add Microsoft.VisualStudio.Workload.VCTools --includeRecommended\"`), \
                      then run attnfarm-farm from the \"x64 Native Tools Command Prompt for VS 2022\" \
                      (or set ATTNFARM_MSVC_BIN to the folder holding cl.exe and link.exe)"
                    .into(),
            }),
        Os::Linux => {
            let ok = std::process::Command::new(cxx)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                Ok(())
            } else {
                Err(FarmError::NoCompiler {
                    detail: format!("`{cxx} --version` does not run"),
                    fix: "Install g++ (Debian/Ubuntu: `sudo apt install g++`, Fedora/RHEL: `sudo dnf install gcc-c++`) \
                          or set CXX (and CC) to a C++17 compiler that links libstdc++ dynamically"
                        .into(),
                })
            }
        }
    }
}

/// Writes `text` to `<out>/logs/<name>` and returns its path.
fn write_log(out: &Path, name: &str, text: &[u8]) -> PathBuf {
    let dir = out.join("logs");
    let _ = fs_err::create_dir_all(&dir);
    let path = dir.join(name);
    if let Ok(mut f) = fs_err::File::create(&path) {
        let _ = f.write_all(text);
    }
    std::path::absolute(&path).unwrap_or(path)
}

/// Provisions, builds and audits the wheel for `req.python`'s torch.
pub fn build_for_python(req: &Request, progress: &dyn Progress) -> Result<Report, FarmError> {
    let host = Platform::host().ok_or_else(|| {
        FarmError::UnsupportedHost(format!(
            "{}-{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    })?;
    let os = host.os();
    let m = Matrix::load(&req.sources.join("matrix.yaml")).map_err(anyhow::Error::from)?;

    progress.note(&format!("asking `{}` for its torch", req.python));
    let py = probe(&req.python)?;
    let cuda_str = py.cuda.clone().unwrap_or_default();
    let bad = |why: String| FarmError::BadProbe {
        python: req.python.clone(),
        version: py.version.clone(),
        cuda: cuda_str.clone(),
        why,
    };
    let torch_cuda: CudaVersion = cuda_str
        .parse()
        .map_err(|_| bad("the CUDA version is not MAJOR.MINOR".into()))?;
    let public = py.version.split('+').next().unwrap_or(&py.version);
    let minor = public
        .parse::<crate::versions::TorchRelease>()
        .map_err(|e| bad(format!("not MAJOR.MINOR.PATCH: {e}")))?
        .minor_line();
    progress.note(&format!(
        "torch {} (CUDA {}, C++11 ABI {}) at {}",
        py.version,
        cuda_str,
        py.cxx11_abi,
        py.root.display()
    ));

    let plan = Plan::from_matrix(&m, Some(host));
    let spec = toolkit_for(&plan, host, minor, torch_cuda).ok_or_else(|| FarmError::NoToolkit {
        python: req.python.clone(),
        version: py.version.clone(),
        cuda: cuda_str.clone(),
        available: toolkit_majors(&plan, host),
        platform: host,
    })?;

    let mut opts = default_options(&req.sources, &req.out, req.jobs, true);
    opts.revision = req.revision.clone();
    opts.epoch = req.epoch;
    check_compiler(os, &opts.cxx)?;

    // The toolkit: hermetic, from NVIDIA's wheels at the matrix's pins.
    let unit = format!("CUDA {}", spec.cuda);
    progress.step(
        &unit,
        &format!(
            "provisioning {} into {} (downloads on first use, about 0.1 GB)",
            spec.describe(),
            opts.cache.root.display()
        ),
    );
    let mut log = Vec::new();
    let provisioned = opts
        .cache
        .uv(&mut log)
        .and_then(|uv| opts.cache.toolkit(&uv, &spec, &mut log));
    let cuda = match provisioned {
        Ok(c) => c,
        Err(e) => {
            let path = write_log(&req.out, "provision.log", &log);
            progress.done(&unit, false);
            return Err(FarmError::Provision {
                cuda: spec.cuda.to_string(),
                why: e.to_string(),
                log: path,
            });
        }
    };
    progress.done(&unit, true);
    progress.note(&format!("nvcc {} at {}", cuda.version, cuda.nvcc.display()));

    // The torch: the user's own.
    let (torch, torch_id) = ambient::python_torch_layout(&py, os)?;
    let tc = Toolchain {
        cuda,
        torch,
        cuda_id: spec.key(),
        torch_id,
    };
    let mut v = crate::plan::ambient(&m, host, &py.version, &cuda_str, tc.cuda.version)
        .map_err(anyhow::Error::from)?;
    retag_for_host(&mut v, &m, host, progress);
    let (arches, arch_source) = if !req.arches.is_empty() {
        (req.arches.clone(), "--arch".to_string())
    } else if let Some((a, src)) = detect_gpus() {
        (a, src)
    } else {
        (
            Vec::new(),
            format!(
                "no GPU found by nvidia-smi: every arch of the matrix ({}); pass --arch sm_XX for a quicker build",
                v.arches
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    restrict_arches(&mut v, &arches)?;
    progress.note(&format!(
        "building {} for {} ({arch_source})",
        v.wheel,
        v.arches
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let one = Plan {
        package: m.package.clone(),
        release: m.release.clone(),
        variants: vec![v.clone()],
    };
    let outcomes = engine::build(&one, &ToolchainMode::Ambient(Box::new(tc)), &opts, progress)
        .map_err(anyhow::Error::from)?;
    let outcome = outcomes
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the build reported no outcome"))?;
    let wheel = outcome.wheel.as_ref().map(|w| {
        let p = req.out.join("wheels").join(w);
        std::path::absolute(&p).unwrap_or(p)
    });
    Ok(Report {
        torch: py,
        variant: v,
        outcome,
        wheel,
        arch_source,
    })
}

/// Runs pip of `python` on the wheel; Err: what failed and what to run by hand.
pub fn install(python: &str, wheel: &Path) -> Result<(), FarmError> {
    let argv = pip_install_argv(python, wheel);
    let sh = Shell::new()?;
    let status = sh
        .cmd(&argv[0])
        .args(&argv[1..])
        .ignore_status()
        .quiet()
        .output();
    match status {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(FarmError::InstallFailed {
            command: argv.join(" "),
            status: o.status,
            tail: crate::toolchain::tail(&o.stderr, 8),
            python: python.to_string(),
            wheel: wheel.to_path_buf(),
        }),
        Err(source) => Err(FarmError::CannotRun {
            command: argv.join(" "),
            source,
        }),
    }
}

#[cfg(test)]
mod tests;
