//! Real end to end, gated: `ATTNFARM_E2E=1 cargo test -p xtask --test e2e_hermetic`.
//!
//! The stable-ABI twin of `e2e_hermetic.rs`: a hermetic build of
//! `cu13-torchstable2.10-linux_x86_64` (the stable binding, compiled with
//! TORCH_TARGET_VERSION against torch 2.10's headers) for sm_90 only (toolkit and torch wheels
//! downloaded into the farm's cache on first use, the repo's real kernels
//! and bindings), then checks the wheel with `inspect_wheel` and its build
//! record, then runs again and checks that nothing was compiled.
//! Needs network (first run), gcc/g++, ~3 GB in the cache.

use std::path::PathBuf;
use std::process::Command;

fn enabled() -> bool {
    std::env::var("ATTNFARM_E2E").is_ok_and(|v| v == "1")
}

#[test]
fn hermetic_cu13_stable_sm90() {
    if !enabled() {
        eprintln!("skipped: set ATTNFARM_E2E=1 to run the real hermetic build (network, minutes)");
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("attnfarm-e2e-stable-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&out);
    let run = || {
        let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(&repo)
            .args([
                "build-matrix",
                "--only",
                "cu13-torchstable2.10-linux_x86_64",
                "--arch",
                "sm_90",
                "--no-index",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            o.status.success(),
            "build-matrix failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        (stdout, stderr)
    };
    let (stdout, _) = run();
    eprintln!("{stdout}");
    let wheel = out
        .join("wheels")
        .join("attnfarm-2026.1.0+cu130torchstable2.10-cp39-abi3-manylinux_2_28_x86_64.whl");
    let info = xtask::wheel::inspect::inspect_wheel(&wheel).unwrap();
    for e in [
        "attnfarm/__init__.py",
        "attnfarm/_C.abi3.so",
        "attnfarm/_build_info.py",
    ] {
        assert!(
            info.entries.iter().any(|x| x == e),
            "{e} missing: {:?}",
            info.entries
        );
    }
    assert_eq!(
        info.fields.get("Requires-Dist").map(String::as_str),
        Some("torch>=2.10")
    );
    let zip = zip::ZipArchive::new(fs_err::File::open(&wheel).unwrap());
    let mut zip = zip.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("attnfarm/_build_info.py").unwrap(),
        &mut text,
    )
    .unwrap();
    assert!(text.contains("SASS_ARCHES = [\"sm_90\"]\n"), "{text}");
    assert!(text.contains("PTX_ARCH = None\n"), "{text}");
    assert!(
        text.contains("TORCH_BUILT_WITH = \"2.10.0+cu128\"\n")
            && text.contains("KIND = \"stable\"\n"),
        "{text}"
    );
    // The stable binding reached torch only through its C shims: the
    // library imports no C++ symbol of torch's (the audit enforces it; this
    // re-reads the library from the wheel to show it).
    let mut lib = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("attnfarm/_C.abi3.so").unwrap(), &mut lib).unwrap();
    let facts = xtask::audit::parse_elf(&lib).unwrap();
    let cxx: Vec<&String> = facts
        .undefined
        .iter()
        .filter(|(s, v)| v.is_none() && xtask::audit::is_torch_cxx_symbol(s))
        .map(|(s, _)| s)
        .collect();
    assert!(cxx.is_empty(), "torch C++ symbols imported: {cxx:?}");
    assert!(
        facts
            .undefined
            .iter()
            .any(|(s, _)| s == "aoti_torch_get_current_cuda_stream"),
        "the current CUDA stream comes through the shim"
    );
    assert!(
        facts.needed.iter().any(|n| n == "libcudart.so.13"),
        "{:?}",
        facts.needed
    );
    let log =
        fs_err::read_to_string(out.join("logs/cu13-torchstable2.10-linux_x86_64.log")).unwrap();
    let ours = log
        .split("audit of _C.abi3.so: needs ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no audit line in the log:\n{log}"))
        .to_string();

    // The external referee: `auditwheel show` must derive the same tag from
    // the symbol versions (it also lists torch's libraries as external,
    // which the farm excludes on purpose).
    let aw = std::env::var("AUDITWHEEL").unwrap_or_else(|_| "auditwheel".into());
    if xtask::testing::require_tool(
        &aw,
        &["--version"],
        "the auditwheel cross-check of the e2e build (pip install auditwheel, or set AUDITWHEEL)",
    ) {
        let o = Command::new(&aw)
            .arg("show")
            .arg(&wheel)
            .output()
            .expect("auditwheel runs");
        assert!(
            o.status.success(),
            "auditwheel show failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout).replace('\n', " ");
        let theirs = text
            .split("constrains the platform tag to \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("unexpected auditwheel output: {text}"));
        assert_eq!(theirs, ours, "auditwheel: {text}");
    }

    // Again: nothing compiles, the wheel is up to date.
    let (stdout, _) = run();
    assert!(stdout.contains("up to date"), "{stdout}");
    let _ = fs_err::remove_dir_all(&out);
}
