//! The load test for real, gated like the other real-build tests
//! (`ATTNFARM_E2E=1`: network on first use, minutes): a hermetic sm_90 build
//! of `cu13-torch2.11-linux_x86_64`, then `verify` installs it from the
//! farm's index into a fresh environment with torch 2.11.0 (and its
//! dependencies) and imports it; the same wheel planned against torch 2.12.1
//! must fail, naming why.

use std::path::PathBuf;
use std::process::Command;

use xtask::matrix::{IndexSource, Matrix};
use xtask::plan::{LoadTestTorch, Plan};
use xtask::platform::Platform;
use xtask::progress::Silent;
use xtask::toolchain::Cache;
use xtask::verify::{self, Options, CHECKS};

const VARIANT: &str = "cu13-torch2.11-linux_x86_64";

#[test]
fn a_built_wheel_loads_under_its_torch_and_not_under_another() {
    if std::env::var("ATTNFARM_E2E").ok().as_deref() != Some("1") {
        eprintln!("skipped: set ATTNFARM_E2E=1 to run the real load test (network, minutes)");
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("attnfarm-e2e-verify-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(&repo)
        .args([
            "build-matrix",
            "--only",
            VARIANT,
            "--arch",
            "sm_90",
            "--no-index",
            "--verify",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "build-matrix --verify failed\n{stdout}\n{stderr}"
    );
    // The load-test table: one row, every check ok.
    let row = stdout
        .lines()
        .find(|l| l.starts_with(VARIANT) && l.contains(" 2.11.0 "))
        .unwrap_or_else(|| panic!("no load-test row:\n{stdout}"));
    assert_eq!(row.matches(" ok").count(), CHECKS.len(), "{row}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    let record: Vec<verify::Outcome> =
        serde_json::from_slice(&fs_err::read(out.join("verify.json")).unwrap()).unwrap();
    assert!(record[0].ok(), "{record:?}");
    let cpu = record[0]
        .checks
        .iter()
        .find(|c| c.name == "cpu_error")
        .unwrap();
    assert!(cpu.detail.contains("must be CUDA tensors"), "{cpu:?}");

    // The same wheel under torch 2.12.1: pip must refuse it (Requires-Dist
    // torch>=2.11,<2.12), and verify must report that as a failure.
    let m = Matrix::load(&repo.join("matrix.yaml")).unwrap();
    let full = Plan::from_matrix(&m, Platform::host());
    let mut plan = full.clone();
    plan.variants.retain(|v| v.id == VARIANT);
    plan.variants[0].arches = vec!["sm_90".parse().unwrap()];
    plan.variants[0].load_test = vec![LoadTestTorch {
        build: "2.12.1".parse().unwrap(),
        cuda: "13.0".parse().unwrap(),
        source: IndexSource::Default,
    }];
    let opts = Options {
        dist: out.clone(),
        python: "python3".into(),
        cache: Cache::locate(),
        jobs: 1,
        keep_envs: false,
    };
    let outcomes = verify::verify(&plan, &full, &opts, &Silent).unwrap();
    assert!(!outcomes[0].ok());
    let why = outcomes[0].first_problem().unwrap();
    assert!(
        why.starts_with("pip could not install attnfarm-2026.1.0+cu130torch2.11-")
            && why.contains("torch"),
        "{why}"
    );
    let table = verify::summary_table(&outcomes);
    assert!(table.contains("under torch 2.12.1 FAILED"), "{table}");
    let _ = fs_err::remove_dir_all(&out);
}
