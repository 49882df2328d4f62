//! What the real-build tests (`e2e_hermetic.rs`, `e2e_stable.rs`,
//! `e2e_verify.rs`) share: one hermetic sm_90 build of one variant through
//! the CLI, the wheel's files, the farm's audit verdict from the log and the
//! auditwheel cross-check of it. Each test crate includes it with `#[path]`
//! and uses part of it. The gate is a cfg (`xtask/build.rs`): each such test
//! carries `#[cfg_attr(not(attnfarm_e2e), ignore = ...)]`, so without
//! `ATTNFARM_E2E=1` cargo reports it as ignored.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `cargo xtask build-matrix --only <variant> --arch sm_90 --no-index --out
/// <out>` from the repository root, as a user runs it; panics unless it
/// succeeds. Returns (stdout, stderr).
pub fn build_sm90(variant: &str, out: &Path) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(repo())
        .args([
            "build-matrix",
            "--only",
            variant,
            "--arch",
            "sm_90",
            "--no-index",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "build-matrix failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// One file of a wheel, as bytes.
pub fn wheel_file(wheel: &Path, name: &str) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(fs_err::File::open(wheel).unwrap()).unwrap();
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(name).unwrap(), &mut data).unwrap();
    data
}

/// The checks every e2e wheel passes: `inspect_wheel` accepts it, it holds
/// the package, the library and the build record, its `Requires-Dist` is
/// `requires`, and the record names the sm_90 SASS alone. Returns the
/// record's text (`attnfarm/_build_info.py`).
pub fn check_sm90_wheel(wheel: &Path, requires: &str) -> String {
    let info = xtask::wheel::inspect::inspect_wheel(wheel).unwrap();
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
        Some(requires)
    );
    let text = String::from_utf8(wheel_file(wheel, "attnfarm/_build_info.py")).unwrap();
    assert!(text.contains("SASS_ARCHES = [\"sm_90\"]\n"), "{text}");
    assert!(text.contains("PTX_ARCH = None\n"), "{text}");
    text
}

/// The manylinux tag the farm's audit derived for the variant's library,
/// read from its build log. Ex) `manylinux_2_28_x86_64`
pub fn audited_tag(out: &Path, variant: &str) -> String {
    let log = fs_err::read_to_string(out.join(format!("logs/{variant}.log"))).unwrap();
    log.split("audit of _C.abi3.so: needs ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no audit line in the log:\n{log}"))
        .to_string()
}

/// The real hermetic build test of one variant, for sm_90: build it through
/// the CLI into a fresh `<tmp>/attnfarm-e2e-<tag>-<pid>`, check the wheel
/// `wheel_name` ([`check_sm90_wheel`], then `check` with the wheel's path and
/// its build record's text), have auditwheel agree with the farm's audit,
/// then build again and see that nothing is compiled.
pub fn hermetic_sm90(
    variant: &str,
    tag: &str,
    wheel_name: &str,
    requires: &str,
    check: impl FnOnce(&Path, &str),
) {
    let out = std::env::temp_dir().join(format!("attnfarm-e2e-{tag}-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&out);
    let (stdout, _) = build_sm90(variant, &out);
    eprintln!("{stdout}");
    let wheel = out.join("wheels").join(wheel_name);
    let info = check_sm90_wheel(&wheel, requires);
    check(&wheel, &info);
    // Fails when auditwheel is missing, unless ATTNFARM_ALLOW_SKIP=1.
    auditwheel_agrees(&auditwheel(), &wheel, &audited_tag(&out, variant));

    // Again: nothing compiles, the wheel is up to date.
    let (stdout, _) = build_sm90(variant, &out);
    assert!(stdout.contains("up to date"), "{stdout}");
    let _ = fs_err::remove_dir_all(&out);
}

/// The auditwheel program (`AUDITWHEEL`, else `auditwheel` on PATH).
pub fn auditwheel() -> String {
    std::env::var("AUDITWHEEL").unwrap_or_else(|_| "auditwheel".into())
}

/// The external referee: `<auditwheel> show` must derive the tag `ours` from
/// the symbol versions (it also lists torch's libraries as external, which
/// the farm excludes on purpose). A missing auditwheel fails the test
/// (`xtask::testing::require_tool`); only `ATTNFARM_ALLOW_SKIP=1` turns that
/// into a printed skip, and then this returns false. True: it ran and agreed.
pub fn auditwheel_agrees(auditwheel: &str, wheel: &Path, ours: &str) -> bool {
    if !xtask::testing::require_tool(
        auditwheel,
        &["--version"],
        "the auditwheel cross-check of the e2e build (pip install auditwheel, or set AUDITWHEEL)",
    ) {
        return false;
    }
    let o = Command::new(auditwheel)
        .arg("show")
        .arg(wheel)
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
    true
}
