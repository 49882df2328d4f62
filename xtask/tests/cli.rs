//! The CLI's contract: stdout is data, bad input exits 2 with a located
//! message and never panics.

use std::path::Path;
use std::process::Command;

/// The test fixture, a frozen copy of matrix.yaml: the ids and counts these
/// tests expect are its (relative to the repository root the CLI runs in).
const FIXTURE: &str = "xtask/tests/fixtures/matrix.yaml";

fn xtask(args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(&root)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plan_prints_the_default_matrix() {
    // The repository's own matrix.yaml plans (no counts: it grows).
    let (code, out, err) = xtask(&["plan"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("stable ABI") && out.contains(" variant(s); "),
        "{out}"
    );
    let (code, out, _) = xtask(&["plan", "--matrix", FIXTURE]);
    assert_eq!(code, 0);
    assert!(out.contains("cu13-torchstable2.10-linux_x86_64"), "{out}");
    assert!(out.contains(">=2.10 stable ABI (on 2.10.0 cu128)"), "{out}");
    // CUDA 12 is not built for Windows (matrix.yaml excludes it).
    assert!(out.contains("6 variant(s)"), "{out}");
}

#[test]
fn plan_json_and_github_matrix_are_json() {
    let (code, out, _) = xtask(&["plan", "--matrix", FIXTURE, "--json", "--only", "cu12-*"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // 2.7, 2.8, 2.9 and the stable wheel, on Linux only (CUDA 12 is
    // excluded on Windows).
    assert_eq!(v["variants"].as_array().unwrap().len(), 4);
    let kinds: Vec<&str> = v["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "stable").count(),
        1,
        "{kinds:?}"
    );
    let (code, out, _) = xtask(&[
        "plan",
        "--matrix",
        FIXTURE,
        "--github-matrix",
        "--platform",
        "win_amd64",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let jobs = v["include"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs.iter().all(|j| j["runner"] == "windows-2022"));
}

#[test]
fn shards_cover_the_plan() {
    let mut ids = Vec::new();
    for i in 1..=3 {
        let (code, out, _) = xtask(&[
            "plan",
            "--matrix",
            FIXTURE,
            "--json",
            "--shard",
            &format!("{i}/3"),
        ]);
        assert_eq!(code, 0);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        ids.extend(
            v["variants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(ids.len(), 6);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
}

#[test]
fn bad_matrix_exits_2_with_location() {
    let dir = std::env::temp_dir().join(format!("attnfarm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = include_str!("fixtures/matrix.yaml").replace("[sm_80, sm_86, sm_89, sm_90, sm_100, sm_120]\n    ptx: sm_120\n    packages:\n      linux_x86_64: &cu130", "[sm_70, sm_80]\n    ptx: sm_80\n    packages:\n      linux_x86_64: &cu130");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, text).unwrap();
    let (code, out, err) = xtask(&["plan", "--matrix", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("bad.yaml:"), "{err}");
    assert!(
        err.contains("toolkits[1].arches[0]: unknown arch `sm_70` for CUDA 13.0"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    for garbage in [
        "",
        "schema: [",
        "- just\n- a list\n",
        "schema: 1\n",
        "\u{0}\u{1}",
    ] {
        std::fs::write(&bad, garbage).unwrap();
        let (code, _, err) = xtask(&["plan", "--matrix", bad.to_str().unwrap()]);
        assert_eq!(code, 2, "{garbage:?}: {err}");
        assert!(!err.contains("panicked"), "{garbage:?}: {err}");
    }
    let (code, _, err) = xtask(&["plan", "--only", "cu99-*"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no variant matches the filters (--only cu99-*)"),
        "{err}"
    );
}

/// A deliberate partial release: refused unless asked for, and then the
/// notes name every missing variant.
#[test]
fn release_notes_refuse_a_partial_release_unless_allowed() {
    let dist = std::env::temp_dir().join(format!("attnfarm-cli-notes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(dist.join("wheels")).unwrap();
    std::fs::create_dir_all(dist.join("summaries")).unwrap();
    // Only one wheel "built" (release-notes reads names, not contents).
    std::fs::write(
        dist.join("wheels/attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl"),
        b"",
    )
    .unwrap();
    std::fs::write(
        dist.join("summaries/cu13-torchstable2.10-win_amd64.txt"),
        "cu13-torchstable2.10-win_amd64  FAILED  -\nerror: 1 variant(s) failed: cu13-torchstable2.10-win_amd64\n",
    )
    .unwrap();
    let d = dist.display().to_string();
    let s = dist.join("summaries").display().to_string();
    let (code, _, err) = xtask(&[
        "release-notes",
        "--matrix",
        FIXTURE,
        "--dist",
        &d,
        "--summaries",
        &s,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("5 variant(s) of the plan have no wheel"),
        "{err}"
    );
    assert!(err.contains("--allow-partial"), "{err}");
    let (code, out, err) = xtask(&[
        "release-notes",
        "--matrix",
        FIXTURE,
        "--dist",
        &d,
        "--summaries",
        &s,
        "--allow-partial",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("### 1 of 6 variants"), "{out}");
    assert!(
        out.contains("### Missing from this release (5 of 6)"),
        "{out}"
    );
    assert!(
        out.contains("| `cu13-torchstable2.10-win_amd64` | cu13-torchstable2.10-win_amd64 FAILED -; error: 1 variant(s) failed"),
        "{out}"
    );
    assert!(out.contains("- CUDA 12 on win_amd64"), "{out}");
    let _ = std::fs::remove_dir_all(&dist);
}
