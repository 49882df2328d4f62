//! What an installed toolkit or torch tree looks like: where nvcc, the CUDA
//! headers, the CUDA runtime, torch's headers and link libraries are, and
//! which C++ ABI torch was built with (read from its files, never assumed).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::platform::Os;
use crate::versions::CudaVersion;

/// What an installed toolkit or torch tree lacks. Displays as the missing
/// thing alone (`` `bin/nvcc` under …``), for the caller's "… lacks {it}".
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LayoutError {
    /// A file or directory that must exist. Ex) `` `…/torch/version.py` ``
    #[error("`{}`", .0.display())]
    Missing(PathBuf),
    /// No package directory of a wheel install has nvcc.
    #[error("`bin/{nvcc}` under {}/nvidia/*", dir.display())]
    NoWheelNvcc { nvcc: &'static str, dir: PathBuf },
    /// No include directory of a wheel install has `cuda_runtime.h`.
    #[error("`include/cuda_runtime.h` (the CUDA runtime package)")]
    NoRuntimeHeaders,
    /// No library directory of a wheel install has the runtime.
    #[error("`{cudart}` (the CUDA runtime package)")]
    NoWheelRuntime { cudart: String },
    /// No library directory of a CUDA install has the runtime.
    #[error("`{cudart}` under {}", root.display())]
    NoInstallRuntime { cudart: String, root: PathBuf },
    /// torch's `version.py` has no `__version__`.
    #[error("`__version__` in {}", .0.display())]
    NoTorchVersion(PathBuf),
    /// None of torch's files states its C++ ABI.
    #[error("the C++ ABI of the torch at {} (no _GLIBCXX_USE_CXX11_ABI in its cmake files, \
             no literal compiled_with_cxx11_abi() in __init__.py, no std::string symbols in lib/libc10.so)",
            .0.display())]
    UnknownCxxAbi(PathBuf),
    /// None of torch's files states its C++ standard.
    #[error("the C++ standard of the torch at {} (no `common_cflags += ['-std=c++NN'` in \
             utils/cpp_extension.py, no cxx_std_NN in {TORCH_CONFIG})",
            .0.display())]
    UnknownCxxStd(PathBuf),
}

/// torch's cmake config, relative to the torch package directory.
const TORCH_CONFIG: &str = "share/cmake/Torch/TorchConfig.cmake";

/// How nvcc is asked for compressed fatbins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FatbinCompression {
    /// `--compress-mode=default` (CUDA ≥ 12.4 understands it).
    CompressMode,
    /// `-Xfatbin=-compress-all` (older toolkits).
    CompressAll,
}

/// A CUDA toolkit on disk. Ex) nvcc at `<cache>/toolkits/cuda13.0-…/nvidia/cu13/bin/nvcc`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaLayout {
    pub root: PathBuf,
    pub version: CudaVersion,
    pub nvcc: PathBuf,
    /// Every include directory the toolkit's packages ship, sorted.
    pub include_dirs: Vec<PathBuf>,
    /// The directory holding the CUDA runtime link library.
    pub lib_dir: PathBuf,
    /// The runtime link library's file name. Ex) `libcudart.so.13`, `cudart.lib`
    pub cudart: String,
    pub compression: FatbinCompression,
}

/// torch's `_GLIBCXX_USE_CXX11_ABI` and which file said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CxxAbi {
    /// None on Windows (MSVC has no such switch).
    pub cxx11: Option<bool>,
    /// Ex) `torch/__init__.py: compiled_with_cxx11_abi() returns True`
    pub source: String,
}

/// The C++ standard torch's headers are compiled with, and which file said so.
/// Ex) 20 from `torch/utils/cpp_extension.py: common_cflags += ['-std=c++20', …]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CxxStd {
    /// Ex) 17, 20
    pub year: u32,
    pub source: String,
}

/// A torch package tree. Ex) root `<cache>/torch/torch2.11.0-…/torch`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorchLayout {
    pub root: PathBuf,
    /// `torch.__version__`. Ex) `2.11.0+cu130`
    pub version: String,
    /// `torch.version.cuda`. Ex) `13.0`; None for a CPU build.
    pub cuda: Option<String>,
    pub abi: CxxAbi,
    /// What torch's own extension builder passes (`-std=c++NN`).
    pub cxx_std: CxxStd,
    pub include_dirs: Vec<PathBuf>,
    pub lib_dir: PathBuf,
    /// File names in `lib_dir` (the libraries the wheel may need from torch).
    pub libs: Vec<String>,
}

impl TorchLayout {
    /// The key files whose sha256 the cache manifest records.
    pub fn key_files(&self) -> Vec<PathBuf> {
        let mut v = vec![
            self.root.join("version.py"),
            self.root.join("include/torch/library.h"),
        ];
        for l in ["libc10.so", "c10.lib"] {
            if self.lib_dir.join(l).is_file() {
                v.push(self.lib_dir.join(l));
            }
        }
        v
    }

    /// The link libraries bindings need, as file names in `lib_dir` per OS.
    pub fn link_libs() -> [&'static str; 5] {
        ["torch", "torch_cpu", "c10", "torch_cuda", "c10_cuda"]
    }
}

impl CudaLayout {
    pub fn key_files(&self) -> Vec<PathBuf> {
        let mut v = vec![self.nvcc.clone(), self.lib_dir.join(&self.cudart)];
        if let Some(h) = self
            .include_dirs
            .iter()
            .map(|d| d.join("cuda_runtime.h"))
            .find(|p| p.is_file())
        {
            v.push(h);
        }
        v
    }
}

/// The directories directly inside `dir`, sorted; none if it cannot be read.
pub(crate) fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match fs_err::read_dir(dir) {
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

/// The runtime link library name for a CUDA major on an OS.
pub fn cudart_name(os: Os, major: u32) -> String {
    match os {
        // CUDA 13's runtime wheel ships no unversioned `libcudart.so`.
        Os::Linux => format!("libcudart.so.{major}"),
        Os::Windows => "cudart.lib".to_string(),
    }
}

/// Parses `nvcc --version`. Ex) `Cuda compilation tools, release 13.0, V13.0.88`
pub fn parse_nvcc_version(text: &str) -> Option<CudaVersion> {
    let i = text.find("release ")?;
    let rest = &text[i + "release ".len()..];
    let end = rest.find(|c: char| c == ',' || c.is_whitespace())?;
    rest[..end].parse().ok()
}

/// Finds nvcc, headers and the runtime in a directory that NVIDIA's wheels
/// were installed into with `--target` (`nvidia/<pkg>/{bin,include,lib}`;
/// CUDA 13 merges them under `nvidia/cu13/`). Err names what is missing.
pub fn find_wheel_toolkit(dir: &Path, os: Os, major: u32) -> Result<CudaLayoutParts, LayoutError> {
    let pkgs = subdirs(&dir.join("nvidia"));
    let nvcc_name = match os {
        Os::Linux => "nvcc",
        Os::Windows => "nvcc.exe",
    };
    let nvcc = pkgs
        .iter()
        .map(|p| p.join("bin").join(nvcc_name))
        .find(|p| p.is_file())
        .ok_or_else(|| LayoutError::NoWheelNvcc {
            nvcc: nvcc_name,
            dir: dir.to_path_buf(),
        })?;
    let include_dirs: Vec<PathBuf> = pkgs
        .iter()
        .map(|p| p.join("include"))
        .filter(|p| p.is_dir())
        .collect();
    if !include_dirs
        .iter()
        .any(|d| d.join("cuda_runtime.h").is_file())
    {
        return Err(LayoutError::NoRuntimeHeaders);
    }
    let cudart = cudart_name(os, major);
    let lib_candidates: Vec<PathBuf> = pkgs
        .iter()
        .flat_map(|p| match os {
            Os::Linux => vec![p.join("lib")],
            Os::Windows => vec![p.join("lib").join("x64"), p.join("Lib").join("x64")],
        })
        .collect();
    let lib_dir = lib_candidates
        .into_iter()
        .find(|d| d.join(&cudart).is_file())
        .ok_or_else(|| LayoutError::NoWheelRuntime {
            cudart: cudart.clone(),
        })?;
    Ok(CudaLayoutParts {
        nvcc,
        include_dirs,
        lib_dir,
        cudart,
    })
}

/// Paths found before nvcc is asked for its version and flags.
#[derive(Debug, Clone)]
pub struct CudaLayoutParts {
    pub nvcc: PathBuf,
    pub include_dirs: Vec<PathBuf>,
    pub lib_dir: PathBuf,
    pub cudart: String,
}

/// Finds nvcc, headers and runtime in a classic CUDA install (`CUDA_HOME`).
pub fn find_install_toolkit(
    root: &Path,
    os: Os,
    major: u32,
) -> Result<CudaLayoutParts, LayoutError> {
    let nvcc = root.join("bin").join(match os {
        Os::Linux => "nvcc",
        Os::Windows => "nvcc.exe",
    });
    if !nvcc.is_file() {
        return Err(LayoutError::Missing(nvcc));
    }
    let mut include_dirs = vec![root.join("include")];
    let targets = root.join("targets");
    for t in subdirs(&targets) {
        if t.join("include").is_dir() {
            include_dirs.push(t.join("include"));
        }
    }
    include_dirs.retain(|d| d.is_dir());
    include_dirs.dedup();
    let cudart = cudart_name(os, major);
    let mut libs = match os {
        Os::Linux => vec![root.join("lib64"), root.join("lib")],
        Os::Windows => vec![root.join("lib").join("x64")],
    };
    for t in subdirs(&targets) {
        libs.push(t.join("lib"));
    }
    let lib_dir = libs
        .into_iter()
        .find(|d| d.join(&cudart).exists())
        .ok_or_else(|| LayoutError::NoInstallRuntime {
            cudart: cudart.clone(),
            root: root.to_path_buf(),
        })?;
    Ok(CudaLayoutParts {
        nvcc,
        include_dirs,
        lib_dir,
        cudart,
    })
}

/// Reads `__version__` and `cuda` from torch's `version.py`.
pub fn parse_torch_version_py(text: &str) -> Option<(String, Option<String>)> {
    let quoted = |line: &str| -> Option<String> {
        let (_, rhs) = line.split_once('=')?;
        let rhs = rhs.trim();
        if rhs == "None" {
            return None;
        }
        let q = rhs.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let inner = &rhs[1..];
        Some(inner[..inner.find(q)?].to_string())
    };
    let mut version = None;
    let mut cuda = None;
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with("__version__") {
            version = quoted(l);
        } else if l.starts_with("cuda:") || l.starts_with("cuda =") || l.starts_with("cuda=") {
            cuda = quoted(l);
        }
    }
    Some((version?, cuda))
}

/// `-D_GLIBCXX_USE_CXX11_ABI=N` in a cmake file (older torch sets it in
/// `TORCH_CXX_FLAGS` of TorchConfig.cmake).
pub fn abi_from_cmake(text: &str) -> Option<bool> {
    let i = text.find("_GLIBCXX_USE_CXX11_ABI=")?;
    match text[i + "_GLIBCXX_USE_CXX11_ABI=".len()..].chars().next()? {
        '1' => Some(true),
        '0' => Some(false),
        _ => None,
    }
}

/// The literal body of `def compiled_with_cxx11_abi()` in torch/__init__.py
/// (torch ≥ 2.10 returns a constant there).
pub fn abi_from_init_py(text: &str) -> Option<bool> {
    let i = text.find("def compiled_with_cxx11_abi(")?;
    let body = &text[i..];
    let r = body.find("return ")?;
    // Only the function's own first return statement, within a few lines.
    if body[..r].lines().count() > 4 {
        return None;
    }
    let expr = body[r + "return ".len()..].lines().next()?.trim();
    match expr {
        "True" => Some(true),
        "False" => Some(false),
        _ => None,
    }
}

/// Whether an ELF shared library exports C++11-ABI names (`B5cxx11`, the
/// mangled `std::__cxx11::` tag). Used when no text file states the ABI.
pub fn abi_from_elf(data: &[u8]) -> Option<bool> {
    use object::read::elf::{FileHeader, Sym};
    let elf = object::elf::FileHeader64::<object::Endianness>::parse(data).ok()?;
    let endian = elf.endian().ok()?;
    let sections = elf.sections(endian, data).ok()?;
    let syms = sections
        .symbols(endian, data, object::elf::SHT_DYNSYM)
        .ok()?;
    let mut any = false;
    for s in syms.iter() {
        if s.is_undefined(endian) {
            continue;
        }
        if let Ok(name) = s.name(endian, syms.strings()) {
            if name.windows(7).any(|w| w == b"B5cxx11") {
                return Some(true);
            }
            if name.windows(14).any(|w| w == b"basic_stringIc") {
                any = true;
            }
        }
    }
    // Exports std::string in its signatures but never with the cxx11 tag.
    any.then_some(false)
}

/// Reads torch's C++ ABI from its files: TorchConfig.cmake / Caffe2Config.cmake,
/// then `compiled_with_cxx11_abi` in `__init__.py`, then libc10's symbols.
pub fn read_cxx_abi(torch_root: &Path, os: Os) -> Result<CxxAbi, LayoutError> {
    if os == Os::Windows {
        return Ok(CxxAbi {
            cxx11: None,
            source: "MSVC (no _GLIBCXX_USE_CXX11_ABI)".into(),
        });
    }
    for rel in [
        "share/cmake/Torch/TorchConfig.cmake",
        "share/cmake/Caffe2/Caffe2Config.cmake",
    ] {
        if let Ok(text) = fs_err::read_to_string(torch_root.join(rel)) {
            if let Some(v) = abi_from_cmake(&text) {
                return Ok(CxxAbi {
                    cxx11: Some(v),
                    source: format!("torch/{rel}: -D_GLIBCXX_USE_CXX11_ABI={}", v as u8),
                });
            }
        }
    }
    if let Ok(text) = fs_err::read_to_string(torch_root.join("__init__.py")) {
        if let Some(v) = abi_from_init_py(&text) {
            return Ok(CxxAbi {
                cxx11: Some(v),
                source: format!(
                    "torch/__init__.py: compiled_with_cxx11_abi() returns {}",
                    if v { "True" } else { "False" }
                ),
            });
        }
    }
    let c10 = torch_root.join("lib/libc10.so");
    if let Ok(data) = fs_err::read(&c10) {
        if let Some(v) = abi_from_elf(&data) {
            return Ok(CxxAbi {
                cxx11: Some(v),
                source: format!(
                    "torch/lib/libc10.so exports {} std::string symbols",
                    if v { "__cxx11" } else { "old-ABI" }
                ),
            });
        }
    }
    Err(LayoutError::UnknownCxxAbi(torch_root.to_path_buf()))
}

/// The standard in the first `-std=c++NN` / `/std:c++NN` of `text`, if any.
fn std_at(text: &str) -> Option<u32> {
    for pat in ["-std=c++", "/std:c++"] {
        if let Some(i) = text.find(pat) {
            let digits: String = text[i + pat.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if let Ok(n) = digits.parse::<u32>() {
                if matches!(n, 11 | 14 | 17 | 20 | 23 | 26) {
                    return Some(n);
                }
            }
        }
    }
    None
}

/// The flag torch's extension builder adds for every host C++ compile, from
/// `torch/utils/cpp_extension.py`: the `common_cflags += ['-std=c++NN', …]`
/// line (Unix ninja builds). Docstring examples do not count.
pub fn std_from_cpp_extension(text: &str) -> Option<u32> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("common_cflags += [") && !l.starts_with('#'))
        .find_map(std_at)
}

/// `target_compile_features(torch INTERFACE cxx_std_NN)` or
/// `CMAKE_CXX_STANDARD NN` in torch's cmake config.
pub fn std_from_cmake(text: &str) -> Option<u32> {
    let mut best = None;
    for l in text.lines().map(str::trim) {
        if l.starts_with('#') {
            continue;
        }
        let n = if let Some(i) = l.find("INTERFACE cxx_std_") {
            l[i + "INTERFACE cxx_std_".len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse()
                .ok()
        } else if let Some(i) = l.find("CMAKE_CXX_STANDARD ") {
            l[i + "CMAKE_CXX_STANDARD ".len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse()
                .ok()
        } else {
            None
        };
        best = best.max(n);
    }
    best
}

/// Reads the C++ standard torch's headers need from torch's own files:
/// `utils/cpp_extension.py` (what torch passes when it builds extensions),
/// else its cmake config. Never assumed: a tree that says neither is an error.
pub fn read_cxx_std(torch_root: &Path) -> Result<CxxStd, LayoutError> {
    let ext = torch_root.join("utils/cpp_extension.py");
    if let Ok(text) = fs_err::read_to_string(&ext) {
        if let Some(year) = std_from_cpp_extension(&text) {
            return Ok(CxxStd {
                year,
                source: format!("torch/utils/cpp_extension.py: common_cflags has -std=c++{year}"),
            });
        }
    }
    let rel = TORCH_CONFIG;
    if let Ok(text) = fs_err::read_to_string(torch_root.join(rel)) {
        if let Some(year) = std_from_cmake(&text) {
            return Ok(CxxStd {
                year,
                source: format!("torch/{rel}: cxx_std_{year}"),
            });
        }
    }
    Err(LayoutError::UnknownCxxStd(torch_root.to_path_buf()))
}

/// Finds torch's headers and libraries under a torch package directory.
pub fn find_torch(torch_root: &Path, os: Os) -> Result<TorchLayout, LayoutError> {
    let vp = torch_root.join("version.py");
    let text = fs_err::read_to_string(&vp).map_err(|_| LayoutError::Missing(vp.clone()))?;
    let (version, cuda) =
        parse_torch_version_py(&text).ok_or_else(|| LayoutError::NoTorchVersion(vp.clone()))?;
    let include = torch_root.join("include");
    let api = include.join("torch/csrc/api/include");
    for d in [&include, &api] {
        if !d.is_dir() {
            return Err(LayoutError::Missing(d.to_path_buf()));
        }
    }
    let lib_dir = torch_root.join("lib");
    let mut libs: Vec<String> = fs_err::read_dir(&lib_dir)
        .map_err(|_| LayoutError::Missing(lib_dir.clone()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    libs.sort();
    for l in TorchLayout::link_libs() {
        let file = match os {
            Os::Linux => format!("lib{l}.so"),
            Os::Windows => format!("{l}.lib"),
        };
        if !libs.contains(&file) {
            return Err(LayoutError::Missing(lib_dir.join(file)));
        }
    }
    let abi = read_cxx_abi(torch_root, os)?;
    let cxx_std = read_cxx_std(torch_root)?;
    Ok(TorchLayout {
        root: torch_root.to_path_buf(),
        version,
        cuda,
        abi,
        cxx_std,
        include_dirs: vec![include, api],
        lib_dir,
        libs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvcc_version() {
        let t = "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 13.0, V13.0.88\nBuild cuda_13.0.r13.0/compiler.36424714_0\n";
        assert_eq!(parse_nvcc_version(t), Some("13.0".parse().unwrap()));
        assert_eq!(parse_nvcc_version("garbage"), None);
    }

    #[test]
    fn version_py() {
        let new = "__version__ = '2.11.0+cu130'\ndebug = False\ncuda: Optional[str] = '13.0'\n";
        assert_eq!(
            parse_torch_version_py(new),
            Some(("2.11.0+cu130".into(), Some("13.0".into())))
        );
        let old = "__version__ = '2.8.0+cu128'\ncuda = '12.8'\n";
        assert_eq!(
            parse_torch_version_py(old),
            Some(("2.8.0+cu128".into(), Some("12.8".into())))
        );
        let cpu = "__version__ = '2.8.0+cpu'\ncuda: Optional[str] = None\n";
        assert_eq!(
            parse_torch_version_py(cpu),
            Some(("2.8.0+cpu".into(), None))
        );
    }

    #[test]
    fn cxx_standard_from_torch_files() {
        // torch 2.11's and 2.14's cpp_extension.py, abridged: docstring
        // examples name other standards and must not count.
        let t211 = "    minimum required compiler flags (e.g. ``-std=c++17``) as well as mixed\n\
                    ...  extra_compile_args={'cxx': ['-g', '-std=c++20', '-fPIC']})\n\
                    \x20   common_cflags += ['-std=c++17', '-fPIC']\n\
                    \x20       cflags = common_cflags + ['/std:c++17'] + extra_cflags\n";
        assert_eq!(std_from_cpp_extension(t211), Some(17));
        let t214 = "    common_cflags += ['-std=c++20', '-fPIC']\n";
        assert_eq!(std_from_cpp_extension(t214), Some(20));
        assert_eq!(std_from_cpp_extension("cflags = ['-std=c++20']\n"), None);
        assert_eq!(
            std_from_cpp_extension("# common_cflags += ['-std=c++20']\n"),
            None
        );
        // torch 2.15's TorchConfig.cmake.
        let cmake = "  if(\"cxx_std_20\" IN_LIST CMAKE_CXX_COMPILE_FEATURES)\n\
                     \x20   target_compile_features(torch INTERFACE cxx_std_20)\n";
        assert_eq!(std_from_cmake(cmake), Some(20));
        assert_eq!(std_from_cmake("set(CMAKE_CXX_STANDARD 17)\n"), Some(17));
        assert_eq!(
            std_from_cmake("set(TORCH_CXX_FLAGS \"-D_GLIBCXX_USE_CXX11_ABI=1\")\n"),
            None
        );
    }

    #[test]
    fn abi_text_sources() {
        assert_eq!(
            abi_from_cmake("set(TORCH_CXX_FLAGS \"-D_GLIBCXX_USE_CXX11_ABI=0\")"),
            Some(false)
        );
        assert_eq!(abi_from_cmake("set(TORCH_CXX_FLAGS )"), None);
        let init = "def compiled_with_cxx11_abi() -> builtins.bool:\n    r\"\"\"Returns whether PyTorch was built with _GLIBCXX_USE_CXX11_ABI=1\"\"\"\n    return True\n";
        assert_eq!(abi_from_init_py(init), Some(true));
        let dynamic = "def compiled_with_cxx11_abi() -> builtins.bool:\n    r\"\"\"doc\"\"\"\n    return _C._GLIBCXX_USE_CXX11_ABI\n";
        assert_eq!(abi_from_init_py(dynamic), None);
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("attnfarm-layout-{name}-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&d);
        fs_err::create_dir_all(&d).unwrap();
        d
    }

    fn put(root: &Path, rel: &str) {
        let p = root.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, "").unwrap();
    }

    /// Each missing piece of a wheel toolkit, in the order they are looked
    /// for, with the text the "… lacks {it}" messages quote.
    #[test]
    fn wheel_toolkit_names_what_is_missing() {
        let d = tmpdir("wheel");
        let e = find_wheel_toolkit(&d, Os::Linux, 13).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("`bin/nvcc` under {}/nvidia/*", d.display())
        );
        assert!(matches!(e, LayoutError::NoWheelNvcc { nvcc: "nvcc", .. }));
        put(&d, "nvidia/cu13/bin/nvcc");
        let e = find_wheel_toolkit(&d, Os::Linux, 13).unwrap_err();
        assert_eq!(e, LayoutError::NoRuntimeHeaders);
        assert_eq!(
            e.to_string(),
            "`include/cuda_runtime.h` (the CUDA runtime package)"
        );
        put(&d, "nvidia/cu13/include/cuda_runtime.h");
        let e = find_wheel_toolkit(&d, Os::Linux, 13).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`libcudart.so.13` (the CUDA runtime package)"
        );
        put(&d, "nvidia/cu13/lib/libcudart.so.13");
        let parts = find_wheel_toolkit(&d, Os::Linux, 13).unwrap();
        assert_eq!(parts.lib_dir, d.join("nvidia/cu13/lib"));
        let _ = fs_err::remove_dir_all(&d);
    }

    #[test]
    fn install_toolkit_names_what_is_missing() {
        let d = tmpdir("install");
        let e = find_install_toolkit(&d, Os::Linux, 12).unwrap_err();
        assert_eq!(e, LayoutError::Missing(d.join("bin/nvcc")));
        assert_eq!(e.to_string(), format!("`{}`", d.join("bin/nvcc").display()));
        put(&d, "bin/nvcc");
        let e = find_install_toolkit(&d, Os::Linux, 12).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("`libcudart.so.12` under {}", d.display())
        );
        put(&d, "lib64/libcudart.so.12");
        assert!(find_install_toolkit(&d, Os::Linux, 12).is_ok());
        let _ = fs_err::remove_dir_all(&d);
    }

    #[test]
    fn torch_tree_names_what_is_missing() {
        let d = tmpdir("torch");
        let e = find_torch(&d, Os::Linux).unwrap_err();
        assert_eq!(e, LayoutError::Missing(d.join("version.py")));
        fs_err::write(d.join("version.py"), "debug = False\n").unwrap();
        let e = find_torch(&d, Os::Linux).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("`__version__` in {}", d.join("version.py").display())
        );
        fs_err::write(d.join("version.py"), "__version__ = '2.9.1+cu128'\n").unwrap();
        assert_eq!(
            find_torch(&d, Os::Linux).unwrap_err(),
            LayoutError::Missing(d.join("include"))
        );
        fs_err::create_dir_all(d.join("include/torch/csrc/api/include")).unwrap();
        fs_err::create_dir_all(d.join("lib")).unwrap();
        for l in TorchLayout::link_libs() {
            put(&d, &format!("lib/lib{l}.so"));
        }
        let e = find_torch(&d, Os::Linux).unwrap_err();
        assert_eq!(e, LayoutError::UnknownCxxAbi(d.clone()));
        assert_eq!(
            e.to_string(),
            format!(
                "the C++ ABI of the torch at {} (no _GLIBCXX_USE_CXX11_ABI in its cmake files, \
                 no literal compiled_with_cxx11_abi() in __init__.py, no std::string symbols in \
                 lib/libc10.so)",
                d.display()
            )
        );
        fs_err::write(
            d.join("__init__.py"),
            "def compiled_with_cxx11_abi() -> builtins.bool:\n    return True\n",
        )
        .unwrap();
        let e = find_torch(&d, Os::Linux).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the C++ standard of the torch at {} (no `common_cflags += ['-std=c++NN'` in \
                 utils/cpp_extension.py, no cxx_std_NN in share/cmake/Torch/TorchConfig.cmake)",
                d.display()
            )
        );
        fs_err::create_dir_all(d.join("utils")).unwrap();
        fs_err::write(
            d.join("utils/cpp_extension.py"),
            "    common_cflags += ['-std=c++17', '-fPIC']\n",
        )
        .unwrap();
        let t = find_torch(&d, Os::Linux).unwrap();
        assert_eq!(
            (t.version.as_str(), t.abi.cxx11, t.cxx_std.year),
            ("2.9.1+cu128", Some(true), 17)
        );
        let _ = fs_err::remove_dir_all(&d);
    }

    #[test]
    fn cudart_names() {
        assert_eq!(cudart_name(Os::Linux, 13), "libcudart.so.13");
        assert_eq!(cudart_name(Os::Linux, 12), "libcudart.so.12");
        assert_eq!(cudart_name(Os::Windows, 13), "cudart.lib");
    }
}
