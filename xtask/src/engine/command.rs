//! Compiler and linker command lines, Linux (nvcc + GNU c++/ld) and Windows
//! (nvcc + MSVC cl.exe/link.exe). Pure: paths in, argv out.
//!
//! Decisions, with reasons:
//! - Kernels: `-O3 -std=c++17`, PIC, hidden visibility (the C entry points are
//!   only called from the bindings inside the same library), one
//!   `-gencode arch=compute_XX,code=sm_XX` per SASS arch plus
//!   `code=compute_YY` for the PTX arch, compressed fatbins.
//! - Bindings: `-std=c++<NN> -O2 -fPIC` with torch's two include roots and
//!   `-D_GLIBCXX_USE_CXX11_ABI=<read from the torch tree>`; the standard is
//!   the one torch's own extension builder uses (read from the torch tree:
//!   torch 2.12+ headers need C++20). The kernels include no torch header and
//!   stay at C++17 whatever torch they end up beside.
//! - Link: `-shared`, `-Wl,--as-needed` (DT_NEEDED lists only libraries the
//!   code really uses), `-Wl,--strip-all` (no `.symtab`: nvcc names local
//!   symbols after its temporary files, which carry the PID, so an unstripped
//!   library differs from build to build; `.dynsym` stays), `-Wl,-z,defs` (every symbol resolves at link time: an
//!   accidental Python C-API reference fails here, not at import), the CUDA
//!   runtime by its versioned file name (`-l:libcudart.so.13`; CUDA 13's
//!   runtime wheel has no unversioned symlink). **No RPATH/RUNPATH**: the
//!   package does `import torch` before loading `_C`, which loads libtorch*,
//!   libc10* and the CUDA runtime torch depends on; the dynamic loader then
//!   satisfies our DT_NEEDED entries by SONAME from the already-loaded
//!   objects. An rpath would hard-code one site-packages layout (and an
//!   absolute build-machine path would leak into the wheel).

use std::path::{Path, PathBuf};

use crate::plan::VariantKind;
use crate::platform::Os;
use crate::toolchain::layout::FatbinCompression;
use crate::versions::{SmArch, TorchMinor};

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// `-ffile-prefix-map=<root>/=`: `<root>/kernels/src/a.cu` becomes `kernels/src/a.cu`.
fn prefix_map(root: &Path) -> String {
    format!("-ffile-prefix-map={}/=", p(root).trim_end_matches('/'))
}

/// The `-gencode` values: SASS for each arch, PTX for `ptx`.
/// Ex) `arch=compute_90a,code=sm_90a`, `arch=compute_120,code=compute_120`
pub fn gencodes(arches: &[SmArch], ptx: Option<SmArch>) -> Vec<String> {
    let mut v: Vec<String> = arches
        .iter()
        .map(|a| format!("arch={},code={a}", a.compute_name()))
        .collect();
    if let Some(x) = ptx {
        v.push(format!("arch={0},code={0}", x.compute_name()));
    }
    v
}

/// The one per-source arch rule: a kernel source named `*_sm90a.cu` holds
/// Hopper-only code (`wgmma`, `setmaxnreg`), so it is compiled as `sm_90a`
/// SASS alone (no PTX) when the variant targets sm_90; for a variant without
/// sm_90 it keeps the variant's arches (its device code then compiles to
/// stubs the host side never selects). Every other source: the variant's.
pub fn arches_for_source(
    src: &Path,
    arches: &[SmArch],
    ptx: Option<SmArch>,
) -> (Vec<SmArch>, Option<SmArch>) {
    let hopper_only = src
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with("_sm90a.cu"));
    if hopper_only && arches.iter().any(|a| a.number == 90) {
        let a90: SmArch = "sm_90a".parse().expect("sm_90a parses");
        return (vec![a90], None);
    }
    (arches.to_vec(), ptx)
}

/// Everything that decides how a kernel source is compiled (not which one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelCompile {
    pub os: Os,
    pub nvcc: PathBuf,
    /// The host compiler nvcc drives. Ex) `g++`, `cl.exe`
    pub host_cxx: String,
    /// `kernels/include` first, then the toolkit's include dirs.
    pub include_dirs: Vec<PathBuf>,
    pub arches: Vec<SmArch>,
    pub ptx: Option<SmArch>,
    pub compression: FatbinCompression,
    /// Linux: `__FILE__` paths under this root are written relative to it
    /// (`-ffile-prefix-map`), so wheels do not depend on the checkout path.
    pub source_root: Option<PathBuf>,
}

impl KernelCompile {
    /// The argv for one `.cu` → object, without `--threads` (which does not
    /// change the output, so it is added at run time and kept out of keys).
    /// The arches follow [`arches_for_source`].
    pub fn argv(&self, src: &Path, out: &Path) -> Vec<String> {
        let (arches, ptx) = arches_for_source(src, &self.arches, self.ptx);
        let mut a = vec![p(&self.nvcc), "-c".into(), p(src), "-o".into(), p(out)];
        a.extend(["-O3", "-std=c++17"].map(String::from));
        a.extend(["-ccbin".into(), self.host_cxx.clone()]);
        match self.os {
            Os::Linux => {
                a.extend(
                    ["-Xcompiler", "-fPIC", "-Xcompiler", "-fvisibility=hidden"].map(String::from),
                );
                if let Some(r) = &self.source_root {
                    a.push("-Xcompiler".into());
                    a.push(prefix_map(r));
                }
            }
            Os::Windows => a.extend(["-Xcompiler", "/MD", "-Xcompiler", "/EHsc"].map(String::from)),
        }
        for d in &self.include_dirs {
            a.push(format!("-I{}", p(d)));
        }
        for g in gencodes(&arches, ptx) {
            a.push("-gencode".into());
            a.push(g);
        }
        match self.compression {
            FatbinCompression::CompressMode => a.push("--compress-mode=default".into()),
            FatbinCompression::CompressAll => a.push("-Xfatbin=-compress-all".into()),
        }
        a
    }
}

/// Everything that decides how a binding source is compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingCompile {
    pub os: Os,
    /// Ex) `g++`, `cl.exe`
    pub cxx: String,
    /// torch's C++ ABI (Linux); None on Windows.
    pub cxx11_abi: Option<bool>,
    /// The C++ standard torch's headers need. Ex) 17, 20
    pub cxx_std: u32,
    /// `kernels/include`, torch's include roots, the toolkit's include dirs.
    pub include_dirs: Vec<PathBuf>,
    /// Linux: see [`KernelCompile::source_root`].
    pub source_root: Option<PathBuf>,
    /// Preprocessor definitions, `NAME=VALUE` or `NAME`. See [`binding_defines`].
    pub defines: Vec<String>,
}

/// `TORCH_TARGET_VERSION` for a torch floor: torch's own encoding
/// (`torch/headeronly/version.h`: major << 56 | minor << 48).
/// Ex) `0x020a000000000000ULL` for 2.10
pub fn torch_target_version(floor: TorchMinor) -> String {
    format!(
        "0x{:016x}ULL",
        (u64::from(floor.major) << 56) | (u64::from(floor.minor) << 48)
    )
}

/// The definitions a binding is compiled with. Per-minor: none. Stable:
/// `TORCH_TARGET_VERSION=<floor>`, so torch's headers offer only the stable
/// API of the floor (its c10/ATen headers `#error` when included), and
/// `USE_CUDA`, which declares the CUDA shims (current CUDA stream).
pub fn binding_defines(kind: VariantKind, torch: TorchMinor) -> Vec<String> {
    match kind {
        VariantKind::PerMinor => vec![],
        VariantKind::Stable => vec![
            format!("TORCH_TARGET_VERSION={}", torch_target_version(torch)),
            "USE_CUDA".into(),
        ],
    }
}

impl BindingCompile {
    pub fn argv(&self, src: &Path, out: &Path) -> Vec<String> {
        match self.os {
            Os::Linux => {
                let mut a = vec![self.cxx.clone(), "-c".into(), p(src), "-o".into(), p(out)];
                a.push(format!("-std=c++{}", self.cxx_std));
                a.extend(["-O2", "-fPIC"].map(String::from));
                if let Some(abi) = self.cxx11_abi {
                    a.push(format!("-D_GLIBCXX_USE_CXX11_ABI={}", abi as u8));
                }
                if let Some(r) = &self.source_root {
                    a.push(prefix_map(r));
                }
                for d in &self.defines {
                    a.push(format!("-D{d}"));
                }
                for d in &self.include_dirs {
                    a.push(format!("-I{}", p(d)));
                }
                a
            }
            Os::Windows => {
                let mut a = vec![
                    self.cxx.clone(),
                    "/nologo".into(),
                    "/c".into(),
                    p(src),
                    format!("/Fo{}", p(out)),
                ];
                a.push(format!("/std:c++{}", self.cxx_std));
                a.extend(
                    [
                        "/MD",
                        "/O2",
                        "/EHsc",
                        "/Zc:__cplusplus",
                        "/permissive-",
                        "/DNOMINMAX",
                        "/DWIN32_LEAN_AND_MEAN",
                        // torch's headers: dll-interface and conversion warnings.
                        "/wd4251",
                        "/wd4275",
                        "/wd4267",
                        "/wd4244",
                        "/wd4819",
                    ]
                    .map(String::from),
                );
                for d in &self.defines {
                    a.push(format!("/D{d}"));
                }
                for d in &self.include_dirs {
                    a.push(format!("/I{}", p(d)));
                }
                a
            }
        }
    }
}

/// A translation unit that compiles only when the host compiler really
/// implements C++`year` (the language switch and the library parts torch's
/// headers use: `<compare>`, `<bit>`, `<concepts>`, `starts_with`).
pub fn std_probe_source(year: u32) -> String {
    let value = match year {
        11 => "201103L",
        14 => "201402L",
        17 => "201703L",
        20 => "202002L",
        23 => "202302L",
        _ => "999999L",
    };
    let mut s = format!(
        "/* Generated by attnfarm's build farm: does the host compiler speak C++{year}? */\n\
         #if __cplusplus < {value}\n#error \"this compiler does not implement C++{year} (__cplusplus too low)\"\n#endif\n\
         #include <optional>\n#include <string_view>\n"
    );
    if year >= 20 {
        s.push_str(
            "#include <bit>\n#include <compare>\n#include <concepts>\n\
             template <class T> requires std::integral<T> constexpr T twice(T x) { return 2 * x; }\n\
             static_assert(std::bit_width(8u) == 4);\n\
             static_assert(std::string_view(\"torch\").starts_with(\"to\"));\n\
             static_assert((1 <=> 2) < 0 && twice(2) == 4);\n",
        );
    }
    s.push_str("int attnfarm_std_probe() { return std::optional<int>(0).value(); }\n");
    s
}

/// Compile-only argv of the standard probe.
pub fn std_probe_argv(os: Os, cxx: &str, year: u32, src: &Path) -> Vec<String> {
    match os {
        Os::Linux => vec![
            cxx.into(),
            format!("-std=c++{year}"),
            "-fsyntax-only".into(),
            "-x".into(),
            "c++".into(),
            p(src),
        ],
        Os::Windows => vec![
            cxx.into(),
            "/nologo".into(),
            "/Zs".into(),
            format!("/std:c++{year}"),
            "/Zc:__cplusplus".into(),
            "/EHsc".into(),
            "/TP".into(),
            p(src),
        ],
    }
}

/// What to install when the host compiler lacks a standard.
pub fn std_compiler_hint(os: Os, year: u32) -> &'static str {
    match (os, year) {
        (Os::Windows, y) if y >= 20 => {
            "MSVC 2019 16.11 / 2022 or newer (Visual Studio Build Tools)"
        }
        (Os::Windows, _) => "MSVC 2017 15.7 or newer (Visual Studio Build Tools)",
        (Os::Linux, y) if y >= 20 => "GCC 10 or newer (or Clang 10+); set CXX to it",
        (Os::Linux, _) => "GCC 7 or newer (or Clang 5+); set CXX to it",
    }
}

/// The glibc-compat translation unit linked into every Linux library.
///
/// libstdc++ ≥ 11 headers read glibc's `__libc_single_threaded`
/// (GLIBC_2.32) to skip atomic reference counting in single-threaded
/// processes. Defining it hidden and always 0 in our own library makes that
/// reference bind locally: libstdc++'s inline code then always uses atomic
/// operations (correct, marginally slower), and the library no longer needs
/// glibc 2.32. On a glibc < 2.32 builder the headers never reference it and
/// this definition is unused.
pub const GLIBC_COMPAT_C: &str = "\
/* Generated by attnfarm's build farm; see xtask/src/engine/command.rs. */
__attribute__((visibility(\"hidden\"))) char __libc_single_threaded = 0;
";

/// `cc -c` for the compat unit.
pub fn compat_argv(cc: &str, src: &Path, out: &Path) -> Vec<String> {
    vec![
        cc.into(),
        "-c".into(),
        p(src),
        "-o".into(),
        p(out),
        "-O2".into(),
        "-fPIC".into(),
    ]
}

/// How the per-variant library is linked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub os: Os,
    /// Linux: the C++ driver (`g++`); Windows: `link.exe`.
    pub linker: String,
    pub torch_lib_dir: PathBuf,
    pub cuda_lib_dir: PathBuf,
    /// Ex) `libcudart.so.13`, `cudart.lib`
    pub cudart: String,
}

impl Link {
    /// Linux: `_C.abi3.so`; Windows: `_C.pyd` (+ its import library in `scratch`).
    pub fn argv(&self, objects: &[PathBuf], out: &Path, scratch: &Path) -> Vec<String> {
        let torch = crate::toolchain::TorchLayout::link_libs();
        match self.os {
            Os::Linux => {
                let mut a = vec![self.linker.clone(), "-shared".into(), "-o".into(), p(out)];
                a.extend(objects.iter().map(|o| p(o)));
                a.extend(["-Wl,--as-needed", "-Wl,-z,defs", "-Wl,--strip-all"].map(String::from));
                a.push(format!("-L{}", p(&self.torch_lib_dir)));
                a.extend(torch.iter().map(|l| format!("-l{l}")));
                a.push(format!("-L{}", p(&self.cuda_lib_dir)));
                a.push(format!("-l:{}", self.cudart));
                a
            }
            Os::Windows => {
                let mut a = vec![
                    self.linker.clone(),
                    "/nologo".into(),
                    "/DLL".into(),
                    format!("/OUT:{}", p(out)),
                    format!("/IMPLIB:{}", p(&scratch.join("_C.lib"))),
                ];
                a.extend(objects.iter().map(|o| p(o)));
                a.push(format!("/LIBPATH:{}", p(&self.torch_lib_dir)));
                a.extend(torch.iter().map(|l| format!("{l}.lib")));
                a.push(format!("/LIBPATH:{}", p(&self.cuda_lib_dir)));
                a.push(self.cudart.clone());
                a
            }
        }
    }
}

/// Object file extension per OS.
pub fn object_ext(os: Os) -> &'static str {
    match os {
        Os::Linux => "o",
        Os::Windows => "obj",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arches() -> Vec<SmArch> {
        ["sm_80", "sm_90a", "sm_120"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect()
    }

    #[test]
    fn linux_kernel_argv() {
        let k = KernelCompile {
            os: Os::Linux,
            nvcc: "/tc/nvidia/cu13/bin/nvcc".into(),
            host_cxx: "g++".into(),
            include_dirs: vec![
                "/repo/kernels/include".into(),
                "/tc/nvidia/cu13/include".into(),
            ],
            arches: arches(),
            ptx: Some("sm_120".parse().unwrap()),
            compression: FatbinCompression::CompressMode,
            source_root: Some("/repo".into()),
        };
        assert_eq!(
            k.argv(Path::new("/repo/kernels/src/api.cu"), Path::new("/o/k.o")),
            [
                "/tc/nvidia/cu13/bin/nvcc",
                "-c",
                "/repo/kernels/src/api.cu",
                "-o",
                "/o/k.o",
                "-O3",
                "-std=c++17",
                "-ccbin",
                "g++",
                "-Xcompiler",
                "-fPIC",
                "-Xcompiler",
                "-fvisibility=hidden",
                "-Xcompiler",
                "-ffile-prefix-map=/repo/=",
                "-I/repo/kernels/include",
                "-I/tc/nvidia/cu13/include",
                "-gencode",
                "arch=compute_80,code=sm_80",
                "-gencode",
                "arch=compute_90a,code=sm_90a",
                "-gencode",
                "arch=compute_120,code=sm_120",
                "-gencode",
                "arch=compute_120,code=compute_120",
                "--compress-mode=default",
            ]
        );
    }

    #[test]
    fn hopper_only_sources_get_sm_90a_alone() {
        let sm = |s: &str| -> SmArch { s.parse().unwrap() };
        let all: Vec<SmArch> = ["sm_80", "sm_90", "sm_120"].map(sm).to_vec();
        let ptx = Some(sm("sm_120"));
        let hop = Path::new("/repo/kernels/src/attn_fp8_sm90a.cu");
        assert_eq!(
            arches_for_source(hop, &all, ptx),
            (vec![sm("sm_90a")], None)
        );
        // Other sources, and variants without sm_90, keep the variant's arches.
        let other = Path::new("/repo/kernels/src/attn_int8.cu");
        assert_eq!(arches_for_source(other, &all, ptx), (all.clone(), ptx));
        let no90: Vec<SmArch> = ["sm_80", "sm_120"].map(sm).to_vec();
        assert_eq!(arches_for_source(hop, &no90, ptx), (no90.clone(), ptx));
        // In the argv: one gencode, sm_90a.
        let k = KernelCompile {
            os: Os::Linux,
            nvcc: "nvcc".into(),
            host_cxx: "g++".into(),
            include_dirs: vec![],
            arches: all,
            ptx,
            compression: FatbinCompression::CompressMode,
            source_root: None,
        };
        let argv = k.argv(hop, Path::new("/o/k.o"));
        let gencodes: Vec<&String> = argv.iter().filter(|a| a.starts_with("arch=")).collect();
        assert_eq!(gencodes, ["arch=compute_90a,code=sm_90a"]);
    }

    #[test]
    fn windows_kernel_argv() {
        let k = KernelCompile {
            os: Os::Windows,
            nvcc: r"C:\tc\nvidia\cu13\bin\nvcc.exe".into(),
            host_cxx: "cl.exe".into(),
            include_dirs: vec![r"C:\repo\kernels\include".into()],
            arches: vec!["sm_90".parse().unwrap()],
            ptx: None,
            compression: FatbinCompression::CompressAll,
            source_root: None,
        };
        assert_eq!(
            k.argv(
                Path::new(r"C:\repo\kernels\src\api.cu"),
                Path::new(r"C:\o\k.obj")
            ),
            [
                r"C:\tc\nvidia\cu13\bin\nvcc.exe",
                "-c",
                r"C:\repo\kernels\src\api.cu",
                "-o",
                r"C:\o\k.obj",
                "-O3",
                "-std=c++17",
                "-ccbin",
                "cl.exe",
                "-Xcompiler",
                "/MD",
                "-Xcompiler",
                "/EHsc",
                r"-IC:\repo\kernels\include",
                "-gencode",
                "arch=compute_90,code=sm_90",
                "-Xfatbin=-compress-all",
            ]
        );
    }

    #[test]
    fn linux_binding_argv() {
        let b = BindingCompile {
            os: Os::Linux,
            cxx: "g++".into(),
            cxx11_abi: Some(true),
            cxx_std: 20,
            include_dirs: vec![
                "/repo/kernels/include".into(),
                "/t/torch/include".into(),
                "/t/torch/include/torch/csrc/api/include".into(),
                "/tc/include".into(),
            ],
            source_root: Some("/repo/".into()),
            defines: vec![],
        };
        assert_eq!(
            b.argv(
                Path::new("/repo/bindings/csrc/attention.cpp"),
                Path::new("/o/b.o")
            )
            .join(" "),
            "g++ -c /repo/bindings/csrc/attention.cpp -o /o/b.o -std=c++20 -O2 -fPIC \
             -D_GLIBCXX_USE_CXX11_ABI=1 -ffile-prefix-map=/repo/= -I/repo/kernels/include -I/t/torch/include \
             -I/t/torch/include/torch/csrc/api/include -I/tc/include"
        );
    }

    #[test]
    fn stable_binding_defines() {
        let floor: TorchMinor = "2.10".parse().unwrap();
        assert_eq!(torch_target_version(floor), "0x020a000000000000ULL");
        assert!(binding_defines(VariantKind::PerMinor, floor).is_empty());
        let d = binding_defines(VariantKind::Stable, floor);
        assert_eq!(
            d,
            ["TORCH_TARGET_VERSION=0x020a000000000000ULL", "USE_CUDA"]
        );
        let lin = BindingCompile {
            os: Os::Linux,
            cxx: "g++".into(),
            cxx11_abi: Some(true),
            cxx_std: 17,
            include_dirs: vec!["/t/include".into()],
            source_root: None,
            defines: d.clone(),
        };
        assert_eq!(
            lin.argv(Path::new("/r/s.cpp"), Path::new("/o/s.o"))
                .join(" "),
            "g++ -c /r/s.cpp -o /o/s.o -std=c++17 -O2 -fPIC -D_GLIBCXX_USE_CXX11_ABI=1 \
             -DTORCH_TARGET_VERSION=0x020a000000000000ULL -DUSE_CUDA -I/t/include"
        );
        let win = BindingCompile {
            os: Os::Windows,
            cxx: "cl.exe".into(),
            cxx11_abi: None,
            cxx_std: 17,
            include_dirs: vec![],
            source_root: None,
            defines: d,
        };
        let a = win.argv(Path::new("s.cpp"), Path::new("s.obj"));
        assert!(a.contains(&"/DTORCH_TARGET_VERSION=0x020a000000000000ULL".to_string()));
        assert!(a.contains(&"/DUSE_CUDA".to_string()));
    }

    #[test]
    fn windows_binding_argv() {
        let b = BindingCompile {
            os: Os::Windows,
            cxx: "cl.exe".into(),
            cxx11_abi: None,
            cxx_std: 17,
            include_dirs: vec![r"C:\t\torch\include".into()],
            source_root: None,
            defines: vec![],
        };
        assert_eq!(
            b.argv(
                Path::new(r"C:\repo\bindings\csrc\attention.cpp"),
                Path::new(r"C:\o\b.obj")
            ),
            [
                "cl.exe",
                "/nologo",
                "/c",
                r"C:\repo\bindings\csrc\attention.cpp",
                r"/FoC:\o\b.obj",
                "/std:c++17",
                "/MD",
                "/O2",
                "/EHsc",
                "/Zc:__cplusplus",
                "/permissive-",
                "/DNOMINMAX",
                "/DWIN32_LEAN_AND_MEAN",
                "/wd4251",
                "/wd4275",
                "/wd4267",
                "/wd4244",
                "/wd4819",
                r"/IC:\t\torch\include",
            ]
        );
    }

    #[test]
    fn linux_link_argv() {
        let l = Link {
            os: Os::Linux,
            linker: "g++".into(),
            torch_lib_dir: "/t/torch/lib".into(),
            cuda_lib_dir: "/tc/nvidia/cu13/lib".into(),
            cudart: "libcudart.so.13".into(),
        };
        assert_eq!(
            l.argv(&["/o/k.o".into(), "/o/b.o".into()], Path::new("/b/_C.abi3.so"), Path::new("/b"))
                .join(" "),
            "g++ -shared -o /b/_C.abi3.so /o/k.o /o/b.o -Wl,--as-needed -Wl,-z,defs -Wl,--strip-all -L/t/torch/lib \
             -ltorch -ltorch_cpu -lc10 -ltorch_cuda -lc10_cuda -L/tc/nvidia/cu13/lib -l:libcudart.so.13"
        );
    }

    #[test]
    fn windows_link_argv() {
        let l = Link {
            os: Os::Windows,
            linker: "link.exe".into(),
            torch_lib_dir: r"C:\t\torch\lib".into(),
            cuda_lib_dir: r"C:\tc\nvidia\cu13\lib\x64".into(),
            cudart: "cudart.lib".into(),
        };
        assert_eq!(
            l.argv(
                &[r"C:\o\k.obj".into()],
                Path::new(r"C:\b\_C.pyd"),
                Path::new(r"C:\b")
            ),
            [
                "link.exe",
                "/nologo",
                "/DLL",
                r"/OUT:C:\b\_C.pyd",
                if cfg!(windows) {
                    r"/IMPLIB:C:\b\_C.lib"
                } else {
                    r"/IMPLIB:C:\b/_C.lib"
                },
                r"C:\o\k.obj",
                r"/LIBPATH:C:\t\torch\lib",
                "torch.lib",
                "torch_cpu.lib",
                "c10.lib",
                "torch_cuda.lib",
                "c10_cuda.lib",
                r"/LIBPATH:C:\tc\nvidia\cu13\lib\x64",
                "cudart.lib",
            ]
        );
    }

    #[test]
    fn gencode_values() {
        assert_eq!(
            gencodes(&arches(), Some("sm_120".parse().unwrap())),
            [
                "arch=compute_80,code=sm_80",
                "arch=compute_90a,code=sm_90a",
                "arch=compute_120,code=sm_120",
                "arch=compute_120,code=compute_120"
            ]
        );
    }
}
