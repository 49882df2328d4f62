//! The composite toolkit's I/O: finding its files among the installed
//! wheels, carrying out the recipe, and checking the result.

use std::io::Write;
use std::path::{Path, PathBuf};

use xshell::Shell;

use super::recipe::{describe, parse_cudart_version, recipe, Recipe, Sources, Step};
use super::{CompositeError, DIR};
use crate::platform::Os;
use crate::toolchain::layout::{parse_nvcc_version, CudaLayout, FatbinCompression};
use crate::versions::CudaVersion;

fn package_dirs(entry: &Path) -> Vec<PathBuf> {
    crate::toolchain::layout::subdirs(&entry.join("nvidia"))
}

/// Finds the front end's and the back end's files among the packages
/// installed in `entry` (`nvidia/<package>/…`): the front end is the one
/// package directory with `bin/nvcc`; every back end file must be in exactly
/// one other package directory. Checks the runtime headers' CUDART_VERSION.
pub fn discover(entry: &Path, r: &Recipe) -> Result<Sources, CompositeError> {
    let pkgs = package_dirs(entry);
    let missing = |what: &str, hint: &str| CompositeError::Missing {
        dir: entry.to_path_buf(),
        what: what.to_string(),
        hint: hint.to_string(),
    };
    let fronts: Vec<&PathBuf> = pkgs
        .iter()
        .filter(|p| p.join("bin/nvcc").is_file())
        .collect();
    let front = match fronts.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(missing(
                "nvidia/*/bin/nvcc",
                &format!("the CUDA {} nvcc wheel, nvidia-cuda-nvcc", r.frontend),
            ))
        }
        many => {
            return Err(CompositeError::Ambiguous {
                dir: entry.to_path_buf(),
                what: "the front end (bin/nvcc)".into(),
                found: many.iter().map(|p| p.display().to_string()).collect(),
            })
        }
    };
    let in_front = |rel: &str, hint: &str| -> Result<PathBuf, CompositeError> {
        let p = front.join(rel);
        if p.exists() {
            Ok(p)
        } else {
            Err(missing(&format!("{}/{rel}", front.display()), hint))
        }
    };
    let back = |rel: &str, hint: &str| -> Result<PathBuf, CompositeError> {
        let found: Vec<PathBuf> = pkgs
            .iter()
            .filter(|p| **p != front)
            .map(|p| p.join(rel))
            .filter(|p| p.exists())
            .collect();
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(missing(
                &format!("nvidia/*/{rel} (outside {})", front.display()),
                hint,
            )),
            many => Err(CompositeError::Ambiguous {
                dir: entry.to_path_buf(),
                what: rel.to_string(),
                found: many.iter().map(|p| p.display().to_string()).collect(),
            }),
        }
    };
    let fe = r.frontend;
    let be = r.backend;
    let s = Sources {
        nvcc: front.join("bin/nvcc"),
        cudafe: in_front("bin/cudafe++", &format!("nvidia-cuda-nvcc {fe}"))?,
        fatbinary: in_front("bin/fatbinary", &format!("nvidia-cuda-nvcc {fe}"))?,
        cicc: in_front("nvvm/bin/cicc", &format!("nvidia-nvvm {fe}"))?,
        libdevice: in_front(
            "nvvm/libdevice/libdevice.10.bc",
            &format!("nvidia-nvvm {fe}"),
        )?,
        crt: in_front("include/crt", &format!("nvidia-cuda-crt {fe}"))?,
        fatbinary_section: in_front(
            "include/fatbinary_section.h",
            &format!("nvidia-cuda-nvcc {fe}"),
        )?,
        ptxas: back(
            "bin/ptxas",
            &format!("nvidia-cuda-nvcc-cu{} {be}", be.major),
        )?,
        runtime_include: back(
            "include/cuda_runtime_api.h",
            &format!("nvidia-cuda-runtime-cu{} {be}", be.major),
        )?
        .parent()
        .expect("a file has a parent")
        .to_path_buf(),
        cudart: back(
            &format!("lib/{}", r.cudart()),
            &format!("nvidia-cuda-runtime-cu{} {be}", be.major),
        )?,
        cccl_include: back(
            "include/nv/target",
            &format!("nvidia-cuda-cccl-cu{} {be}", be.major),
        )?
        .parent()
        .and_then(Path::parent)
        .expect("include/nv/target has two parents")
        .to_path_buf(),
    };
    let api = s.runtime_include.join("cuda_runtime_api.h");
    let found = parse_cudart_version(&fs_err::read_to_string(&api)?);
    if found != Some(be) {
        return Err(CompositeError::Version {
            what: format!("CUDART_VERSION in {}", api.display()),
            found: found.map_or("absent".into(), |v| v.to_string()),
            wanted: be.to_string(),
        });
    }
    Ok(s)
}

fn link_or_copy(from: &Path, to: &Path) -> Result<(), CompositeError> {
    if to.exists() {
        return Err(CompositeError::Conflict(to.to_path_buf()));
    }
    if let Some(parent) = to.parent() {
        fs_err::create_dir_all(parent)?;
    }
    if fs_err::hard_link(from, to).is_err() {
        fs_err::copy(from, to)?;
    }
    Ok(())
}

fn link_tree(from: &Path, to: &Path) -> Result<(), CompositeError> {
    let mut entries: Vec<_> = fs_err::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    fs_err::create_dir_all(to)?;
    for e in entries {
        let name = e.file_name();
        if name == "__init__.py" || name == "__pycache__" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type()?.is_dir() {
            link_tree(&src, &dst)?;
        } else {
            link_or_copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Carries out `steps` into `dir` (which must not exist yet).
pub fn execute(steps: &[Step], dir: &Path) -> Result<(), CompositeError> {
    fs_err::create_dir_all(dir)?;
    for s in steps {
        match s {
            Step::Link { from, to } => link_or_copy(from, &dir.join(to))?,
            Step::Tree { from, to } => link_tree(from, &dir.join(to))?,
            Step::Write { to, text, exec } => {
                let path = dir.join(to);
                if path.exists() {
                    return Err(CompositeError::Conflict(path));
                }
                fs_err::create_dir_all(path.parent().expect("relative path has a parent"))?;
                fs_err::write(&path, text)?;
                #[cfg(unix)]
                if *exec {
                    use std::os::unix::fs::PermissionsExt;
                    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
                }
                #[cfg(not(unix))]
                let _ = exec;
            }
        }
    }
    Ok(())
}

/// Assembles `<entry>/composite/` from the packages installed in `entry`
/// (both versions' wheels, installed with `uv pip install --target entry`).
/// Written under a temporary name and renamed when complete. Returns the
/// directory.
///
/// Entry point for toolkit provisioning: call it after the wheels are
/// installed and before the entry's manifest is written, then [`layout`].
pub fn assemble(entry: &Path, r: &Recipe, log: &mut Vec<u8>) -> Result<PathBuf, CompositeError> {
    if !cfg!(unix) {
        return Err(CompositeError::Unsupported(Os::Windows));
    }
    let s = discover(entry, r)?;
    let steps = recipe(&s, r);
    let dir = entry.join(DIR);
    let tmp = crate::fsx::temp_sibling(&dir);
    let _ = writeln!(
        log,
        "assembling the composite CUDA {} toolkit (CUDA {} front end) in {}",
        r.backend,
        r.frontend,
        dir.display()
    );
    let result = (|| {
        execute(&steps, &tmp)?;
        fs_err::write(tmp.join("RECIPE.txt"), describe(&steps, r, entry))?;
        if dir.exists() {
            fs_err::remove_dir_all(&dir)?;
        }
        fs_err::rename(&tmp, &dir)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs_err::remove_dir_all(&tmp);
    }
    result.map(|()| dir)
}

fn tool_version(program: &Path) -> Result<Option<CudaVersion>, CompositeError> {
    let sh = Shell::new()?;
    let out = sh
        .cmd(program)
        .arg("--version")
        .quiet()
        .ignore_status()
        .output()?;
    Ok(parse_nvcc_version(&String::from_utf8_lossy(&out.stdout)))
}

/// The assembled toolkit as the build sees it: nvcc of the front end, whose
/// ptxas, headers and runtime are the back end's. Checks that nvcc reports
/// the front end's version and ptxas the back end's.
///
/// `version` is the back end's: it is what the objects need at run time.
/// `compression` is [`FatbinCompression::CompressMode`]: the fatbinary
/// wrapper turns every compression request into LZ4 (or none).
pub fn layout(entry: &Path, r: &Recipe) -> Result<CudaLayout, CompositeError> {
    let root = entry.join(DIR);
    let nvcc = root.join("bin/nvcc");
    if !nvcc.is_file() {
        return Err(CompositeError::Missing {
            dir: entry.to_path_buf(),
            what: format!("{DIR}/bin/nvcc"),
            hint: "the composite toolkit was not assembled".into(),
        });
    }
    for (tool, want) in [(&nvcc, r.frontend), (&root.join("bin/ptxas"), r.backend)] {
        let found = tool_version(tool)?;
        if found != Some(want) {
            return Err(CompositeError::Version {
                what: format!("`{} --version`", tool.display()),
                found: found.map_or("unreadable".into(), |v| v.to_string()),
                wanted: want.to_string(),
            });
        }
    }
    Ok(CudaLayout {
        root: root.clone(),
        version: r.backend,
        nvcc,
        include_dirs: vec![root.join("include"), root.join("include/cccl")],
        lib_dir: root.join("lib"),
        cudart: r.cudart(),
        compression: FatbinCompression::CompressMode,
    })
}
