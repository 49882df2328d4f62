use super::*;

/// The test fixture (a frozen copy of matrix.yaml): the ids and counts below
/// are its, not the live file's.
fn fixture_matrix() -> Matrix {
    crate::testing::fixture_matrix()
}

/// The repository's matrix.yaml, for the property test only (it names no
/// ids or counts); the file snapshots below read the fixture, so a change to
/// matrix.yaml changes no snapshot.
fn live_matrix() -> Matrix {
    Matrix::load(std::path::Path::new(crate::testing::LIVE_MATRIX_PATH)).unwrap()
}

fn plan() -> Plan {
    Plan::from_matrix(&fixture_matrix(), Some(Platform::LinuxX86_64))
}

#[test]
fn live_matrix_plans_every_kind_of_variant() {
    let p = Plan::from_matrix(&live_matrix(), Some(Platform::LinuxX86_64));
    for kind in [VariantKind::PerMinor, VariantKind::Stable] {
        assert!(
            p.variants.iter().any(|v| v.kind == kind),
            "matrix.yaml plans no {} variant",
            kind.as_str()
        );
    }
    for platform in [Platform::LinuxX86_64, Platform::WinAmd64] {
        assert!(
            p.variants
                .iter()
                .any(|v| v.platform == platform && v.is_stable()),
            "matrix.yaml plans no stable wheel for {platform}"
        );
    }
    // Every variant has a wheel name that round-trips and a load test.
    for v in &p.variants {
        assert_eq!(
            v.wheel.to_string().parse::<WheelFilename>().unwrap(),
            v.wheel
        );
        assert!(!v.load_test.is_empty(), "{}", v.id);
    }
}

#[test]
fn fixture_matrix_expands() {
    let p = plan();
    // Per-minor 2.7-2.9 (cu12) and one stable wheel per CUDA major, on Linux
    // and Windows, less CUDA 12 on Windows (excluded in matrix.yaml).
    assert_eq!(p.variants.len(), 6);
    let v = p.find("cu12-torch2.9-linux_x86_64").unwrap();
    assert_eq!(v.version, "2026.1.0+cu128torch2.9");
    assert_eq!(
        v.wheel.to_string(),
        "attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl"
    );
    assert_eq!(v.requires_dist, ["torch>=2.9,<2.10"]);
    assert_eq!(v.torch_source, IndexSource::Default);
    assert_eq!(v.host, HostSupport::Yes);
    assert_eq!(v.kind, VariantKind::PerMinor);
    assert!(
        p.find("cu13-torch2.11-linux_x86_64").is_none(),
        "2.10+ is served by the stable wheels"
    );
    let w = p.find("cu13-torchstable2.10-win_amd64").unwrap();
    assert_eq!(w.kind, VariantKind::Stable);
    assert_eq!(w.version, "2026.1.0+cu130torchstable2.10");
    assert_eq!(w.toolkit.to_string(), "13.0");
    // Compiled against the floor's torch (2.10.0, built for CUDA 12.8): the
    // stable binding uses only torch's C shims.
    assert_eq!(
        (w.torch.to_string(), w.torch_build.to_string()),
        ("2.10".into(), "2.10.0".into())
    );
    assert_eq!(w.torch_cuda.to_string(), "12.8");
    assert_eq!(w.requires_dist, ["torch>=2.10"]);
    assert_eq!(w.requires_python, ">=3.10");
    assert!(
        matches!(&w.host, HostSupport::No(r) if r == "needs a win_amd64 host (this is linux_x86_64)")
    );
    assert_eq!(w.wheel.platform.to_string(), "win_amd64");
    // cu12 for 2.7 (CUDA 12.6 torch) compiles with the 12.8 toolkit.
    let old = p.find("cu12-torch2.7-linux_x86_64").unwrap();
    assert_eq!(
        (old.toolkit.to_string(), old.torch_cuda.to_string()),
        ("12.8".into(), "12.6".into())
    );
}

#[test]
fn ids_are_unique_and_stable() {
    let p = plan();
    let mut ids: Vec<_> = p.variants.iter().map(|v| v.id.clone()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert_eq!(plan(), plan(), "same input, same plan");
}

#[test]
fn plan_json_snapshot() {
    let p = plan()
        .select(&Filter {
            only: vec!["cu13-torchstable2.10-*".into()],
            ..Filter::default()
        })
        .unwrap();
    insta::assert_json_snapshot!("plan_cu13_torchstable2.10", p);
}

#[test]
fn table_snapshot() {
    let p = plan()
        .select(&Filter {
            only: vec!["*-linux_x86_64".into()],
            ..Filter::default()
        })
        .unwrap();
    insta::assert_snapshot!("plan_table_linux", p.table());
}

#[test]
fn github_matrix_snapshot() {
    let p = plan()
        .select(&Filter {
            only: vec!["cu12-torch2.9-*".into()],
            ..Filter::default()
        })
        .unwrap();
    insta::assert_json_snapshot!("github_matrix_torch2.9", p.github_matrix());
}

#[test]
fn filters() {
    let by = |f: Filter| -> Vec<String> {
        plan()
            .select(&f)
            .unwrap()
            .variants
            .into_iter()
            .map(|v| v.id.into())
            .collect()
    };
    assert_eq!(
        by(Filter {
            only: vec!["cu13-torchstable2.10-linux_x86_64".into()],
            ..Default::default()
        }),
        ["cu13-torchstable2.10-linux_x86_64"]
    );
    assert_eq!(
        by(Filter {
            only: vec!["*-torchstable*".into()],
            ..Default::default()
        }),
        // CUDA 12 is excluded on Windows (matrix.yaml).
        [
            "cu12-torchstable2.10-linux_x86_64",
            "cu13-torchstable2.10-linux_x86_64",
            "cu13-torchstable2.10-win_amd64"
        ]
    );
    assert_eq!(
        by(Filter {
            only: vec!["cu13-*".into()],
            platform: Some(Platform::WinAmd64),
            ..Default::default()
        })
        .len(),
        1
    );
    assert_eq!(
        by(Filter {
            platform: Some(Platform::LinuxX86_64),
            ..Default::default()
        })
        .len(),
        5
    );
    insta::assert_snapshot!(
        plan().select(&Filter { only: vec!["cu11-*".into()], ..Default::default() }).unwrap_err().to_string()
            .split("; variants:").next().unwrap().to_string(),
        @"no variant matches the filters (--only cu11-*)"
    );
}

#[test]
fn shards_partition_balanced_and_deterministic() {
    let all: Vec<String> = plan().variants.into_iter().map(|v| v.id.into()).collect();
    for n in 1..=20 {
        let mut union = Vec::new();
        let mut sizes = Vec::new();
        for i in 1..=n {
            let s = Shard { index: i, count: n };
            let part: Vec<String> = s.take(all.clone());
            sizes.push(part.len());
            union.extend(part);
        }
        assert_eq!(union, all, "shards of {n} concatenate to the plan");
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 1, "{n}: {sizes:?}");
    }
    // A shard keeps one toolkit's variants together where it can.
    let first: Vec<String> = Shard { index: 1, count: 5 }.take(all.clone());
    assert!(
        first
            .iter()
            .all(|id| id.starts_with("cu12-") && id.ends_with("linux_x86_64")),
        "{first:?}"
    );
}

#[test]
fn shard_parsing() {
    assert_eq!(
        "2/4".parse::<Shard>().unwrap(),
        Shard { index: 2, count: 4 }
    );
    for bad in ["0/4", "5/4", "1/0", "1", "a/b", "1/2/3"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
    insta::assert_snapshot!("0/3".parse::<Shard>().unwrap_err(), @"`0/3` is not a shard (expected I/N with 1 <= I <= N, e.g. `2/4`)");
}

#[test]
fn globbing() {
    for (p, t, ok) in [
        ("cu12-*", "cu12-torch2.9-linux_x86_64", true),
        ("*linux*", "cu12-torch2.9-linux_x86_64", true),
        ("cu1?-torch2.9-win_amd64", "cu12-torch2.9-win_amd64", true),
        ("cu12-torch2.9", "cu12-torch2.9-win_amd64", false),
        ("*", "", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
    ] {
        assert_eq!(glob_match(p, t), ok, "{p} ~ {t}");
    }
}

#[test]
fn ambient_picks_the_plan_variant_for_the_torch_at_hand() {
    let m = fixture_matrix();
    let v = ambient(
        &m,
        Platform::LinuxX86_64,
        "2.9.1+cu128",
        "12.8",
        "12.8".parse().unwrap(),
    )
    .unwrap();
    let planned = plan().find("cu12-torch2.9-linux_x86_64").unwrap().clone();
    assert_eq!(v.id, planned.id);
    assert_eq!(v.wheel, planned.wheel);
    assert_eq!(v.arches, planned.arches);
    assert!(v.load_test.is_empty(), "an ambient wheel has no load test");
}

#[test]
fn ambient_synthesizes_with_the_matrix_settings() {
    // 2.11 is served by the stable wheel only: no per-minor variant to take.
    let v = ambient(
        &fixture_matrix(),
        Platform::LinuxX86_64,
        "2.11.0+cu130",
        "13.0",
        "13.0".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(v.id, "cu13-torch2.11-linux_x86_64");
    assert_eq!(
        v.wheel.to_string(),
        "attnfarm-2026.1.0+cu130torch2.11-cp39-abi3-manylinux_2_28_x86_64.whl"
    );
    assert_eq!(v.arches.len(), 6);
    assert_eq!(v.host, HostSupport::Yes);
}

#[test]
fn ambient_relabels_with_the_real_toolkit() {
    // A torch the matrix does not list, built with a toolkit it does not pin.
    let v = ambient(
        &fixture_matrix(),
        Platform::LinuxX86_64,
        "2.6.0+cu124",
        "12.4",
        "12.4".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(v.id, "cu12-torch2.6-linux_x86_64");
    assert_eq!(v.version, "2026.1.0+cu124torch2.6");
    assert_eq!(v.requires_dist, ["torch>=2.6,<2.7"]);
    assert_eq!(v.requires_python, ">=3.9");
    // sm_100/sm_120 need CUDA 12.8: dropped for 12.4.
    assert!(v.arches.iter().all(|a| a.number < 100), "{:?}", v.arches);
    assert_eq!(v.ptx, None);
}

#[test]
fn ambient_fallbacks_are_the_documented_constants() {
    assert_eq!(DEFAULT_GLIBC_FLOOR, GlibcVersion::new(2, 28));
    let names = |v: Vec<SmArch>| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(fallback_arches("12.8".parse().unwrap())),
        ["sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120"]
    );
    assert_eq!(
        names(fallback_arches("12.4".parse().unwrap())),
        ["sm_80", "sm_86", "sm_89", "sm_90"]
    );
}

#[test]
fn ambient_names_a_bad_torch_version() {
    let err = ambient(
        &fixture_matrix(),
        Platform::LinuxX86_64,
        "nightly",
        "12.8",
        "12.8".parse().unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "torch.__version__ `nightly` is not MAJOR.MINOR.PATCH"
    );
}
