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
//! Pure: [`Recipe`], [`recipe`], the generated texts, [`lower_ptx_version`],
//! [`fatbin_entries`]. I/O: [`discover`], [`assemble`], [`layout`].
//! Linux only: the wrappers are POSIX shell scripts.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;
use xshell::Shell;

use super::layout::{cudart_name, parse_nvcc_version, CudaLayout, FatbinCompression};
use crate::platform::Os;
use crate::versions::CudaVersion;

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
    #[error("no PTX ISA version is known for CUDA {0} (known: {known}); add it to `ptx_isa` in xtask/src/toolchain/composite.rs after checking that toolkit's ptxas", known = known_isas())]
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

const ISAS: &[((u32, u32), (u32, u32))] = &[
    // Checked here: ptxas 12.8.93 says "Unsupported .version 8.8; current
    // version is '8.7'"; cicc 13.0.88 writes `.version 9.0`.
    ((12, 8), (8, 7)),
    // From NVIDIA's PTX ISA release history (not checked here).
    ((12, 9), (8, 8)),
    ((13, 0), (9, 0)),
];

fn known_isas() -> String {
    ISAS.iter()
        .map(|((a, b), (c, d))| format!("CUDA {a}.{b} → {c}.{d}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The PTX ISA version a toolkit's compiler writes and its ptxas accepts at most.
pub fn ptx_isa(cuda: CudaVersion) -> Option<PtxIsa> {
    ISAS.iter()
        .find(|(c, _)| *c == (cuda.major, cuda.minor))
        .map(|(_, (major, minor))| PtxIsa {
            major: *major,
            minor: *minor,
        })
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

/// The PTX rewrite the cicc wrapper does, as a function: the one line
/// `.version <from>` becomes `.version <to>`; any other `.version` is an error.
pub fn lower_ptx_version(text: &str, from: PtxIsa, to: PtxIsa) -> Result<String, CompositeError> {
    let want = format!(".version {from}");
    let versions: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(".version "))
        .collect();
    if versions != [want.as_str()] {
        return Err(CompositeError::Ptx(format!(
            "expected one `{want}` line, found {versions:?}"
        )));
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        if body == want {
            out.push_str(&format!(".version {to}{end}"));
        } else {
            out.push_str(line);
        }
    }
    Ok(out)
}

fn regex_escape_dots(v: PtxIsa) -> String {
    format!("{}\\.{}", v.major, v.minor)
}

/// `nvvm/bin/cicc`: the real cicc, then the `.version` rewrite (see
/// [`lower_ptx_version`]), checked.
pub fn cicc_wrapper(r: &Recipe) -> String {
    let from = regex_escape_dots(r.from_isa);
    let to = regex_escape_dots(r.to_isa);
    format!(
        r#"#!/bin/sh
# Generated by attnfarm (xtask/src/toolchain/composite.rs, {id}).
# cicc of the CUDA {fe} front end, then the PTX ISA version of its output
# lowered from {fi} to {ti}: the newest the CUDA {be} ptxas and a CUDA {be}
# driver's JIT accept. ptxas {be} then assembles (and so checks) that PTX.
set -eu
here=$(dirname "$0")
out=
prev=
for arg in "$@"; do
  if [ "$prev" = "-o" ]; then out=$arg; fi
  prev=$arg
done
case "$out" in
  *.ptx) ;;
  *) echo "attnfarm composite cicc: expected \`-o <file>.ptx\`, got \`-o $out\` (this toolkit compiles CUDA to PTX only: no LTO IR)" >&2; exit 1 ;;
esac
"$here/../../libexec/cicc" "$@"
tmp="$out.attnfarm-tmp"
sed -e 's/^\.version {from}$/.version {ti}/' "$out" > "$tmp"
if [ "$(grep -c '^\.version ' "$tmp" || true)" != 1 ] || ! grep -qx '\.version {to}' "$tmp"; then
  echo "attnfarm composite cicc: $out: expected one \`.version {fi}\` line from cicc {fe}, found: $(grep '^\.version ' "$out" | tr '\n' ' ')" >&2
  rm -f "$tmp"
  exit 1
fi
mv "$tmp" "$out"
"#,
        id = RECIPE_ID,
        fe = r.frontend,
        be = r.backend,
        fi = r.from_isa,
        ti = r.to_isa,
    )
}

/// `bin/fatbinary`: the real fatbinary with LZ4 for every entry, or none.
pub fn fatbinary_wrapper(r: &Recipe) -> String {
    format!(
        r#"#!/bin/sh
# Generated by attnfarm (xtask/src/toolchain/composite.rs, {id}).
# fatbinary of the CUDA {fe} front end, with LZ4 compression for every entry
# (-compress-all --compress-mode=speed) or none (--compress-mode=none): every
# CUDA {major} driver reads those. The {fe} fatbinary uses ZSTD for
# --compress-mode=default/balance/size and for -compress-all alone, which
# CUDA {major} drivers before 550.54.14 cannot read.
set -eu
here=$(dirname "$0")
mode=lz4
for arg in "$@"; do
  case "$arg" in
    --compress-mode=none|-compress-mode=none) mode=none ;;
    --compress-mode|-compress-mode) echo "attnfarm composite fatbinary: write --compress-mode=<mode>" >&2; exit 1 ;;
  esac
done
i=0
for arg in "$@"; do
  i=$((i + 1))
  if [ "$i" = 1 ]; then set --; fi
  case "$arg" in
    --compress-mode=*|-compress-mode=*|--compress-all|-compress-all|--compress=*|-compress=*) ;;
    *) set -- "$@" "$arg" ;;
  esac
done
if [ "$mode" = none ]; then
  exec "$here/../libexec/fatbinary" "$@" --compress-mode=none
fi
exec "$here/../libexec/fatbinary" "$@" -compress-all --compress-mode=speed
"#,
        id = RECIPE_ID,
        fe = r.frontend,
        major = r.backend.major,
    )
}

/// `bin/nvcc.profile`: every tool, header and library nvcc uses is inside
/// the composite directory (`_HERE_` is the directory of the nvcc it runs).
pub fn nvcc_profile(r: &Recipe) -> String {
    format!(
        r#"# Generated by attnfarm (xtask/src/toolchain/composite.rs, {id}):
# CUDA {fe} front end, CUDA {be} back end. See docs/toolchains.md.
TOP              = $(_HERE_)/..
CICC_PATH        = $(TOP)/nvvm/bin
NVVMIR_LIBRARY_DIR = $(TOP)/nvvm/libdevice
PATH            += $(CICC_PATH):$(_HERE_):
INCLUDES        +=  "-I$(TOP)/include" $(_SPACE_)
SYSTEM_INCLUDES +=  "-isystem" "$(TOP)/include/cccl" $(_SPACE_)
LIBRARIES        =+ $(_SPACE_) "-L$(TOP)/lib"
CUDAFE_FLAGS    +=
PTXAS_FLAGS     +=
"#,
        id = RECIPE_ID,
        fe = r.frontend,
        be = r.backend,
    )
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

fn package_dirs(entry: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match fs_err::read_dir(entry.join("nvidia")) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// `#define CUDART_VERSION 12080` in cuda_runtime_api.h. Ex) Some(12.8)
pub fn parse_cudart_version(header: &str) -> Option<CudaVersion> {
    let line = header
        .lines()
        .find(|l| l.trim_start().starts_with("#define CUDART_VERSION"))?;
    let n: u32 = line.split_whitespace().nth(2)?.parse().ok()?;
    Some(CudaVersion::new(n / 1000, (n % 1000) / 10))
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
    let tmp = entry.join(format!(".{DIR}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs_err::remove_dir_all(&tmp)?;
    }
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

/// How one fatbin entry is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// Flag 0x2000; every CUDA driver since 11.x reads it.
    Lz4,
    /// Flag 0x8000; CUDA 12 drivers from 550.54.14 (and CUDA 13's) read it.
    Zstd,
}

/// One entry of a fatbin. Ex) `Elf` for sm_90, LZ4
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FatbinEntry {
    /// 1: PTX, 2: ELF (SASS).
    pub kind: u16,
    /// Ex) 90, 120
    pub arch: u32,
    pub compression: Compression,
}

impl FatbinEntry {
    pub fn is_ptx(&self) -> bool {
        self.kind == 1
    }
    pub fn is_sass(&self) -> bool {
        self.kind == 2
    }
}

/// The entries of every fatbin container (magic 0xBA55ED50) in `data`, e.g.
/// an object's `.nv_fatbin` section. Pure; stops at anything malformed.
pub fn fatbin_entries(data: &[u8]) -> Vec<FatbinEntry> {
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let mut out = Vec::new();
    let mut off = 0usize;
    while let (Some(magic), Some(hsz), Some(size)) = (u32_at(off), u16_at(off + 6), u64_at(off + 8))
    {
        if magic != 0xBA55_ED50 {
            // Containers are 8-byte aligned inside a section.
            off += 8;
            continue;
        }
        let end = off + hsz as usize + size as usize;
        let mut p = off + hsz as usize;
        while p < end {
            let (Some(kind), Some(esz), Some(asz), Some(arch), Some(flags)) = (
                u16_at(p),
                u32_at(p + 4),
                u64_at(p + 8),
                u32_at(p + 28),
                u64_at(p + 40),
            ) else {
                return out;
            };
            if esz == 0 {
                return out;
            }
            let compression = if flags & 0x8000 != 0 {
                Compression::Zstd
            } else if flags & 0x2000 != 0 {
                Compression::Lz4
            } else {
                Compression::None
            };
            out.push(FatbinEntry {
                kind,
                arch,
                compression,
            });
            p += esz as usize + asz as usize;
        }
        off = end.max(off + 8);
    }
    out
}

/// The fatbin entries of an ELF object or shared library (`.nv_fatbin`).
pub fn object_fatbin_entries(path: &Path) -> Result<Vec<FatbinEntry>, CompositeError> {
    use object::{Object, ObjectSection};
    let data = fs_err::read(path)?;
    let file = object::File::parse(&*data)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
    let Some(section) = file.section_by_name(".nv_fatbin") else {
        return Ok(Vec::new());
    };
    let bytes = section
        .data()
        .map_err(|e| std::io::Error::other(format!("{}: .nv_fatbin: {e}", path.display())))?;
    Ok(fatbin_entries(bytes))
}

#[cfg(test)]
mod tests;
