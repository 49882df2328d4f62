//! Helpers for the test suites (unit and integration). Not part of the farm.
//!
//! A test that needs a tool (a C compiler, uv, auditwheel) **fails** when the
//! tool is missing, so a machine without it cannot turn the suite green by
//! skipping. `ATTNFARM_ALLOW_SKIP=1` turns that into an explicit skip, printed
//! as `SKIPPED: …` on stderr (a developer's machine without the tool).

/// Whether `ATTNFARM_ALLOW_SKIP=1` is set.
pub fn skips_allowed() -> bool {
    std::env::var("ATTNFARM_ALLOW_SKIP").is_ok_and(|v| v == "1")
}

/// Does `program --version` (or `probe` if given) run and exit 0?
pub fn tool_answers(program: &str, probe: &[&str]) -> bool {
    let args: &[&str] = if probe.is_empty() {
        &["--version"]
    } else {
        probe
    };
    std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// true: `program` answers. false: it is missing and skips are allowed (the
/// skip is printed). Panics otherwise, naming the tool and what needs it.
pub fn require_tool(program: &str, probe: &[&str], needed_for: &str) -> bool {
    if tool_answers(program, probe) {
        return true;
    }
    if skips_allowed() {
        eprintln!("SKIPPED (ATTNFARM_ALLOW_SKIP=1): `{program}` is missing; it is needed for {needed_for}");
        return false;
    }
    panic!(
        "`{program}` is missing (or `{program} {}` failed); it is needed for {needed_for}. \
         Install it, or set ATTNFARM_ALLOW_SKIP=1 to skip such tests explicitly.",
        if probe.is_empty() {
            "--version".to_string()
        } else {
            probe.join(" ")
        }
    );
}

/// Path of the test fixture matrix: a frozen copy of the repository's
/// `matrix.yaml` (torch 2.7-2.15, stable from 2.10). Tests whose expectations
/// name variant ids, counts or torch releases read it, so adding a release to
/// `matrix.yaml` changes no test. Ex) ids `cu12-torch2.9-linux_x86_64`
pub const FIXTURE_MATRIX_PATH: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/matrix.yaml");

/// The fixture matrix's text (see [`FIXTURE_MATRIX_PATH`]).
pub const FIXTURE_MATRIX: &str = include_str!("../tests/fixtures/matrix.yaml");

/// Path of the repository's own `matrix.yaml`, for the few tests that check
/// properties the product needs of it (never exact counts or ids).
pub const LIVE_MATRIX_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../matrix.yaml");

/// The fixture matrix, validated.
pub fn fixture_matrix() -> crate::matrix::Matrix {
    crate::matrix::Matrix::parse("fixtures/matrix.yaml", FIXTURE_MATRIX)
        .expect("the fixture matrix is valid")
}

/// A wheel spec of the test project `attnfarm` 2026.1.0+`local` for
/// `platform` (a platform tag), `cp39-abi3`, requiring `requires`.
/// Ex) `wheel_spec("cu128torch2.9", "manylinux_2_28_x86_64", "torch>=2.9,<2.10")`
pub fn wheel_spec(local: &str, platform: &str, requires: &str) -> crate::wheel::WheelSpec {
    use crate::wheel::filename::WheelFilename;
    use crate::wheel::metadata::CoreMetadata;
    use crate::wheel::Entry;
    let version = crate::versions::Version::public("2026.1.0")
        .unwrap()
        .with_local(&local.parse().unwrap());
    let filename = WheelFilename::abi3(
        &"attnfarm".parse().unwrap(),
        &version,
        crate::versions::PythonTag::cpython3(9),
        platform.parse().unwrap(),
    );
    crate::wheel::WheelSpec {
        metadata: CoreMetadata {
            name: "attnfarm".parse().unwrap(),
            version,
            summary: "test".into(),
            license_expression: "Apache-2.0".into(),
            license_files: vec!["LICENSE".into()],
            requires_dist: vec![requires.into()],
            requires_python: ">=3.10".parse().unwrap(),
            project_urls: Default::default(),
            description: None,
        },
        filename,
        generator: "attnfarm-xtask test".into(),
        licenses: vec![Entry::bytes("LICENSE", "license text\n")],
    }
}
