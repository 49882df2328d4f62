//! The `attnfarm-farm` release jobs of `release.yml`: cargo-dist (`dist`)
//! builds the binary per target and then its installers and checksums; the
//! publish job puts them on the same GitHub Release as the wheels
//! (`dist/farm/`, see `publish::FARM_DIR`).
//!
//! dist is configured in the workspace `Cargo.toml` (`[workspace.metadata.dist]`)
//! without a CI backend of its own: one tag, one workflow, one release. The
//! jobs follow dist's own split: `dist build --artifacts=local --target T`
//! on a machine of each target (Linux in the wheels' manylinux container,
//! so the binary's glibc floor is the wheels'), then `dist build
//! --artifacts=global` with every local artifact present (the installers
//! and `sha256.sum`). dist itself comes as a pinned prebuilt binary from the
//! Python package index ([`DIST_PACKAGE`]), like the wheel validators.

use super::image;
use super::model::{Grant, Job, Step};
use super::resolve::{checkout, download, toolchain_steps, upload, UBUNTU};
use super::scripts::{self, fill};
use crate::plan::Plan;
use crate::platform::{Os, Platform};

/// The dist release the config pins (`cargo-dist-version` in Cargo.toml).
pub const DIST_VERSION: &str = "0.33.0";
/// The prebuilt dist binary on the Python package index, at that version.
pub const DIST_PACKAGE: &str = "astral-dev-toolchain-cargo-dist";

/// The farm binary's targets (`targets` in Cargo.toml) and the platform of
/// the matrix whose runner (and container) builds each.
pub const FARM_TARGETS: &[(&str, Platform)] = &[
    ("x86_64-unknown-linux-gnu", Platform::LinuxX86_64),
    ("x86_64-pc-windows-msvc", Platform::WinAmd64),
];

/// Where the jobs collect what dist wrote, relative to the checkout.
pub const FARM_OUT: &str = "dist/farm";

/// `linux_x86_64` → `farm-linux_x86_64`
pub fn local_job(p: Platform) -> String {
    format!("farm-{p}")
}

/// The artifacts the publish job uploads to the release are named
/// `farm-bin-*`; each local job's dist manifest travels as
/// `farm-manifest-*` to the global job only (dist reads them there to write
/// `sha256.sum` and embed each archive's checksum in the installers).
pub const RELEASE_ARTIFACTS: &str = "farm-bin-*";

pub const GLOBAL_JOB: &str = "farm-installers";

/// Every job name this module adds, in order.
pub fn job_names() -> Vec<String> {
    let mut v: Vec<String> = FARM_TARGETS.iter().map(|(_, p)| local_job(*p)).collect();
    v.push(GLOBAL_JOB.to_string());
    v
}

/// Installs the pinned dist into a venv of the OS's Python; `$DIST` names it.
fn install_dist(os: Os) -> Step {
    let (py, bin, exe) = match os {
        Os::Linux => ("python3", "bin", ""),
        Os::Windows => ("python", "Scripts", ".exe"),
    };
    Step::run(
        format!("Install dist {DIST_VERSION} (prebuilt, from the package index)"),
        fill(
            scripts::INSTALL_DIST,
            &[
                ("PYTHON", py),
                ("BIN", bin),
                ("EXE", exe),
                ("PACKAGE", DIST_PACKAGE),
                ("VERSION", DIST_VERSION),
            ],
        ),
    )
}

/// The per-target job: `dist build --artifacts=local`, then the archive's
/// binary must run.
fn local_build_job(plan: &Plan, target: &str, p: Platform) -> Job {
    let runner = plan
        .variants
        .iter()
        .find(|v| v.platform == p)
        .map(|v| v.runner.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| match p.os() {
            Os::Linux => UBUNTU.into(),
            Os::Windows => "windows-2025".into(),
        });
    let unpack = match p.os() {
        Os::Linux => format!("tar -xJf \"{FARM_OUT}/attnfarm-farm-$TARGET.tar.xz\" -C \"$RUNNER_TEMP/farm\""),
        Os::Windows => format!(
            "pwsh -NoProfile -Command \"Expand-Archive -Force -Path '{FARM_OUT}/attnfarm-farm-$TARGET.zip' -DestinationPath '$RUNNER_TEMP/farm'\""
        ),
    };
    let mut steps = vec![checkout()];
    steps.extend(toolchain_steps(p));
    steps.extend([
        install_dist(p.os()),
        Step::run(
            "dist build --artifacts=local (the attnfarm-farm archive, its checksum, dist's manifest)",
            fill(
                scripts::FARM_LOCAL,
                &[("FARM_OUT", FARM_OUT), ("UNPACK", &unpack)],
            ),
        ),
        upload(&format!("farm-bin-{p}"), &format!("{FARM_OUT}/"), "error", 30),
        upload(
            &format!("farm-manifest-{p}"),
            "dist/farm-manifest/",
            "error",
            30,
        ),
    ]);
    Job {
        id: local_job(p),
        name: format!("attnfarm-farm {target}"),
        needs: vec!["plan".into()],
        runs_on: runner,
        container: match p.os() {
            Os::Linux => image(plan, p).map(String::from),
            Os::Windows => None,
        },
        permissions: vec![Grant::read("contents")],
        timeout_minutes: 60,
        env: vec![("TARGET".into(), target.into())],
        steps,
        ..Job::default()
    }
}

/// The global job: installers and `sha256.sum` over every local artifact.
fn global_job() -> Job {
    let count = FARM_TARGETS.len().to_string();
    Job {
        id: GLOBAL_JOB.into(),
        name: "attnfarm-farm installers and checksums".into(),
        needs: FARM_TARGETS.iter().map(|(_, p)| local_job(*p)).collect(),
        runs_on: UBUNTU.into(),
        permissions: vec![Grant::read("contents")],
        timeout_minutes: 30,
        steps: vec![
            checkout(),
            install_dist(Os::Linux),
            download("farm-*", "target/distrib"),
            Step::run(
                "dist build --artifacts=global (shell and PowerShell installers, sha256.sum)",
                fill(
                    scripts::FARM_GLOBAL,
                    &[("FARM_OUT", FARM_OUT), ("COUNT", &count)],
                ),
            ),
            upload("farm-bin-installers", &format!("{FARM_OUT}/"), "error", 30),
        ],
        ..Job::default()
    }
}

/// The jobs to append to `release.yml`'s jobs: one per target, then the
/// global one.
pub fn jobs(plan: &Plan) -> Vec<Job> {
    let mut jobs: Vec<Job> = FARM_TARGETS
        .iter()
        .map(|(target, p)| local_build_job(plan, target, *p))
        .collect();
    jobs.push(global_job());
    jobs
}

/// The publish job's step that gathers the farm's release files.
pub fn publish_download() -> Step {
    download(RELEASE_ARTIFACTS, FARM_OUT)
}

/// Test-job steps: `dist plan` lists what the config says, as committed in
/// `farm/dist-plan.txt` (`dist plan > farm/dist-plan.txt` after a change).
pub fn plan_check_steps() -> Vec<Step> {
    vec![
        install_dist(Os::Linux),
        Step::run(
            "dist plan matches farm/dist-plan.txt (the farm binaries, installers, checksums)",
            scripts::DIST_PLAN_CHECK,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator's targets and dist version are the config's.
    #[test]
    fn targets_and_version_match_the_dist_config() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml")).unwrap();
        let section = text
            .split("[workspace.metadata.dist]")
            .nth(1)
            .expect("Cargo.toml has [workspace.metadata.dist]");
        let value = |key: &str| {
            section
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key} = ")))
                .unwrap_or_else(|| panic!("{key} in [workspace.metadata.dist]"))
                .to_string()
        };
        assert_eq!(value("cargo-dist-version"), format!("\"{DIST_VERSION}\""));
        let targets: Vec<String> = FARM_TARGETS
            .iter()
            .map(|(t, _)| format!("\"{t}\""))
            .collect();
        assert_eq!(value("targets"), format!("[{}]", targets.join(", ")));
        assert_eq!(value("installers"), "[\"shell\", \"powershell\"]");
    }

    /// One tag, one workflow: release.yml builds the farm for each target
    /// (Linux in the wheels' container), then its installers, and the
    /// publish job uploads and attests them with the wheels.
    #[test]
    fn release_builds_the_farm_and_publishes_it_with_the_wheels() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../matrix.yaml"))
            .unwrap();
        let m = crate::matrix::Matrix::parse("matrix.yaml", &text).unwrap();
        let plan = Plan::from_matrix(&m, None);
        let release = super::super::release_yml(&plan);
        let w: serde_yaml::Value = serde_yaml::from_str(&release).unwrap();
        let jobs = &w["jobs"];
        for (target, p) in FARM_TARGETS {
            let j = &jobs[local_job(*p).as_str()];
            assert_eq!(j["env"]["TARGET"], *target);
            let runs: Vec<&str> = j["steps"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(|s| s["run"].as_str())
                .collect();
            assert!(runs
                .iter()
                .any(|r| r.contains("\"$DIST\" build --artifacts=local --target \"$TARGET\"")));
            assert!(runs
                .iter()
                .any(|r| r.contains(&format!("{DIST_PACKAGE}=={DIST_VERSION}"))));
            assert!(
                runs.iter().any(|r| r.contains("--version")),
                "the built binary is run"
            );
            assert!(
                runs.iter().any(|r| r.contains("--output-format=json >")),
                "the local manifest (for sha256.sum and the installers' checksums) is kept"
            );
            let uploads: Vec<&str> = j["steps"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(|s| s["with"]["name"].as_str())
                .collect();
            assert_eq!(
                uploads,
                [format!("farm-bin-{p}"), format!("farm-manifest-{p}")]
            );
        }
        let linux = &jobs[local_job(Platform::LinuxX86_64).as_str()];
        assert_eq!(
            linux["container"]["image"].as_str(),
            image(&plan, Platform::LinuxX86_64),
            "the Linux binary is built in the wheels' manylinux container (its glibc floor)"
        );
        let global = &jobs[GLOBAL_JOB];
        // Every file the release gets comes as a `farm-bin-*` artifact.
        let names: Vec<&str> = global["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|s| s["with"]["name"].as_str())
            .collect();
        assert_eq!(names, ["farm-bin-installers"]);
        assert!(RELEASE_ARTIFACTS.starts_with("farm-bin-"));
        assert_eq!(
            global["needs"].as_sequence().unwrap().len(),
            FARM_TARGETS.len()
        );
        let publish = &jobs["publish"];
        assert!(publish["needs"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|n| n == GLOBAL_JOB));
        let steps = publish["steps"].as_sequence().unwrap();
        assert!(steps
            .iter()
            .any(|s| s["with"]["pattern"] == RELEASE_ARTIFACTS && s["with"]["path"] == FARM_OUT));
        assert!(steps.iter().any(|s| s["with"]["subject-path"]
            .as_str()
            .is_some_and(|p| p.contains(&format!("{FARM_OUT}/*")))));
    }

    /// .ci/run installs the dist the config pins.
    #[test]
    fn ci_script_uses_the_pinned_dist() {
        let run =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/run")).unwrap();
        assert!(run.contains(&format!("{DIST_PACKAGE}=={DIST_VERSION}")));
        assert!(run.contains("diff -u farm/dist-plan.txt"));
    }

    /// The binary's version is the wheels' (one tag announces both).
    #[test]
    fn farm_version_is_the_matrix_package_version() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let cargo = std::fs::read_to_string(format!("{root}/farm/Cargo.toml")).unwrap();
        let m = crate::matrix::Matrix::load(std::path::Path::new(&format!("{root}/matrix.yaml")))
            .unwrap();
        let line = format!("version = \"{}\"", m.package.version);
        assert!(
            cargo.lines().any(|l| l == line),
            "farm/Cargo.toml must say `{line}` (matrix.yaml package.version): dist announces the release tag from it"
        );
        let plan = std::fs::read_to_string(format!("{root}/farm/dist-plan.txt")).unwrap();
        let tag = m.release.tag.replace("{version}", &m.package.version);
        assert!(
            plan.starts_with(&format!("announcing {tag}\n")),
            "farm/dist-plan.txt is stale: run `dist plan > farm/dist-plan.txt`\n{plan}"
        );
    }
}
