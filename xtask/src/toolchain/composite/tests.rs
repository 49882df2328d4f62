use std::path::{Path, PathBuf};

use xshell::Shell;

use super::fatbin::{fatbin_entries, object_fatbin_entries, Compression, FatbinEntry};
use super::*;

/// Real output of cicc 13.0.88 (`nvcc -ptx -arch=compute_80`) for
/// `__global__ void af_scale(float* x, float s) { x[threadIdx.x] *= s; }`.
const PTX_13_0: &str = include_str!("af_scale.compute_80.ptx");

fn v(s: &str) -> CudaVersion {
    s.parse().unwrap()
}

fn r() -> Recipe {
    Recipe::new(v("12.8"), v("13.0")).unwrap()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attnfarm-composite-{name}-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&d);
    fs_err::create_dir_all(&d).unwrap();
    d
}

#[test]
fn recipe_versions() {
    let r = r();
    assert_eq!(
        (r.from_isa.to_string(), r.to_isa.to_string()),
        ("9.0".into(), "8.7".into())
    );
    assert_eq!(r.cudart(), "libcudart.so.12");
    assert_eq!(
        Recipe::new(v("13.0"), v("13.0")).unwrap_err().to_string(),
        "a composite toolkit needs a front end of a newer CUDA major than its back end (front end 13.0, back end 13.0)"
    );
    assert!(matches!(
        Recipe::new(v("12.6"), v("13.0")),
        Err(CompositeError::UnknownIsa(c)) if c == v("12.6")
    ));
    assert!(matches!(
        Recipe::new(v("12.8"), v("13.1")),
        Err(CompositeError::UnknownIsa(c)) if c == v("13.1")
    ));
    assert_eq!(ptx_isa(v("12.9")).unwrap().to_string(), "8.8");
}

/// The message lists the table and points at the file that holds it.
#[test]
fn unknown_isa_names_the_table() {
    let e = Recipe::new(v("12.6"), v("13.0")).unwrap_err().to_string();
    assert_eq!(
        e,
        "no PTX ISA version is known for CUDA 12.6 (known: CUDA 12.8 → 8.7, CUDA 12.9 → 8.8, \
         CUDA 13.0 → 9.0); add it to `ISAS` in xtask/src/toolchain/composite/recipe.rs after \
         checking that toolkit's ptxas"
    );
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/toolchain/composite/recipe.rs");
    let text = fs_err::read_to_string(file).unwrap();
    assert!(text.contains("const ISAS: &[IsaOf] = &["));
}

#[test]
fn lowers_real_ptx() {
    let r = r();
    let out = lower_ptx_version(PTX_13_0, r.from_isa, r.to_isa).unwrap();
    assert!(PTX_13_0.contains("\n.version 9.0\n.target sm_80\n"));
    assert_eq!(
        out,
        PTX_13_0.replace("\n.version 9.0\n", "\n.version 8.7\n")
    );
    // Only the directive changes: the comment naming the compiler stays.
    assert!(out.contains("// Cuda compilation tools, release 13.0, V13.0.88\n"));
    assert_eq!(out.len(), PTX_13_0.len());
    // Any other ISA version is refused, not rewritten.
    let newer = PTX_13_0.replace(".version 9.0", ".version 9.1");
    assert_eq!(
        lower_ptx_version(&newer, r.from_isa, r.to_isa)
            .unwrap_err()
            .to_string(),
        "PTX: expected one `.version 9.0` line, found [\".version 9.1\"]"
    );
    assert!(lower_ptx_version("// no directive\n", r.from_isa, r.to_isa).is_err());
}

#[test]
fn generated_texts() {
    let r = r();
    insta::assert_snapshot!("cicc_wrapper", cicc_wrapper(&r));
    insta::assert_snapshot!("fatbinary_wrapper", fatbinary_wrapper(&r));
    insta::assert_snapshot!("nvcc_profile", nvcc_profile(&r));
}

fn fake_sources() -> Sources {
    let e = Path::new("/e/nvidia");
    Sources {
        nvcc: e.join("cu13/bin/nvcc"),
        cudafe: e.join("cu13/bin/cudafe++"),
        fatbinary: e.join("cu13/bin/fatbinary"),
        cicc: e.join("cu13/nvvm/bin/cicc"),
        libdevice: e.join("cu13/nvvm/libdevice/libdevice.10.bc"),
        crt: e.join("cu13/include/crt"),
        fatbinary_section: e.join("cu13/include/fatbinary_section.h"),
        ptxas: e.join("cuda_nvcc/bin/ptxas"),
        runtime_include: e.join("cuda_runtime/include"),
        cudart: e.join("cuda_runtime/lib/libcudart.so.12"),
        cccl_include: e.join("cuda_cccl/include"),
    }
}

#[test]
fn recipe_layout() {
    let r = r();
    let steps = recipe(&fake_sources(), &r);
    insta::assert_snapshot!(describe(&steps, &r, Path::new("/e")), @r"
    attnfarm composite toolkit (composite-v1): CUDA 13.0 front end, CUDA 12.8 back end; cicc output lowered from PTX ISA 9.0 to 8.7; fatbins LZ4 or uncompressed.
    bin/nvcc <- nvidia/cu13/bin/nvcc
    bin/nvcc.profile (generated)
    bin/cudafe++ <- nvidia/cu13/bin/cudafe++
    bin/ptxas <- nvidia/cuda_nvcc/bin/ptxas
    bin/fatbinary (generated, executable)
    libexec/fatbinary <- nvidia/cu13/bin/fatbinary
    nvvm/bin/cicc (generated, executable)
    libexec/cicc <- nvidia/cu13/nvvm/bin/cicc
    nvvm/libdevice/libdevice.10.bc <- nvidia/cu13/nvvm/libdevice/libdevice.10.bc
    include/ <- nvidia/cuda_runtime/include/
    include/crt/ <- nvidia/cu13/include/crt/
    include/fatbinary_section.h <- nvidia/cu13/include/fatbinary_section.h
    include/cccl/ <- nvidia/cuda_cccl/include/
    lib/libcudart.so.12 <- nvidia/cuda_runtime/lib/libcudart.so.12
    ");
}

fn put(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs_err::create_dir_all(p.parent().unwrap()).unwrap();
    fs_err::write(p, text).unwrap();
}

/// What `uv pip install --target` leaves for the 12.8 + 13.0 pins, in
/// miniature (the 13.0 runtime and CCCL are there too, and must be ignored).
fn fake_entry(name: &str) -> PathBuf {
    let e = tmpdir(name);
    for (rel, text) in [
        ("nvidia/__init__.py", ""),
        ("nvidia/cu13/bin/nvcc", "nvcc 13.0"),
        ("nvidia/cu13/bin/cudafe++", "cudafe++ 13.0"),
        ("nvidia/cu13/bin/fatbinary", "fatbinary 13.0"),
        ("nvidia/cu13/bin/ptxas", "ptxas 13.0"),
        ("nvidia/cu13/nvvm/bin/cicc", "cicc 13.0"),
        (
            "nvidia/cu13/nvvm/libdevice/libdevice.10.bc",
            "libdevice 13.0",
        ),
        ("nvidia/cu13/include/crt/host_runtime.h", "crt 13.0"),
        (
            "nvidia/cu13/include/fatbinary_section.h",
            "fatbinary_section 13.0",
        ),
        (
            "nvidia/cu13/include/cuda_runtime_api.h",
            "#define CUDART_VERSION 13000\n",
        ),
        ("nvidia/cu13/include/cccl/nv/target", "cccl 13.0"),
        ("nvidia/cu13/lib/libcudart.so.13", "cudart 13.0"),
        ("nvidia/cuda_nvcc/__init__.py", ""),
        ("nvidia/cuda_nvcc/bin/ptxas", "ptxas 12.8"),
        ("nvidia/cuda_nvcc/include/crt/host_runtime.h", "crt 12.8"),
        ("nvidia/cuda_runtime/include/__init__.py", ""),
        (
            "nvidia/cuda_runtime/include/cuda_runtime_api.h",
            "/* 12.8 */\n#define CUDART_VERSION 12080\n",
        ),
        ("nvidia/cuda_runtime/include/cuda_runtime.h", "runtime 12.8"),
        (
            "nvidia/cuda_runtime/include/cooperative_groups/details/sync.h",
            "cg 12.8",
        ),
        ("nvidia/cuda_runtime/lib/libcudart.so.12", "cudart 12.8"),
        ("nvidia/cuda_cccl/include/__init__.py", ""),
        ("nvidia/cuda_cccl/include/nv/target", "cccl 12.8"),
        ("nvidia/cuda_cccl/include/cuda/std/version", "cccl 12.8"),
    ] {
        put(&e, rel, text);
    }
    e
}

fn files_under(dir: &Path, base: &Path, out: &mut Vec<String>) {
    let mut es: Vec<_> = fs_err::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
    es.sort_by_key(|e| e.file_name());
    for e in es {
        if e.file_type().unwrap().is_dir() {
            files_under(&e.path(), base, out);
        } else {
            out.push(
                e.path()
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn assembles_directory() {
    use std::os::unix::fs::PermissionsExt;
    let e = fake_entry("assemble");
    let r = r();
    let mut log = Vec::new();
    let dir = assemble(&e, &r, &mut log).unwrap();
    assert_eq!(dir, e.join("composite"));
    let mut files = Vec::new();
    files_under(&dir, &dir, &mut files);
    assert_eq!(
        files,
        [
            "RECIPE.txt",
            "bin/cudafe++",
            "bin/fatbinary",
            "bin/nvcc",
            "bin/nvcc.profile",
            "bin/ptxas",
            "include/cccl/cuda/std/version",
            "include/cccl/nv/target",
            "include/cooperative_groups/details/sync.h",
            "include/crt/host_runtime.h",
            "include/cuda_runtime.h",
            "include/cuda_runtime_api.h",
            "include/fatbinary_section.h",
            "lib/libcudart.so.12",
            "libexec/cicc",
            "libexec/fatbinary",
            "nvvm/bin/cicc",
            "nvvm/libdevice/libdevice.10.bc",
        ]
    );
    let read = |rel: &str| fs_err::read_to_string(dir.join(rel)).unwrap();
    // Back end: ptxas, runtime headers and library, CCCL. Front end: the rest.
    assert_eq!(read("bin/ptxas"), "ptxas 12.8");
    assert!(read("include/cuda_runtime_api.h").starts_with("/* 12.8 */"));
    assert_eq!(read("include/cccl/nv/target"), "cccl 12.8");
    assert_eq!(read("lib/libcudart.so.12"), "cudart 12.8");
    assert_eq!(read("include/crt/host_runtime.h"), "crt 13.0");
    assert_eq!(read("libexec/cicc"), "cicc 13.0");
    assert_eq!(read("nvvm/bin/cicc"), cicc_wrapper(&r));
    assert_eq!(read("bin/fatbinary"), fatbinary_wrapper(&r));
    let mode = |rel: &str| {
        fs_err::metadata(dir.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        (mode("nvvm/bin/cicc"), mode("bin/fatbinary")),
        (0o755, 0o755)
    );
    assert!(read("RECIPE.txt").contains("\nbin/ptxas <- nvidia/cuda_nvcc/bin/ptxas\n"));
    // Re-assembling replaces the directory (same result), leaves no temporaries.
    assemble(&e, &r, &mut log).unwrap();
    let mut again = Vec::new();
    files_under(&dir, &dir, &mut again);
    assert_eq!(files, again);
    let stray: Vec<_> = fs_err::read_dir(&e)
        .unwrap()
        .map(|x| x.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    let _ = fs_err::remove_dir_all(&e);
}

#[test]
fn discover_explains_what_is_wrong() {
    let r = r();
    let e = fake_entry("wrong-runtime");
    put(
        &e,
        "nvidia/cuda_runtime/include/cuda_runtime_api.h",
        "#define CUDART_VERSION 12060\n",
    );
    let err = discover(&e, &r).unwrap_err().to_string();
    assert!(
        err.starts_with("composite toolkit: CUDART_VERSION in "),
        "{err}"
    );
    assert!(
        err.ends_with(" is 12.6, the recipe wants 12.8 (fix the pins in matrix.yaml)"),
        "{err}"
    );
    let _ = fs_err::remove_dir_all(&e);

    let e = fake_entry("no-nvvm");
    fs_err::remove_dir_all(e.join("nvidia/cu13/nvvm")).unwrap();
    let err = discover(&e, &r).unwrap_err().to_string();
    assert!(
        err.contains("/nvidia/cu13/nvvm/bin/cicc not found (nvidia-nvvm 13.0)"),
        "{err}"
    );
    let _ = fs_err::remove_dir_all(&e);

    let e = fake_entry("two-ptxas");
    put(&e, "nvidia/cuda_nvcc_extra/bin/ptxas", "ptxas 12.9");
    assert!(matches!(
        discover(&e, &r),
        Err(CompositeError::Ambiguous { what, .. }) if what == "bin/ptxas"
    ));
    let _ = fs_err::remove_dir_all(&e);

    let e = fake_entry("no-backend");
    fs_err::remove_dir_all(e.join("nvidia/cuda_nvcc")).unwrap();
    let err = discover(&e, &r).unwrap_err().to_string();
    assert!(err.contains("nvidia/*/bin/ptxas (outside "), "{err}");
    assert!(
        err.ends_with("not found (nvidia-cuda-nvcc-cu12 12.8)"),
        "{err}"
    );
    let _ = fs_err::remove_dir_all(&e);
}

#[test]
fn cudart_version_header() {
    assert_eq!(
        parse_cudart_version("/* x */\n#define CUDART_VERSION  12080\n"),
        Some(v("12.8"))
    );
    assert_eq!(
        parse_cudart_version("#define CUDART_VERSION 13000"),
        Some(v("13.0"))
    );
    assert_eq!(parse_cudart_version("nothing"), None);
}

/// Runs a generated wrapper whose "real" tool is a fake script.
#[cfg(unix)]
fn run_wrapper(dir: &Path, wrapper: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(dir.join(wrapper))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[cfg(unix)]
fn install(dir: &Path, rel: &str, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    put(dir, rel, text);
    fs_err::set_permissions(dir.join(rel), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(unix)]
#[test]
fn cicc_wrapper_lowers_what_cicc_wrote() {
    let r = r();
    let d = tmpdir("cicc");
    install(&d, "nvvm/bin/cicc", &cicc_wrapper(&r));
    // The fake cicc writes $FIXTURE to the file after -o, like cicc writes PTX.
    install(
        &d,
        "libexec/cicc",
        "#!/bin/sh\nprev=\nfor a in \"$@\"; do if [ \"$prev\" = -o ]; then cp \"$FIXTURE\" \"$a\"; fi; prev=$a; done\n",
    );
    put(&d, "real.ptx", PTX_13_0);
    let run = |fixture: &str, args: &[&str]| {
        std::process::Command::new(d.join("nvvm/bin/cicc"))
            .args(args)
            .env("FIXTURE", d.join(fixture))
            .current_dir(&d)
            .output()
            .unwrap()
    };
    let args = [
        "--c++17",
        "-arch",
        "compute_80",
        "-m64",
        "-o",
        "out dir.ptx",
    ];
    let out = run("real.ptx", &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = fs_err::read_to_string(d.join("out dir.ptx")).unwrap();
    assert_eq!(
        written,
        lower_ptx_version(PTX_13_0, r.from_isa, r.to_isa).unwrap()
    );
    assert!(written.contains("\n.version 8.7\n.target sm_80\n"));

    // A PTX ISA the recipe does not expect fails the compile.
    put(
        &d,
        "newer.ptx",
        &PTX_13_0.replace(".version 9.0", ".version 9.1"),
    );
    let out = run("newer.ptx", &args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("expected one `.version 9.0` line from cicc 13.0, found: .version 9.1"));
    assert!(!d.join("out dir.ptx.attnfarm-tmp").exists());

    // Output that is not PTX (LTO IR) is refused before cicc runs.
    let out = run("real.ptx", &["-arch", "compute_80", "-o", "x.ltoir"]);
    assert!(!out.status.success());
    assert!(!d.join("x.ltoir").exists());
    let _ = fs_err::remove_dir_all(&d);
}

#[cfg(unix)]
#[test]
fn fatbinary_wrapper_forces_lz4_or_none() {
    let r = r();
    let d = tmpdir("fatbinary");
    install(&d, "bin/fatbinary", &fatbinary_wrapper(&r));
    install(
        &d,
        "libexec/fatbinary",
        "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\n",
    );
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "-64",
            "--cicc-cmdline=-ftz=0 -prec_div=1 -prec_sqrt=1 -fmad=1 ",
        ];
        a.extend_from_slice(extra);
        a.push("--image3=kind=elf,sm=80,file=/t/x.cubin");
        a.push("--embedded-fatbin=/t/x.fatbin.c");
        a
    };
    let lines = |extra: &[&'static str]| {
        let out = run_wrapper(&d, "bin/fatbinary", &args(extra));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let lz4 = "[-64]\n[--cicc-cmdline=-ftz=0 -prec_div=1 -prec_sqrt=1 -fmad=1 ]\n\
               [--image3=kind=elf,sm=80,file=/t/x.cubin]\n[--embedded-fatbin=/t/x.fatbin.c]\n\
               [-compress-all]\n[--compress-mode=speed]\n";
    // What nvcc 13 passes for --compress-mode=default, -Xfatbin=-compress-all, or nothing.
    assert_eq!(lines(&["--compress-mode=default"]), lz4);
    assert_eq!(lines(&["-compress-all"]), lz4);
    assert_eq!(lines(&["--compress-mode=size", "-compress-all"]), lz4);
    assert_eq!(lines(&[]), lz4);
    let none = "[-64]\n[--cicc-cmdline=-ftz=0 -prec_div=1 -prec_sqrt=1 -fmad=1 ]\n\
                [--image3=kind=elf,sm=80,file=/t/x.cubin]\n[--embedded-fatbin=/t/x.fatbin.c]\n\
                [--compress-mode=none]\n";
    assert_eq!(lines(&["--compress-mode=none"]), none);
    assert_eq!(lines(&["-compress-all", "--compress-mode=none"]), none);
    let _ = fs_err::remove_dir_all(&d);
}

/// One container, three entries: SASS sm_80 (uncompressed), SASS sm_120
/// (LZ4, 96-byte header), PTX sm_120 (ZSTD).
fn synthetic_fatbin() -> Vec<u8> {
    let entry = |kind: u16, esz: u32, arch: u32, flags: u64, payload: &[u8]| {
        let mut e = vec![0u8; esz as usize];
        e[0..2].copy_from_slice(&kind.to_le_bytes());
        e[2..4].copy_from_slice(&0x0101u16.to_le_bytes());
        e[4..8].copy_from_slice(&esz.to_le_bytes());
        let asz = payload.len().div_ceil(8) * 8;
        e[8..16].copy_from_slice(&(asz as u64).to_le_bytes());
        e[28..32].copy_from_slice(&arch.to_le_bytes());
        e[40..48].copy_from_slice(&flags.to_le_bytes());
        e.extend_from_slice(payload);
        e.resize(esz as usize + asz, 0);
        e
    };
    let mut body = entry(2, 64, 80, 0x11, b"\x7fELF....");
    body.extend(entry(2, 96, 120, 0x100_2011, b"lz4data"));
    body.extend(entry(1, 80, 120, 0x8011, b"\x28\xb5\x2f\xfdzstd"));
    let mut c = Vec::new();
    c.extend_from_slice(&0xBA55_ED50u32.to_le_bytes());
    c.extend_from_slice(&1u16.to_le_bytes());
    c.extend_from_slice(&16u16.to_le_bytes());
    c.extend_from_slice(&(body.len() as u64).to_le_bytes());
    c.extend(body);
    c
}

#[test]
fn reads_fatbin_entries() {
    let mut data = vec![0u8; 8]; // padding before the container, as in a section
    data.extend(synthetic_fatbin());
    data.extend(synthetic_fatbin());
    let e = fatbin_entries(&data);
    assert_eq!(e.len(), 6);
    assert_eq!(
        e[..3],
        [
            FatbinEntry {
                kind: 2,
                arch: 80,
                compression: Compression::None
            },
            FatbinEntry {
                kind: 2,
                arch: 120,
                compression: Compression::Lz4
            },
            FatbinEntry {
                kind: 1,
                arch: 120,
                compression: Compression::Zstd
            },
        ]
    );
    assert!(e[0].is_sass() && e[2].is_ptx());
    // Truncated data: what is complete, no panic.
    assert!(fatbin_entries(&data[..8 + 16 + 40]).is_empty());
}

/// Provisions the composite toolkit the repository's matrix.yaml pins,
/// compiles one kernel for sm_80 (+ PTX) with the farm's own nvcc flags and
/// links it against the back end's runtime.
/// Needs network (or uv's cache), uv, g++ and readelf: `ATTNFARM_E2E=1`
/// (without it the test is reported ignored).
#[cfg(unix)]
#[test]
#[cfg_attr(
    not(attnfarm_e2e),
    ignore = "real build (network, minutes): set ATTNFARM_E2E=1"
)]
fn e2e_provision_and_compile_sm80() {
    use crate::engine::command::KernelCompile;
    use crate::matrix::{IndexSource, Matrix};
    use crate::platform::Platform;

    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let m = Matrix::parse("matrix.yaml", include_str!("../../../../matrix.yaml")).unwrap();
    let tk = m
        .toolkits
        .iter()
        .find(|t| t.frontend.is_some())
        .expect("matrix.yaml has a composite toolkit");
    let r = Recipe::new(tk.cuda, tk.frontend.unwrap()).unwrap();
    let packages = &tk.packages[&Platform::LinuxX86_64];

    let root = tmpdir("e2e");
    let cache = crate::toolchain::Cache {
        root: root.join("cache"),
    };
    let mut log = Vec::new();
    let uv = cache.uv(&mut log).unwrap();
    let entry = root.join("entry");
    let args = crate::toolchain::uv_install_args(
        &entry,
        "x86_64-manylinux_2_28",
        packages,
        &IndexSource::Default,
    );
    let sh = Shell::new().unwrap();
    sh.cmd(&uv).args(&args).run().unwrap();
    assemble(&entry, &r, &mut log).unwrap();
    let l = layout(&entry, &r).unwrap();
    assert_eq!(l.version, v("12.8"));
    assert_eq!(l.cudart, "libcudart.so.12");

    // The kernel, with exactly the flags the farm uses (--compress-mode=default).
    let mut include_dirs = vec![repo.join("kernels/include")];
    include_dirs.extend(l.include_dirs.iter().cloned());
    let kc = KernelCompile {
        os: Os::Linux,
        nvcc: l.nvcc.clone(),
        host_cxx: "g++".into(),
        include_dirs,
        arches: vec!["sm_80".parse().unwrap()],
        ptx: Some("sm_80".parse().unwrap()),
        compression: l.compression,
        source_root: Some(repo.clone()),
    };
    let obj = root.join("attn_exact.o");
    let argv = kc.argv(&repo.join("kernels/src/attn_exact.cu"), &obj);
    assert!(argv.contains(&"--compress-mode=default".to_string()));
    sh.cmd(&argv[0])
        .args(&argv[1..])
        .args(["--threads", "2"])
        .run()
        .unwrap();
    // api.cu: the error bookkeeping attn_exact.cu calls (no kernels).
    let api = root.join("api.o");
    let argv = kc.argv(&repo.join("kernels/src/api.cu"), &api);
    sh.cmd(&argv[0]).args(&argv[1..]).run().unwrap();
    let mut entries = object_fatbin_entries(&obj).unwrap();
    entries.sort_by_key(|e| (e.kind, e.arch));
    // PTX and SASS for sm_80, both LZ4 (nvcc asked for --compress-mode=default).
    assert_eq!(
        entries,
        [
            FatbinEntry {
                kind: 1,
                arch: 80,
                compression: Compression::Lz4
            },
            FatbinEntry {
                kind: 2,
                arch: 80,
                compression: Compression::Lz4
            },
        ]
    );

    // The PTX the composite writes (cicc wrapper) is ISA 8.7.
    let cu = root.join("af_scale.cu");
    fs_err::write(
        &cu,
        "__global__ void af_scale(float* x, float s) { x[threadIdx.x] *= s; }\n",
    )
    .unwrap();
    let ptx = root.join("af_scale.ptx");
    sh.cmd(&l.nvcc)
        .args(["-ptx", "-arch=compute_80"])
        .arg(&cu)
        .arg("-o")
        .arg(&ptx)
        .run()
        .unwrap();
    let text = fs_err::read_to_string(&ptx).unwrap();
    assert!(text.contains("\n.version 8.7\n.target sm_80\n"), "{text}");

    // Links against libcudart.so.12 only, with every symbol resolved.
    let lib = root.join("libe2e.so");
    sh.cmd("g++")
        .args(["-shared", "-o"])
        .arg(&lib)
        .arg(&obj)
        .arg(&api)
        .args(["-Wl,--as-needed", "-Wl,-z,defs"])
        .arg(format!("-L{}", l.lib_dir.display()))
        .arg(format!("-l:{}", l.cudart))
        .run()
        .unwrap();
    let dynamic = sh.cmd("readelf").arg("-dW").arg(&lib).read().unwrap();
    assert!(
        dynamic.contains("Shared library: [libcudart.so.12]"),
        "{dynamic}"
    );
    assert!(!dynamic.contains("libcudart.so.13"), "{dynamic}");
    let _ = fs_err::remove_dir_all(&root);
}
