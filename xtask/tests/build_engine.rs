//! The build engine end to end on a tiny fake repository, offline: a fake
//! `nvcc` (a script that compiles the `.cu` as C++ with the host compiler),
//! stub torch/CUDA libraries built with the host compiler, the real engine,
//! the real audit and the real wheel writer. Checks the object cache: a
//! second run compiles nothing and rewrites nothing; touching a binding
//! recompiles only that binding; touching a kernel header recompiles the
//! kernels of that toolkit once for every torch variant.
//!
//! The real thing (hermetic toolchains, the repo's kernels) is
//! `e2e_hermetic.rs`, gated by ATTNFARM_E2E=1.

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::engine::{self, Options, Status, ToolchainMode};
use xtask::matrix::Matrix;
use xtask::plan::Plan;
use xtask::platform::Platform;
use xtask::progress::Silent;
use xtask::toolchain::layout::{CudaLayout, CxxAbi, CxxStd, FatbinCompression, TorchLayout};
use xtask::toolchain::{Cache, Toolchain};

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
}

/// gcc and g++ build the fixture; missing ones fail unless ATTNFARM_ALLOW_SKIP=1.
fn have_compilers() -> bool {
    let why = "the build-engine tests (fixture libraries and the fake nvcc)";
    xtask::testing::require_tool("gcc", &[], why) && xtask::testing::require_tool("g++", &[], why)
}

fn write(p: &Path, text: &str) {
    fs_err::create_dir_all(p.parent().unwrap()).unwrap();
    fs_err::write(p, text).unwrap();
}

struct Fixture {
    root: PathBuf,
    repo: PathBuf,
    tc: Toolchain,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs_err::remove_dir_all(&self.root);
    }
}

fn fixture(tag: &str) -> Fixture {
    let root = std::env::temp_dir().join(format!("attnfarm-engine-{tag}-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&root);
    let repo = root.join("repo");
    write(
        &repo.join("kernels/include/attnfarm/kernels.h"),
        "#pragma once\nextern \"C\" int af_k(int);\n",
    );
    write(
        &repo.join("kernels/src/k.cu"),
        "#include \"attnfarm/kernels.h\"\nextern \"C\" int af_k(int x) { return x + 1; }\n",
    );
    write(
        &repo.join("kernels/src/k2.cu"),
        "#include \"attnfarm/kernels.h\"\nextern \"C\" int af_k2(int x) { return af_k(x) * 2; }\n",
    );
    write(&repo.join("bindings/csrc/b.cpp"), "#include \"attnfarm/kernels.h\"\n#include <torch_stub.h>\nint af_binding() { return torch_stub() + af_k(1); }\n");
    // The stable binding: only compiled (with TORCH_TARGET_VERSION) for
    // stable variants; a per-minor variant never sees it.
    write(&repo.join("bindings/csrc/stable/s.cpp"), "#ifndef TORCH_TARGET_VERSION\n#error not a stable build\n#endif\n#include \"attnfarm/kernels.h\"\n#include <torch_stub.h>\nint af_stable_binding() { return torch_stub() + af_k(2) + (int)(TORCH_TARGET_VERSION >> 48); }\n");
    write(
        &repo.join("bindings/python/attnfarm/__init__.py"),
        "import torch\n",
    );
    write(&repo.join("LICENSE"), "Apache-2.0\n");
    write(&repo.join("README.md"), "# attnfarm\n");
    write(&repo.join("matrix.yaml"), xtask::testing::FIXTURE_MATRIX);

    // Fake toolkit: nvcc compiles the .cu as C++; a stub libcudart.so.13.
    let cuda = root.join("cuda");
    write(
        &cuda.join("bin/nvcc"),
        "#!/bin/sh\n# fake nvcc: -c SRC -o OUT ... ; -I flags pass through\n\
         case \"$*\" in *compute_75*) echo 'nvcc warning : this line is noise' >&2; echo 'kernels/src/k.cu(2): error: fake nvcc: sm_75 is broken here' >&2; echo '1 error detected in the compilation of \"kernels/src/k.cu\".' >&2; exit 1;; esac\n\
         src=\"\"; out=\"\"; inc=\"\"\n\
         while [ $# -gt 0 ]; do case \"$1\" in -c) src=\"$2\"; shift;; -o) out=\"$2\"; shift;; -I*) inc=\"$inc $1\";; esac; shift; done\n\
         echo \"$src\" >> \"$(dirname \"$0\")/../calls.log\"\n\
         exec g++ -x c++ -c \"$src\" -o \"$out\" -fPIC $inc\n",
    );
    sh(&format!("chmod +x {}", cuda.join("bin/nvcc").display()));
    write(&cuda.join("include/cuda_runtime.h"), "");
    fs_err::create_dir_all(cuda.join("lib")).unwrap();
    sh(&format!(
        "cd {} && echo 'int cudart_stub(void){{return 0;}}' > s.c && gcc -shared -fPIC -o lib/libcudart.so.13 -Wl,-soname,libcudart.so.13 s.c",
        cuda.display()
    ));
    // Fake torch: headers and stub libraries with torch's names.
    let torch = root.join("torch");
    write(
        &torch.join("include/torch_stub.h"),
        "#pragma once\nextern \"C\" int torch_stub();\n",
    );
    fs_err::create_dir_all(torch.join("include/torch/csrc/api/include")).unwrap();
    fs_err::create_dir_all(torch.join("lib")).unwrap();
    for l in ["torch", "torch_cpu", "c10", "torch_cuda", "c10_cuda"] {
        sh(&format!(
            "cd {} && echo 'int torch_stub(void){{return 1;}}' > {l}.c && gcc -shared -fPIC -o lib/lib{l}.so -Wl,-soname,lib{l}.so {l}.c",
            torch.display()
        ));
    }
    let tc = Toolchain {
        cuda: CudaLayout {
            root: cuda.clone(),
            version: "13.0".parse().unwrap(),
            nvcc: cuda.join("bin/nvcc"),
            include_dirs: vec![cuda.join("include")],
            lib_dir: cuda.join("lib"),
            cudart: "libcudart.so.13".into(),
            compression: FatbinCompression::CompressMode,
        },
        torch: TorchLayout {
            root: torch.clone(),
            version: "2.11.0+cu130".into(),
            cuda: Some("13.0".into()),
            abi: CxxAbi {
                cxx11: Some(true),
                source: "fixture".into(),
            },
            cxx_std: CxxStd {
                year: 17,
                source: "fixture".into(),
            },
            include_dirs: vec![
                torch.join("include"),
                torch.join("include/torch/csrc/api/include"),
            ],
            lib_dir: torch.join("lib"),
            libs: [
                "libc10.so",
                "libc10_cuda.so",
                "libtorch.so",
                "libtorch_cpu.so",
                "libtorch_cuda.so",
            ]
            .map(String::from)
            .to_vec(),
        },
        cuda_id: "fake-cuda13.0".into(),
        torch_id: "fake-torch2.11.0".into(),
    };
    Fixture { root, repo, tc }
}

fn options(f: &Fixture) -> Options {
    Options {
        repo: f.repo.clone(),
        out: f.root.join("dist"),
        cache: Cache {
            root: f.root.join("cache"),
        },
        objects: f.root.join("cache/objects"),
        jobs: 2,
        object_cache: true,
        epoch: 1_700_000_000,
        revision: "test".into(),
        cxx: "g++".into(),
        cc: "gcc".into(),
        link_exe: "link.exe".into(),
    }
}

fn plan(f: &Fixture, ids: &[&str]) -> Plan {
    let m = Matrix::load(&f.repo.join("matrix.yaml")).unwrap();
    let mut p = Plan::from_matrix(&m, Some(Platform::LinuxX86_64));
    p.variants.retain(|v| ids.contains(&v.id.as_str()));
    p
}

fn nvcc_calls(f: &Fixture) -> usize {
    fs_err::read_to_string(f.root.join("cuda/calls.log"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn object_cache_reuses_and_invalidates() {
    if !have_compilers() {
        return;
    }
    let f = fixture("cache");
    // Two torch variants on one toolkit, built by the same (fake) toolchain.
    let p = plan(
        &f,
        &["cu12-torch2.8-linux_x86_64", "cu12-torch2.9-linux_x86_64"],
    );
    assert_eq!(p.variants.len(), 2);
    let mode = ToolchainMode::Ambient(Box::new(f.tc.clone()));
    let opts = options(&f);

    let first = engine::build(&p, &mode, &opts, &Silent).unwrap();
    for o in &first {
        assert_eq!(o.status, Status::Built, "{}", engine::summary_table(&first));
        assert_eq!(o.audited.as_deref(), Some("manylinux_2_17_x86_64"));
    }
    // Two kernel sources compiled once, shared by both torch variants.
    assert_eq!(nvcc_calls(&f), 2);
    assert_eq!((first[0].kernels_compiled, first[0].kernels_reused), (2, 0));
    assert_eq!((first[1].kernels_compiled, first[1].kernels_reused), (0, 2));
    let wheel = opts
        .out
        .join("wheels")
        .join(first[0].wheel.as_ref().unwrap());
    let info = xtask::wheel::inspect::inspect_wheel(&wheel).unwrap();
    assert!(
        info.entries.contains(&"attnfarm/_C.abi3.so".to_string()),
        "{:?}",
        info.entries
    );
    assert!(info
        .entries
        .contains(&"attnfarm/_build_info.py".to_string()));
    let bytes = fs_err::read(&wheel).unwrap();

    // Nothing changed: nothing compiles, nothing is rewritten.
    let second = engine::build(&p, &mode, &opts, &Silent).unwrap();
    assert!(
        second.iter().all(|o| o.status == Status::UpToDate),
        "{}",
        engine::summary_table(&second)
    );
    assert_eq!(nvcc_calls(&f), 2);
    assert_eq!(fs_err::read(&wheel).unwrap(), bytes);

    // A deleted wheel is rebuilt from cached objects, byte-identical.
    fs_err::remove_file(&wheel).unwrap();
    let third = engine::build(&p, &mode, &opts, &Silent).unwrap();
    assert_eq!(third[0].status, Status::Built);
    assert_eq!(nvcc_calls(&f), 2);
    assert_eq!(
        fs_err::read(&wheel).unwrap(),
        bytes,
        "same inputs, same bytes"
    );

    // Touch a binding: bindings recompile (once per torch variant), kernels do not.
    let b = f.repo.join("bindings/csrc/b.cpp");
    let text = fs_err::read_to_string(&b).unwrap();
    fs_err::write(&b, format!("{text}// touched\n")).unwrap();
    let fourth = engine::build(&p, &mode, &opts, &Silent).unwrap();
    assert!(fourth.iter().all(|o| o.status == Status::Built));
    assert_eq!(nvcc_calls(&f), 2, "kernels reused");
    let log = fs_err::read_to_string(fourth[0].log.as_ref().unwrap()).unwrap();
    assert!(
        log.contains("bindings/csrc/b.cpp -o"),
        "binding recompiled:\n{log}"
    );
    assert!(log.contains("reused kernels/src/k.cu"), "{log}");

    // Touch a kernel header: both kernels recompile, once for both variants.
    let h = f.repo.join("kernels/include/attnfarm/kernels.h");
    let text = fs_err::read_to_string(&h).unwrap();
    fs_err::write(&h, format!("{text}// touched\n")).unwrap();
    let fifth = engine::build(&p, &mode, &opts, &Silent).unwrap();
    assert!(fifth.iter().all(|o| o.status == Status::Built));
    assert_eq!(nvcc_calls(&f), 4);

    // Without the object cache every variant compiles its own kernels.
    let mut no_cache = options(&f);
    no_cache.object_cache = false;
    no_cache.out = f.root.join("dist-nocache");
    let sixth = engine::build(&p, &mode, &no_cache, &Silent).unwrap();
    assert!(sixth.iter().all(|o| o.status == Status::Built));
    assert_eq!(nvcc_calls(&f), 8);
    assert_eq!((sixth[1].kernels_compiled, sixth[1].kernels_reused), (2, 0));
}

#[test]
fn a_failing_variant_does_not_stop_the_others() {
    if !have_compilers() {
        return;
    }
    let f = fixture("fail");
    let mut p = plan(
        &f,
        &["cu12-torch2.8-linux_x86_64", "cu12-torch2.9-linux_x86_64"],
    );
    // The fake nvcc fails for sm_75: only the second variant's kernels break.
    p.variants[1].arches = vec!["sm_75".parse().unwrap()];
    let mode = ToolchainMode::Ambient(Box::new(f.tc.clone()));
    let out = engine::build(&p, &mode, &options(&f), &Silent).unwrap();
    assert_eq!(
        out[0].status,
        Status::Built,
        "{}",
        engine::summary_table(&out)
    );
    match &out[1].status {
        // The summary names the compiler's first real error line, per object.
        Status::Failed(msg) => assert_eq!(
            msg,
            "compiling kernels/src/k.cu failed: kernels/src/k.cu(2): error: fake nvcc: sm_75 is broken here; \
             compiling kernels/src/k2.cu failed: kernels/src/k.cu(2): error: fake nvcc: sm_75 is broken here"
        ),
        s => panic!("{s:?}"),
    }
    let log = fs_err::read_to_string(out[1].log.as_ref().unwrap()).unwrap();
    assert!(log.contains("fake nvcc: sm_75 is broken here"), "{log}");
    let table = engine::summary_table(&out);
    assert!(
        table.contains("cu12-torch2.9-linux_x86_64 FAILED (log: "),
        "{table}"
    );
    // Only the good variant's wheel exists; no temporary files are left.
    let names: Vec<String> = fs_err::read_dir(f.root.join("dist/wheels"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [out[0].wheel.clone().unwrap()]);
}

/// torch's headers need C++20 (read from the torch tree); a host compiler
/// without it fails the variant with a message naming torch, the standard and
/// the compiler to use, before anything is compiled. One that has it compiles
/// the binding with `-std=c++20` (and the kernels stay at C++17).
#[test]
fn the_cxx_standard_comes_from_torch_and_is_probed() {
    if !have_compilers() {
        return;
    }
    let f = fixture("std");
    let p = plan(&f, &["cu12-torch2.9-linux_x86_64"]);
    let mut tc = f.tc.clone();
    tc.torch.cxx_std = CxxStd {
        year: 20,
        source: "torch/utils/cpp_extension.py: common_cflags has -std=c++20".into(),
    };
    let mode = ToolchainMode::Ambient(Box::new(tc));

    // An "old g++": rejects -std=c++20 the way GCC 9 does, otherwise g++.
    let old = f.root.join("old-gxx");
    write(
        &old,
        "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in -std=c++20) \
         echo \"g++: error: unrecognized command-line option '-std=c++20'; did you mean '-std=c++2a'?\" >&2; exit 1;; esac; done\n\
         exec g++ \"$@\"\n",
    );
    sh(&format!("chmod +x {}", old.display()));
    let mut opts = options(&f);
    opts.cxx = old.display().to_string();
    let out = engine::build(&p, &mode, &opts, &Silent).unwrap();
    match &out[0].status {
        Status::Failed(msg) => {
            assert!(
                msg.starts_with("torch 2.11.0+cu130 needs C++20 (torch/utils/cpp_extension.py: common_cflags has -std=c++20), but the host compiler `"),
                "{msg}"
            );
            assert!(
                msg.contains("unrecognized command-line option '-std=c++20'"),
                "{msg}"
            );
            assert!(
                msg.ends_with("Use GCC 10 or newer (or Clang 10+); set CXX to it"),
                "{msg}"
            );
        }
        s => panic!("{s:?}"),
    }
    assert_eq!(
        nvcc_calls(&f),
        0,
        "nothing compiles for a variant that cannot"
    );

    // The real g++ speaks C++20: the binding gets -std=c++20, kernels -std=c++17.
    let out = engine::build(&p, &mode, &options(&f), &Silent).unwrap();
    assert_eq!(
        out[0].status,
        Status::Built,
        "{}",
        engine::summary_table(&out)
    );
    let log = fs_err::read_to_string(out[0].log.as_ref().unwrap()).unwrap();
    assert!(
        log.contains("C++ standard for the binding: C++20 (torch/utils/cpp_extension.py"),
        "{log}"
    );
    let binding_line = log
        .lines()
        .find(|l| l.contains("bindings/csrc/b.cpp -o"))
        .unwrap();
    assert!(binding_line.contains(" -std=c++20 "), "{binding_line}");
    let wheel = opts.out.join("wheels").join(out[0].wheel.as_ref().unwrap());
    let mut zip = zip::ZipArchive::new(fs_err::File::open(&wheel).unwrap()).unwrap();
    let mut info = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("attnfarm/_build_info.py").unwrap(),
        &mut info,
    )
    .unwrap();
    assert!(info.contains("BINDING_CXX_STD = 20\n"), "{info}");
}

#[test]
fn stable_variant_compiles_the_stable_binding() {
    if !have_compilers() {
        return;
    }
    let f = fixture("stable");
    let p = plan(
        &f,
        &[
            "cu12-torch2.9-linux_x86_64",
            "cu12-torchstable2.10-linux_x86_64",
        ],
    );
    let mode = ToolchainMode::Ambient(Box::new(f.tc.clone()));
    let out = engine::build(&p, &mode, &options(&f), &Silent).unwrap();
    for o in &out {
        assert_eq!(o.status, Status::Built, "{}", engine::summary_table(&out));
    }
    // One kernel compile serves both kinds.
    assert_eq!(nvcc_calls(&f), 2);
    let per_minor = fs_err::read_to_string(out[0].log.as_ref().unwrap()).unwrap();
    let stable = fs_err::read_to_string(out[1].log.as_ref().unwrap()).unwrap();
    assert!(per_minor.contains("bindings/csrc/b.cpp -o"), "{per_minor}");
    assert!(!per_minor.contains("stable/s.cpp"), "{per_minor}");
    assert!(
        stable.contains("bindings/csrc/stable/s.cpp -o")
            && stable.contains("-DTORCH_TARGET_VERSION=0x020a000000000000ULL -DUSE_CUDA"),
        "{stable}"
    );
    assert!(!stable.contains("csrc/b.cpp"), "{stable}");
    assert!(out[1]
        .wheel
        .as_deref()
        .unwrap()
        .starts_with("attnfarm-2026.1.0+cu128torchstable2.10-"));
}
