//! One test per workflow rule of `ci/mod.rs`'s header: each fails if the
//! defect it names comes back.

use serde_yaml::Value;

use super::*;
use crate::matrix::Matrix;

fn plan() -> Plan {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../matrix.yaml")).unwrap();
    let m = Matrix::parse("matrix.yaml", &text).unwrap();
    Plan::from_matrix(&m, None)
}

fn generated() -> Vec<Generated> {
    workflows(&plan()).unwrap()
}

fn yaml(path: &str) -> Value {
    let g = generated().into_iter().find(|g| g.path == path).unwrap();
    serde_yaml::from_str(&g.text).expect(path)
}

fn jobs(w: &Value) -> Vec<(String, &Value)> {
    w["jobs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v))
        .collect()
}

fn steps(job: &Value) -> &[Value] {
    job["steps"]
        .as_sequence()
        .map(|s| s.as_slice())
        .unwrap_or(&[])
}

fn uses(step: &Value) -> &str {
    step["uses"].as_str().unwrap_or("")
}

fn run_of(step: &Value) -> &str {
    step["run"].as_str().unwrap_or("")
}

fn all_runs(job: &Value) -> String {
    steps(job).iter().map(run_of).collect::<Vec<_>>().join("\n")
}

fn both() -> Vec<(&'static str, Value)> {
    vec![(CI_PATH, yaml(CI_PATH)), (RELEASE_PATH, yaml(RELEASE_PATH))]
}

/// `cargo xtask ci --check`, as a test: the committed workflows are what
/// the generator makes of the committed matrix.
#[test]
fn committed_workflows_are_current() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for g in generated() {
        let path = format!("{root}/{}", g.path);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == g.text,
            "{} is out of date with matrix.yaml and the generator: run `cargo xtask ci` and commit the result",
            g.path
        );
    }
}

#[test]
fn pins_are_full_shas() {
    for p in PINS {
        assert_eq!(p.sha.len(), 40, "{}", p.action);
        assert!(p
            .sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(p.version.starts_with('v'), "{}", p.action);
    }
}

#[test]
fn every_action_pinned_and_no_unmaintained_msvc_action() {
    for (path, w) in both() {
        for (name, job) in jobs(&w) {
            for st in steps(job) {
                let u = uses(st);
                if u.is_empty() {
                    continue;
                }
                // serde_yaml drops the `# vX` comment; the SHA must be ours.
                assert!(
                    PINS.iter().any(|p| u == format!("{}@{}", p.action, p.sha)),
                    "{path} job {name}: unpinned {u}"
                );
                assert!(!u.contains("msvc-dev-cmd"), "{path} job {name}: {u}");
            }
        }
    }
}

#[test]
fn top_level_permissions_empty_and_every_job_grants_and_times_out() {
    for (path, w) in both() {
        assert_eq!(
            w["permissions"],
            Value::Mapping(Default::default()),
            "{path}"
        );
        for (name, job) in jobs(&w) {
            assert!(
                job["permissions"].is_mapping(),
                "{path} job {name}: no permissions"
            );
            let t = job["timeout-minutes"].as_u64();
            assert!(
                t.is_some_and(|t| (1..=360).contains(&t)),
                "{path} job {name}: no timeout"
            );
        }
    }
}

#[test]
fn scripts_are_bash_pipefail_without_expressions_or_masked_failures() {
    for (path, w) in both() {
        // `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`; the
        // implicit default is `bash -e` without pipefail (and pwsh on Windows).
        assert_eq!(w["defaults"]["run"]["shell"], "bash", "{path}");
        for (name, job) in jobs(&w) {
            for st in steps(job) {
                let r = run_of(st);
                assert!(
                    !r.contains("${{"),
                    "{path} job {name}: expression in run: {r}"
                );
                for line in r.lines() {
                    let t = line.trim_start();
                    assert!(
                        !(t.starts_with("echo") && t.contains("$(")),
                        "{path} job {name}: `{t}` hides the exit status of its command substitution"
                    );
                    if t.contains("cargo ") {
                        assert!(
                            t.contains("--locked"),
                            "{path} job {name}: `{t}` without --locked"
                        );
                        assert!(
                            !t.contains("cargo xtask"),
                            "{path} job {name}: `{t}` (the alias cannot take --locked)"
                        );
                    }
                }
                if let Some(sh) = st["shell"].as_str() {
                    assert_eq!(sh, "pwsh", "{path} job {name}");
                }
            }
        }
    }
}

#[test]
fn checkout_never_persists_credentials() {
    for (path, w) in both() {
        for (name, job) in jobs(&w) {
            for st in steps(job)
                .iter()
                .filter(|s| uses(s).starts_with(CHECKOUT.action))
            {
                assert_eq!(
                    st["with"]["persist-credentials"], false,
                    "{path} job {name}"
                );
            }
        }
    }
}

#[test]
fn artifacts_overwrite_with_retention_and_failed_logs_uploaded() {
    for (path, w) in both() {
        for (name, job) in jobs(&w) {
            let ups: Vec<&Value> = steps(job)
                .iter()
                .filter(|s| uses(s).starts_with(UPLOAD_ARTIFACT.action))
                .collect();
            for u in &ups {
                assert_eq!(u["with"]["overwrite"], true, "{path} job {name}");
                assert!(
                    u["with"]["retention-days"].as_u64().is_some(),
                    "{path} job {name}"
                );
            }
            for u in steps(job)
                .iter()
                .filter(|s| uses(s).starts_with(UPLOAD_PAGES_ARTIFACT.action))
            {
                assert!(
                    u["with"]["retention-days"].as_u64().is_some(),
                    "{path} job {name}"
                );
            }
            if name.starts_with("build-") {
                assert!(
                    ups.iter()
                        .any(|u| u["if"] == "failure()" && u["with"]["path"] == "dist/logs/"),
                    "{path} job {name}: logs of a failed variant are not uploaded"
                );
            }
        }
    }
}

#[test]
fn containers_pinned_by_digest_and_checkout_trusted() {
    for (path, w) in both() {
        for (name, job) in jobs(&w) {
            let Some(image) = job["container"]["image"].as_str() else {
                continue;
            };
            assert!(image.contains("@sha256:"), "{path} job {name}: {image}");
            // Right after checkout, before anything asks git for the revision.
            let st = steps(job);
            let i = st
                .iter()
                .position(|s| uses(s).starts_with(CHECKOUT.action))
                .unwrap();
            assert!(
                run_of(&st[i + 1])
                    .contains("git config --global --add safe.directory \"$GITHUB_WORKSPACE\""),
                "{path} job {name}"
            );
        }
    }
    let mut p = plan();
    for v in &mut p.variants {
        if let Some(c) = &mut v.container {
            *c = c.split('@').next().unwrap().to_string();
        }
    }
    assert!(matches!(workflows(&p), Err(CiError::UnpinnedImage { .. })));
}

#[test]
fn rust_toolchain_is_pinned() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rust-toolchain.toml"
    ))
    .expect("rust-toolchain.toml pins the Rust every workflow uses");
    let v: toml_channel::Channel = toml_channel::parse(&text);
    assert!(
        v.0.split('.').count() == 3 && v.0.split('.').all(|n| n.parse::<u32>().is_ok()),
        "rust-toolchain.toml channel `{}` is not an exact version",
        v.0
    );
    // Linux containers install rustup without a toolchain of their own.
    let release = generated()
        .into_iter()
        .find(|g| g.path == RELEASE_PATH)
        .unwrap();
    assert!(release.text.contains("--default-toolchain none"));
}

/// The `channel = "…"` line of rust-toolchain.toml (no TOML parser needed).
mod toml_channel {
    pub struct Channel(pub String);
    pub fn parse(text: &str) -> Channel {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("channel"))
            .expect("a channel line");
        Channel(
            line.split_once('=')
                .unwrap()
                .1
                .trim()
                .trim_matches('"')
                .to_string(),
        )
    }
}

#[test]
fn ci_never_cancels_main_and_enables_real_build_tests() {
    let w = yaml(CI_PATH);
    let cancel = w["concurrency"]["cancel-in-progress"].as_str().unwrap();
    assert_eq!(cancel, "${{ github.ref != 'refs/heads/main' }}");
    assert_eq!(w["jobs"]["test"]["env"]["ATTNFARM_E2E"], "1");
    assert!(all_runs(&w["jobs"]["test"]).contains("cargo test --workspace --locked"));
    assert!(all_runs(&w["jobs"]["test"]).contains("AUDITWHEEL="));
    assert!(all_runs(&w["jobs"]["test"]).contains("ci --check --shellcheck"));
    assert!(all_runs(&w["jobs"]["test"]).contains("zizmor --offline"));
    assert!(all_runs(&w["jobs"]["test"]).contains("install/landing_check.py"));
}

#[test]
fn ci_builds_windows_validates_and_imports_it() {
    let w = yaml(CI_PATH);
    let plan_runs = all_runs(&w["jobs"]["plan"]);
    let p = plan();
    let ids: Vec<&str> = smoke_variants(&p)
        .unwrap()
        .iter()
        .map(|v| v.id.as_str())
        .collect();
    // The default matrix serves torch 2.11 with the stable cu13 wheels.
    assert_eq!(
        ids,
        [
            "cu13-torchstable2.10-linux_x86_64",
            "cu13-torchstable2.10-win_amd64"
        ]
    );
    for id in &ids {
        assert!(plan_runs.contains(&format!("--only {id}")), "{id}");
    }
    let win = &w["jobs"]["build-win_amd64"];
    assert!(win.is_mapping(), "ci.yml has no Windows build job");
    let runs = all_runs(win);
    assert!(runs.contains(&format!("--arch {CI_ARCH}")));
    assert!(runs.contains("abi3audit\" --strict"));
    assert!(runs.contains("check-wheel-contents"));
    assert!(runs.contains("twine\" check --strict"));
    assert!(runs.contains("-m attnfarm"));
    assert!(runs.contains("Enter-VsDevShell"));
    assert!(runs.contains("VCToolsInstallDir"));
    let import = steps(win)
        .iter()
        .find(|s| run_of(s).contains("-m attnfarm"))
        .unwrap();
    let p = plan();
    let v = smoke_variants(&p).unwrap()[1].clone();
    let t = v
        .load_test
        .iter()
        .find(|t| t.build.minor_line().to_string() == CI_TORCH)
        .unwrap();
    assert_eq!(
        import["env"]["TORCH_REQ"],
        format!("torch=={}", t.build).as_str()
    );
    assert_eq!(t.cuda.major, CI_CUDA_MAJOR);
    let IndexSource::Named { url, .. } = &t.source else {
        panic!("Windows torch comes from a named index")
    };
    assert_eq!(import["env"]["TORCH_INDEX"], url.as_str());
    let linux = &w["jobs"]["build-linux_x86_64"];
    assert!(all_runs(linux).contains("auditwheel\" show"));
}

#[test]
fn release_runs_only_from_main_or_a_tag_of_our_repository() {
    let w = yaml(RELEASE_PATH);
    let plan_job = &w["jobs"]["plan"];
    assert_eq!(plan_job["if"], "github.repository == 'attnfarm/attnfarm'");
    let runs = all_runs(plan_job);
    assert!(runs.contains("refs/heads/main | refs/tags/*) ;;"));
    assert!(runs.contains("exit 1"));
    // Everything else hangs off the plan job or the test job, which needs nothing.
    for (name, job) in jobs(&w) {
        if name == "plan" || name == "test" {
            continue;
        }
        assert!(
            !job["needs"].is_null(),
            "job {name} does not depend on the guarded plan"
        );
    }
    assert_eq!(w["on"]["push"]["tags"][0], "v*");
}

#[test]
fn publish_is_gated_protected_and_runs_a_prebuilt_xtask() {
    let w = yaml(RELEASE_PATH);
    let p = &w["jobs"]["publish"];
    let needs: Vec<&str> = p["needs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(needs.contains(&"test"), "publish is not gated on the tests");
    assert!(needs.contains(&"build-linux_x86_64") && needs.contains(&"build-win_amd64"));
    let cond = p["if"].as_str().unwrap();
    assert!(cond.contains("needs.test.result == 'success'"));
    assert!(cond.contains("inputs.allow-partial || (needs.build-linux_x86_64.result == 'success' && needs.build-win_amd64.result == 'success' && needs.farm-installers.result == 'success')"));
    assert_eq!(p["environment"]["name"], "release");
    let runs = all_runs(p);
    assert!(
        !runs.contains("cargo "),
        "publish compiles code where the token is"
    );
    assert!(runs.contains("\"$XTASK\" publish"));
    assert!(
        steps(p)
            .iter()
            .any(|s| uses(s).starts_with(DOWNLOAD_ARTIFACT.action)
                && s["with"]["name"] == "xtask-bin")
    );
    let test = &w["jobs"]["test"];
    assert!(
        test["permissions"]["contents"] == "read"
            && test["permissions"].as_mapping().unwrap().len() == 1
    );
    assert!(steps(test)
        .iter()
        .any(|s| uses(s).starts_with(UPLOAD_ARTIFACT.action) && s["with"]["name"] == "xtask-bin"));
    // The token reaches exactly one step.
    let release = generated()
        .into_iter()
        .find(|g| g.path == RELEASE_PATH)
        .unwrap();
    assert_eq!(release.text.matches("secrets.GITHUB_TOKEN").count(), 1);
    let ci = generated().into_iter().find(|g| g.path == CI_PATH).unwrap();
    assert_eq!(ci.text.matches("secrets.").count(), 0);
}

#[test]
fn dry_run_publishes_nothing_and_skips_pages() {
    let w = yaml(RELEASE_PATH);
    let inputs = &w["on"]["workflow_dispatch"]["inputs"];
    assert_eq!(inputs["dry-run"]["type"], "boolean");
    assert_eq!(inputs["dry-run"]["default"], true);
    assert_eq!(inputs["allow-partial"]["default"], false);
    let p = &w["jobs"]["publish"];
    assert_eq!(
        p["env"]["DRY_RUN"],
        "${{ inputs.dry-run && 'true' || 'false' }}"
    );
    let runs = all_runs(p);
    assert!(runs.contains("dry=(--dry-run)"));
    assert!(runs.contains("partial=(--allow-partial)"));
    assert!(runs.contains("--notes dist/release-notes.md"));
    for st in steps(p) {
        if uses(st).starts_with(ATTEST_BUILD_PROVENANCE.action)
            || uses(st).starts_with(UPLOAD_PAGES_ARTIFACT.action)
        {
            assert_eq!(st["if"], "env.DRY_RUN != 'true'", "{}", uses(st));
        }
    }
    let pages = &w["jobs"]["pages"];
    assert!(pages["if"].as_str().unwrap().contains("!inputs.dry-run"));
    assert!(pages["if"]
        .as_str()
        .unwrap()
        .contains("needs.publish.result == 'success'"));
    assert_eq!(pages["environment"]["name"], "github-pages");
}

#[test]
fn one_build_job_per_platform_and_smoke_variants_required() {
    let w = yaml(RELEASE_PATH);
    assert!(w["jobs"]["build-linux_x86_64"].is_mapping());
    assert!(w["jobs"]["build-win_amd64"].is_mapping());
    for id in [
        "cu13-torchstable2.10-linux_x86_64",
        "cu13-torchstable2.10-win_amd64",
    ] {
        let mut p2 = plan();
        p2.variants.retain(|v| v.id != id);
        assert!(
            matches!(workflows(&p2), Err(CiError::NoCiVariant { .. })),
            "{id}"
        );
    }
    // A per-minor cu13-torch2.11 variant, where the plan has one, is preferred.
    let mut p3 = plan();
    let mut v = p3
        .variants
        .iter()
        .find(|v| v.id == "cu13-torchstable2.10-win_amd64")
        .unwrap()
        .clone();
    v.id = "cu13-torch2.11-win_amd64".parse().unwrap();
    p3.variants.push(v);
    let smoke = smoke_variants(&p3).unwrap();
    assert_eq!(smoke[1].id, "cu13-torch2.11-win_amd64");
}

#[test]
fn every_build_job_load_tests_its_wheel() {
    for (path, w) in both() {
        for (name, job) in jobs(&w)
            .into_iter()
            .filter(|(n, _)| n.starts_with("build-"))
        {
            let runs = all_runs(job);
            assert!(
                runs.contains("build-matrix --only \"$VARIANT\"") && runs.contains("--verify"),
                "{path} job {name} does not load-test its wheel"
            );
            for v in [
                "abi3audit\" --strict",
                "check-wheel-contents",
                "twine\" check --strict",
            ] {
                assert!(runs.contains(v), "{path} job {name}: no {v}");
            }
        }
    }
}

#[test]
fn bash_scripts_are_extracted_for_shellcheck() {
    let ci = generated().into_iter().find(|g| g.path == CI_PATH).unwrap();
    let scripts = bash_scripts(&ci.text).unwrap();
    assert!(scripts
        .iter()
        .all(|(_, _, s)| s.starts_with("#!/usr/bin/env bash\nset -eo pipefail\n")));
    // The pwsh developer-shell step is not bash.
    assert!(!scripts
        .iter()
        .any(|(_, _, s)| s.contains("Enter-VsDevShell")));
    assert!(scripts
        .iter()
        .any(|(j, _, s)| j == "build-win_amd64" && s.contains("-m attnfarm")));
}
