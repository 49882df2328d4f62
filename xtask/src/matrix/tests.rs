use super::*;
use crate::platform::Platform;

/// A small valid matrix; tests replace one line to break it.
const BASE: &str = r#"schema: 1
package:
  name: attnfarm
  version: 2026.1.0
  summary: test
  license: Apache-2.0
  abi3: cp39
indexes:
  pt: https://example.invalid/whl/cu128
platforms:
  linux_x86_64:
    manylinux: "2_28"
    runner: ubuntu-24.04
  win_amd64:
    runner: windows-2022
toolkits:
  - cuda: "12.8"
    arches: [sm_80, sm_90]
    ptx: sm_90
    packages:
      linux_x86_64: [nvcc==12.8.93]
      win_amd64: [nvcc==12.8.93]
torch:
  - version: "2.9"
    build: 2.9.1
    cuda: "12.8"
    requires_python: ">=3.10"
    source: {linux_x86_64: default, win_amd64: pt}
exclude: []
release:
  github: o/r
  tag: "v{version}"
  pages: https://o.github.io/r
"#;

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "fixture lacks {from:?}");
    BASE.replacen(from, to, 1)
}

fn err(text: &str) -> String {
    Matrix::parse("matrix.yaml", text).unwrap_err().to_string()
}

#[test]
fn base_is_valid() {
    let m = Matrix::parse("matrix.yaml", BASE).unwrap();
    assert_eq!(m.package.name, "attnfarm");
    assert_eq!(m.toolkits[0].arches.len(), 2);
    assert_eq!(m.release.pages, "https://o.github.io/r/");
    assert_eq!(
        m.torch[0].source[&Platform::WinAmd64],
        IndexSource::Named {
            name: "pt".into(),
            url: "https://example.invalid/whl/cu128".into()
        }
    );
}

/// The test fixture (a frozen copy of matrix.yaml); counts and releases
/// below are its.
fn fixture() -> Matrix {
    crate::testing::fixture_matrix()
}

#[test]
fn fixture_matrix_is_valid() {
    let m = fixture();
    assert_eq!(m.torch.len(), 9);
    assert_eq!(m.toolkits.len(), 2);
}

/// The repository's matrix.yaml validates and has what the product needs:
/// per-minor and stable wheels, a toolkit for every torch's CUDA major, and
/// every platform the farm builds for. No counts: adding a torch release or
/// a toolkit changes nothing here.
#[test]
fn live_matrix_is_valid_and_complete() {
    let m = Matrix::load(std::path::Path::new(crate::testing::LIVE_MATRIX_PATH)).unwrap();
    let stable = m.stable.expect("matrix.yaml has a `stable` section");
    assert!(stable.from >= STABLE_ABI_MIN);
    let c = m.candidates();
    let kept = |sel: fn(&TorchSel) -> bool| {
        c.iter()
            .any(|(s, major, p)| sel(s) && !m.excluded(*s, *major, *p))
    };
    assert!(
        kept(|s| matches!(s, TorchSel::Minor(_))),
        "no per-minor wheel"
    );
    assert!(kept(|s| *s == TorchSel::Stable), "no stable wheel");
    for t in &m.torch {
        assert!(m.toolkit_for_major(t.cuda.major).is_some(), "{}", t.version);
    }
    for p in [Platform::LinuxX86_64, Platform::WinAmd64] {
        assert!(m.platform(p).is_some(), "matrix.yaml lacks {p}");
        assert!(
            c.iter()
                .any(|(s, major, q)| *q == p && !m.excluded(*s, *major, *q)),
            "nothing is built for {p}"
        );
    }
}

#[test]
fn package_name_and_abi3_are_typed() {
    let m = Matrix::parse(
        "matrix.yaml",
        &with("  name: attnfarm", "  name: Attn_Farm").replace("abi3: cp39", "abi3: cp310"),
    )
    .unwrap();
    assert_eq!(m.package.name.normalized(), "attn-farm");
    assert_eq!(m.package.name.file_form(), "attn_farm");
    assert_eq!(m.package.abi3.minor(), 10);
}

#[test]
fn bad_package_name_and_abi3() {
    for (name, abi3) in [("-attn", "cp313t"), ("attn+x", "cp31"), ("attn.", "py39")] {
        let text = with("  name: attnfarm", &format!("  name: {name}"))
            .replace("abi3: cp39", &format!("abi3: {abi3}"));
        let e = err(&text);
        assert!(
            e.contains(&format!("package.name: invalid distribution name `{name}`")),
            "{e}"
        );
        assert!(
            e.contains(&format!(
                "package.abi3: `{abi3}` is not a stable-ABI floor (expected e.g. `cp39`)"
            )),
            "{e}"
        );
    }
    // `+9` passed the old `u32` parse; the tag is digits only now.
    insta::assert_snapshot!(err(&with("  abi3: cp39", "  abi3: cp3+9")), @"matrix.yaml:7:9: package.abi3: `cp3+9` is not a stable-ABI floor (expected e.g. `cp39`)");
}

#[test]
fn requires_python_is_typed() {
    let m = Matrix::parse("matrix.yaml", &with("\">=3.10\"", "\">=3.9,<4\"")).unwrap();
    let rp = &m.torch[0].requires_python;
    assert_eq!(rp, ">=3.9,<4");
    assert!(rp.admits(&[3, 13]) && !rp.admits(&[4, 0]));
}

#[test]
fn bad_requires_python_is_located() {
    let rp = |v: &str| err(&with("\">=3.10\"", v));
    insta::assert_snapshot!(rp("\"\""), @"matrix.yaml:27:22: torch[0].requires_python: `` is not a Requires-Python specifier set: it is empty (expected e.g. `>=3.10`, `>=3.9,<4`)");
    insta::assert_snapshot!(rp("\"=>3.10\""), @"matrix.yaml:27:22: torch[0].requires_python: `=>3.10` is not a Requires-Python specifier set: clause `=>3.10`: unknown or missing operator (one of >=, >, <=, <, ==, !=, ~=) (expected e.g. `>=3.10`, `>=3.9,<4`)");
    insta::assert_snapshot!(rp("\">=3.x\""), @"matrix.yaml:27:22: torch[0].requires_python: `>=3.x` is not a Requires-Python specifier set: clause `>=3.x`: `3.x` is not a release version (numbers joined by `.`, no leading zeros, e.g. `3.10`) (expected e.g. `>=3.10`, `>=3.9,<4`)");
    insta::assert_snapshot!(rp("\">=3.9, <4\""), @"matrix.yaml:27:22: torch[0].requires_python: `>=3.9, <4` is not a Requires-Python specifier set: spaces are not allowed (write the clauses joined by `,` alone) (expected e.g. `>=3.10`, `>=3.9,<4`)");
    // Well formed, but no CPython the `cp39-abi3` wheels install on is admitted.
    insta::assert_snapshot!(rp("\"<3.9\""), @"matrix.yaml:27:22: torch[0].requires_python: `<3.9` admits no CPython 3.9 or later, and the wheels are tagged `cp39-abi3` (package.abi3)");
    insta::assert_snapshot!(rp("\">=4\""), @"matrix.yaml:27:22: torch[0].requires_python: `>=4` admits no CPython 3.9 or later, and the wheels are tagged `cp39-abi3` (package.abi3)");
}

#[test]
fn unknown_key() {
    insta::assert_snapshot!(err(&with("  summary: test", "  sumary: test")), @"matrix.yaml:5:3: package: unknown field `sumary`, expected one of `name`, `version`, `summary`, `license`, `license_files`, `readme`, `urls`, `abi3`");
}

#[test]
fn unknown_key_nested() {
    insta::assert_snapshot!(err(&with("    ptx: sm_90", "    ptx: sm_90\n    ptxx: sm_90")), @"matrix.yaml:20:5: toolkits[0]: unknown field `ptxx`, expected one of `cuda`, `frontend`, `arches`, `ptx`, `packages`");
}

#[test]
fn bad_yaml_syntax() {
    insta::assert_snapshot!(err(&with("  abi3: cp39", "  abi3: [cp39")), @"matrix.yaml:7:9: package.abi3: invalid type: sequence, expected a string");
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(err(&with("    arches: [sm_80, sm_90]", "    arches: sm_80")), @r#"matrix.yaml:18:13: toolkits[0].arches: invalid type: string "sm_80", expected a sequence"#);
}

#[test]
fn bad_versions() {
    let text = with("    build: 2.9.1", "    build: 2.9")
        .replacen("  version: 2026.1.0", "  version: 2026.1.0+local", 1)
        .replacen("  - cuda: \"12.8\"", "  - cuda: \"12\"", 1);
    insta::assert_snapshot!(err(&text), @"
    matrix.yaml:4:12: package.version: version `2026.1.0+local` has a local label; the farm adds `+cu<XY>torch<M>.<m>` itself
    matrix.yaml:17:11: toolkits[0].cuda: `12` is not a CUDA version (expected MAJOR.MINOR, e.g. `12.8`)
    matrix.yaml:25:12: torch[0].build: `2.9` is not a torch release (expected MAJOR.MINOR.PATCH, e.g. `2.9.1`)
    ");
}

#[test]
fn bad_torch_minor() {
    insta::assert_snapshot!(err(&with("  - version: \"2.9\"", "  - version: \"2.x\"")), @"matrix.yaml:24:14: torch[0].version: `2.x` is not a torch minor version (expected MAJOR.MINOR, e.g. `2.9`)");
}

#[test]
fn arch_the_toolkit_cannot_compile() {
    insta::assert_snapshot!(err(&with("[sm_80, sm_90]", "[sm_80, sm_121, sm_90]")), @"matrix.yaml:18:21: toolkits[0].arches[1]: unknown arch `sm_121` for CUDA 12.8 (supported: 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 120)");
}

#[test]
fn cuda13_dropped_old_arches() {
    let text = with("  - cuda: \"12.8\"", "  - cuda: \"13.0\"")
        .replacen("[sm_80, sm_90]", "[sm_70, sm_80, sm_90]", 1)
        .replacen("    cuda: \"12.8\"", "    cuda: \"13.0\"", 1);
    insta::assert_snapshot!(err(&text), @"matrix.yaml:18:14: toolkits[0].arches[0]: unknown arch `sm_70` for CUDA 13.0 (supported: 75, 80, 86, 87, 89, 90, 100, 103, 110, 120, 121)");
}

#[test]
fn malformed_arch() {
    insta::assert_snapshot!(err(&with("    ptx: sm_90", "    ptx: compute_90")), @"matrix.yaml:19:10: toolkits[0].ptx: `compute_90` is not a GPU architecture (expected e.g. `sm_90`, `sm_90a`, `sm_100f`)");
}

#[test]
fn torch_without_toolkit() {
    insta::assert_snapshot!(err(&with("    cuda: \"12.8\"\n    requires", "    cuda: \"13.0\"\n    requires")), @"matrix.yaml:26:11: torch[0].cuda: torch 2.9 is built for CUDA 13.0 but no toolkit serves CUDA major 13 (toolkits: 12.8)");
}

#[test]
fn duplicate_variant() {
    let entry = "    source: {linux_x86_64: default, win_amd64: pt}\n";
    let dup = "  - version: \"2.9\"\n    build: 2.9.0\n    cuda: \"12.6\"\n    requires_python: \">=3.10\"\n";
    insta::assert_snapshot!(err(&with(entry, &format!("{entry}{dup}{entry}"))), @"matrix.yaml:29:14: torch[1].version: duplicate variant: torch 2.9 with CUDA 12 is listed twice");
}

#[test]
fn empty_after_excludes() {
    insta::assert_snapshot!(err(&with("exclude: []", "exclude:\n  - torch: \"2.9\"")), @"matrix.yaml:30:3: exclude: the matrix is empty after excludes: no variant is left to build");
}

#[test]
fn exclude_that_matches_nothing() {
    insta::assert_snapshot!(err(&with("exclude: []", "exclude:\n  - {torch: \"2.8\"}")), @"matrix.yaml:30:5: exclude[0]: this exclude matches no variant (remove it, or fix its torch/cuda/platform)");
}

#[test]
fn unknown_platform_and_index() {
    let text =
        with("  win_amd64:\n", "  win_arm64:\n").replacen("win_amd64: pt}", "win_amd64: nope}", 1);
    insta::assert_snapshot!(err(&text), @"
    matrix.yaml:14:3: platforms.win_arm64: unknown platform `win_arm64` (supported: linux_x86_64, linux_aarch64, win_amd64)
    matrix.yaml:28:48: torch[0].source.win_amd64: unknown index `nope` (defined: default, pt)
    ");
}

#[test]
fn two_toolkits_one_major() {
    let tk = "  - cuda: \"12.6\"\n    arches: [sm_80]\n    packages:\n      linux_x86_64: [nvcc==12.6.85]\n      win_amd64: [nvcc==12.6.85]\n";
    insta::assert_snapshot!(err(&with("torch:\n", &format!("{tk}torch:\n"))), @"matrix.yaml:23:11: toolkits[1].cuda: a second toolkit for CUDA major 12 (`12.6`; `12.8` is already listed): variants are keyed by CUDA major, list one toolkit per major");
}

#[test]
fn unpinned_package_and_bad_release() {
    let text = with("linux_x86_64: [nvcc==12.8.93]", "linux_x86_64: [nvcc]").replacen(
        "github: o/r",
        "github: o",
        1,
    );
    insta::assert_snapshot!(err(&text), @"
    matrix.yaml:21:22: toolkits[0].packages.linux_x86_64[0]: `nvcc` is not pinned: write `name==version` so builds are reproducible
    matrix.yaml:31:11: release.github: `o` is not OWNER/REPO
    ");
}

#[test]
fn wrong_schema() {
    insta::assert_snapshot!(err(&with("schema: 1", "schema: 2")), @"matrix.yaml:1:9: schema: unsupported schema `2` (this farm reads schema 1)");
}

#[test]
fn malformed_inputs_never_panic() {
    // Truncations and byte flips of the fixture matrix: every one must come
    // back as Ok or a located error, never a panic.
    let text = crate::testing::FIXTURE_MATRIX;
    for cut in (0..text.len()).step_by(97) {
        let t = &text[..text.floor_char_boundary(cut)];
        let _ = Matrix::parse("matrix.yaml", t);
    }
    for i in (0..text.len()).step_by(61) {
        let mut b = text.as_bytes().to_vec();
        b[i] = b'\t';
        if let Ok(t) = String::from_utf8(b) {
            if let Err(e) = Matrix::parse("matrix.yaml", &t) {
                assert!(e.to_string().starts_with("matrix.yaml:"), "{e}");
            }
        }
    }
}

#[test]
fn normalises_names_and_checks_versions() {
    assert_eq!(normalize_name("Attn_Farm"), "attn-farm");
    assert_eq!(normalize_name("a..b--c"), "a-b-c");
    for v in [
        "1",
        "2026.1.0",
        "1.2rc1",
        "1.2.post3",
        "1.0.dev0",
        "1.0a1.post2.dev3",
    ] {
        assert!(is_canonical_public_version(v), "{v}");
    }
    for v in [
        "",
        "v1",
        "1.",
        "1.0-post1",
        "01.2",
        "1.0+x",
        "1.0RC1",
        "1..0",
    ] {
        assert!(!is_canonical_public_version(v), "{v}");
    }
}

#[test]
fn composite_frontend() {
    // Optional; absent means an ordinary toolkit.
    assert_eq!(
        Matrix::parse("matrix.yaml", BASE).unwrap().toolkits[0].frontend,
        None
    );
    // A composite is Linux-only: no Windows packages, Windows excluded.
    let linux_only = |t: &str| {
        t.replacen("      win_amd64: [nvcc==12.8.93]\n", "", 1)
            .replacen(
                "exclude: []",
                "exclude: [{cuda: 12, platform: win_amd64}]",
                1,
            )
    };
    let composite = |frontend: &str, arches: &str| {
        linux_only(&with(
            "    arches: [sm_80, sm_90]",
            &format!("    frontend: {frontend}\n    arches: {arches}"),
        ))
    };
    let m = Matrix::parse("matrix.yaml", &composite("\"13.0\"", "[sm_80, sm_90]")).unwrap();
    assert_eq!(m.toolkits[0].frontend, Some("13.0".parse().unwrap()));
    // The fixture's (matrix.yaml's) 12.8 toolkit is a composite with a 13.0
    // front end.
    let d = fixture();
    let cu12 = d.toolkit_for_major(12).unwrap();
    assert_eq!(cu12.frontend, Some("13.0".parse().unwrap()));
    assert_eq!(d.toolkit_for_major(13).unwrap().frontend, None);

    let bad = |frontend: &str, arches: &str| err(&composite(frontend, arches));
    insta::assert_snapshot!(bad("\"12.9\"", "[sm_80, sm_90]"), @"matrix.yaml:18:15: toolkits[0].frontend: front end CUDA 12.9 is not a newer major than the toolkit's CUDA 12.8: a composite toolkit pairs CUDA 12.8's back end with a newer compiler front end");
    insta::assert_snapshot!(bad("thirteen", "[sm_80, sm_90]"), @"matrix.yaml:18:15: toolkits[0].frontend: `thirteen` is not a CUDA version (expected MAJOR.MINOR, e.g. `12.8`)");
    // CUDA 13 compiles nothing below sm_75.
    insta::assert_snapshot!(bad("\"13.0\"", "[sm_70, sm_90]"), @"matrix.yaml:19:14: toolkits[0].arches[0]: arch `sm_70` is not supported by the front end CUDA 13.0");
}

#[test]
fn composite_toolkit_is_refused_on_windows() {
    let composite = with(
        "    arches: [sm_80, sm_90]",
        "    frontend: \"13.0\"\n    arches: [sm_80, sm_90]",
    );
    // Windows packages listed and Windows not excluded: both are reported.
    insta::assert_snapshot!(err(&composite), @r"
    matrix.yaml:23:18: toolkits[0].packages.win_amd64: toolkit CUDA 12.8 is a composite (front end 13.0), which is Linux-only: remove its win_amd64 packages and exclude {cuda: 12, platform: win_amd64}
    matrix.yaml:30:10: exclude: CUDA 12 variants on win_amd64 would use the composite CUDA 12.8 toolkit (front end 13.0), which is Linux-only: add `{cuda: 12, platform: win_amd64}` to exclude (see docs/toolchains.md)
    ");
    // Packages removed, still not excluded.
    let no_pkgs = composite.replacen("      win_amd64: [nvcc==12.8.93]\n", "", 1);
    insta::assert_snapshot!(err(&no_pkgs), @"matrix.yaml:29:10: exclude: CUDA 12 variants on win_amd64 would use the composite CUDA 12.8 toolkit (front end 13.0), which is Linux-only: add `{cuda: 12, platform: win_amd64}` to exclude (see docs/toolchains.md)");
}

/// BASE with torch 2.10 (CUDA 12.8) and 2.11 (CUDA 13.0), a CUDA 13 toolkit
/// and `stable: {from: <floor>}`.
fn with_stable(floor: &str) -> String {
    with(
        "exclude: []\n",
        &format!(
            r#"  - version: "2.10"
    build: 2.10.0
    cuda: "12.8"
    requires_python: ">=3.10"
    source: {{linux_x86_64: default, win_amd64: pt}}
  - version: "2.11"
    build: 2.11.0
    cuda: "13.0"
    requires_python: ">=3.10"
    source: {{linux_x86_64: default, win_amd64: pt}}
stable:
  from: "{floor}"
exclude: []
"#
        ),
    )
    .replacen(
        "torch:\n",
        "  - cuda: \"13.0\"\n    arches: [sm_90]\n    packages:\n      linux_x86_64: [nvcc==13.0.88]\n      win_amd64: [nvcc==13.0.88]\ntorch:\n",
        1,
    )
}

#[test]
fn stable_section() {
    let m = Matrix::parse("matrix.yaml", &with_stable("2.10")).unwrap();
    assert_eq!(m.stable.unwrap().from.to_string(), "2.10");
    assert!(m.has_per_minor_wheel("2.9".parse().unwrap()));
    assert!(!m.has_per_minor_wheel("2.10".parse().unwrap()));
    assert!(!m.has_per_minor_wheel("2.11".parse().unwrap()));
    // No CUDA 13 build of the floor is listed: the cu13 stable wheel compiles
    // against the floor's first entry.
    assert_eq!(m.stable_base(13).unwrap().build.to_string(), "2.10.0");
    assert_eq!(m.stable_base(12).unwrap().cuda.to_string(), "12.8");
    let c = m.candidates();
    assert_eq!(
        c.len(),
        2 * 3,
        "2.9 + stable cu12 + stable cu13, two platforms: {c:?}"
    );
    assert!(c.contains(&(TorchSel::Stable, 13, Platform::WinAmd64)));
    assert!(!c
        .iter()
        .any(|(s, ..)| *s == TorchSel::Minor("2.11".parse().unwrap())));
}

#[test]
fn stable_floor_too_old() {
    let text = with_stable("2.9");
    insta::assert_snapshot!(err(&text), @"matrix.yaml:45:9: stable.from: the stable binding needs torch 2.10 or newer (its LibTorch stable ABI first offers what the op uses; see bindings/csrc/stable/attention.cpp), got `2.9`");
}

#[test]
fn stable_floor_not_listed() {
    let text = with_stable("2.12");
    insta::assert_snapshot!(err(&text), @"matrix.yaml:45:9: stable.from: torch `2.12` is not listed under `torch` (the stable wheels are compiled against the floor's entry; listed: 2.9, 2.10, 2.11)");
}

#[test]
fn stable_exclude() {
    let text = with_stable("2.10").replacen(
        "exclude: []\n",
        "exclude:\n  - {torch: stable, cuda: 12, platform: win_amd64}\n",
        1,
    );
    let m = Matrix::parse("matrix.yaml", &text).unwrap();
    assert!(m.excluded(TorchSel::Stable, 12, Platform::WinAmd64));
    assert!(!m.excluded(
        TorchSel::Minor("2.9".parse().unwrap()),
        12,
        Platform::WinAmd64
    ));
    assert!(!m.excluded(TorchSel::Stable, 13, Platform::WinAmd64));
    // An exclude naming a minor the stable wheels serve removes nothing.
    let text =
        with_stable("2.10").replacen("exclude: []\n", "exclude:\n  - {torch: \"2.11\"}\n", 1);
    insta::assert_snapshot!(err(&text), @"matrix.yaml:47:5: exclude[0]: this exclude matches no variant (remove it, or fix its torch/cuda/platform)");
}

#[test]
fn torches_served_by_the_fixture_stable_wheels() {
    let m = fixture();
    let builds = |sel, major| -> Vec<String> {
        m.torches_served(sel, major)
            .iter()
            .map(|t| t.build.to_string())
            .collect()
    };
    // torch 2.10.0 comes built for CUDA 12.8, 2.11-2.14 for 13.0, 2.15 for 13.2.
    assert_eq!(builds(TorchSel::Stable, 12), ["2.10.0"]);
    assert_eq!(
        builds(TorchSel::Stable, 13),
        ["2.11.0", "2.12.1", "2.13.0", "2.14.1", "2.15.0"]
    );
    assert_eq!(
        builds(TorchSel::Minor("2.9".parse().unwrap()), 12),
        ["2.9.1"]
    );
}

#[test]
fn variant_ids_round_trip() {
    for s in [
        "cu12-torch2.9-linux_x86_64",
        "cu13-torch2.11-win_amd64",
        "cu13-torchstable2.10-linux_aarch64",
    ] {
        assert_eq!(s.parse::<VariantId>().unwrap().to_string(), s);
    }
    assert_eq!(
        VariantId::stable(13, "2.10".parse().unwrap(), Platform::WinAmd64),
        "cu13-torchstable2.10-win_amd64"
    );
    assert_eq!(
        VariantId::per_minor(12, "2.9".parse().unwrap(), Platform::LinuxX86_64).as_str(),
        "cu12-torch2.9-linux_x86_64"
    );
    for s in [
        "cu12-torch2.9",
        "cu012-torch2.9-linux_x86_64",
        "cu-torch2.9-linux_x86_64",
        "cu12-torch2.09-linux_x86_64",
        "cu12-torchnightly-linux_x86_64",
        "cu12-torch2.9-win_arm64",
        "cu12-*-linux_x86_64",
    ] {
        assert!(s.parse::<VariantId>().is_err(), "{s}");
    }
    // Formats like the string it replaced, `{:?}` included.
    let id: VariantId = "cu12-torch2.9-linux_x86_64".parse().unwrap();
    assert_eq!(format!("{id:?}"), "\"cu12-torch2.9-linux_x86_64\"");
    insta::assert_snapshot!("cu12-torch2.9".parse::<VariantId>().unwrap_err(), @"`cu12-torch2.9` is not a variant id (expected e.g. `cu12-torch2.9-linux_x86_64`, `cu13-torchstable2.10-win_amd64`)");
}
