//! The load test for real, gated like the other real-build tests
//! (`ATTNFARM_E2E=1`: network on first use, minutes; without it, reported
//! ignored): a hermetic sm_90 build of the stable wheel
//! `cu13-torchstable2.10-linux_x86_64` (compiled against torch 2.10's
//! headers), then `verify` installs it from the farm's index into
//! a fresh environment with torch 2.15.0 (and its dependencies) and imports
//! it; the same wheel under torch 2.9.1, below its floor, must fail, naming
//! why. (`build-matrix --verify` on the default matrix runs it under every
//! torch of its plan's `load_test`, 2.11.0 … 2.15.0.)

#[path = "support/e2e.rs"]
mod e2e;

use xtask::matrix::{IndexSource, Matrix};
use xtask::plan::{LoadTestTorch, Plan};
use xtask::platform::Platform;
use xtask::progress::Silent;
use xtask::toolchain::Cache;
use xtask::verify::{self, Options, CHECKS};

const VARIANT: &str = "cu13-torchstable2.10-linux_x86_64";

#[test]
#[cfg_attr(
    not(attnfarm_e2e),
    ignore = "real build (network, minutes): set ATTNFARM_E2E=1"
)]
fn a_built_wheel_loads_under_its_torch_and_not_under_another() {
    let repo = e2e::repo();
    let out = std::env::temp_dir().join(format!("attnfarm-e2e-verify-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&out);
    e2e::build_sm90(VARIANT, &out);

    let m = Matrix::load(&repo.join("matrix.yaml")).unwrap();
    let full = Plan::from_matrix(&m, Platform::host());
    let planned: Vec<String> = full
        .find(VARIANT)
        .unwrap()
        .load_test
        .iter()
        .map(|t| t.build.to_string())
        .collect();
    assert_eq!(planned, ["2.11.0", "2.12.1", "2.13.0", "2.14.1", "2.15.0"]);
    let under = |build: &str, cuda: &str| {
        let mut plan = full.clone();
        plan.variants.retain(|v| v.id == VARIANT);
        plan.variants[0].arches = vec!["sm_90".parse().unwrap()];
        plan.variants[0].load_test = vec![LoadTestTorch {
            build: build.parse().unwrap(),
            cuda: cuda.parse().unwrap(),
            source: IndexSource::Default,
        }];
        let opts = Options {
            dist: out.clone(),
            python: "python3".into(),
            cache: Cache::locate(),
            jobs: 1,
            keep_envs: false,
        };
        verify::verify(&plan, &full, &opts, &Silent).unwrap()
    };

    // The newest torch of the matrix, five minors after the one it was
    // compiled against: every check ok.
    let outcomes = under("2.15.0", "13.2");
    let table = verify::summary_table(&outcomes);
    assert!(outcomes[0].ok(), "{table}");
    assert_eq!(outcomes[0].checks.len(), CHECKS.len(), "{table}");
    let cpu = outcomes[0]
        .checks
        .iter()
        .find(|c| c.name == "cpu_error")
        .unwrap();
    assert!(cpu.detail.contains("must be CUDA tensors"), "{cpu:?}");

    // Below the floor: pip must refuse it (Requires-Dist torch>=2.10), and
    // verify must report that as a failure.
    let outcomes = under("2.9.1", "12.8");
    assert!(!outcomes[0].ok());
    let why = outcomes[0].first_problem().unwrap();
    assert!(
        why.starts_with("pip could not install attnfarm-2026.1.0+cu130torchstable2.10-")
            && why.contains("torch"),
        "{why}"
    );
    let table = verify::summary_table(&outcomes);
    assert!(table.contains("under torch 2.9.1 FAILED"), "{table}");
    let _ = fs_err::remove_dir_all(&out);
}
