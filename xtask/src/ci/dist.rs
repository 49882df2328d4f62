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

use std::fmt::Write;

use super::{checkout, download, image, run, toolchain_steps, upload};
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

/// Installs the pinned dist into a venv of `python`; `$DIST` names it.
fn install_dist(os: Os) -> String {
    let (py, bin, exe) = match os {
        Os::Linux => ("python3", "bin", ""),
        Os::Windows => ("python", "Scripts", ".exe"),
    };
    run(
        &format!("Install dist {DIST_VERSION} (prebuilt, from the package index)"),
        &[],
        &format!(
            "{py} -m venv \"$RUNNER_TEMP/dist-tool\"\n\"$RUNNER_TEMP/dist-tool/{bin}/python\" -m pip install --quiet \"{DIST_PACKAGE}=={DIST_VERSION}\"\necho \"DIST=$RUNNER_TEMP/dist-tool/{bin}/dist{exe}\" >> \"$GITHUB_ENV\"\n\"$RUNNER_TEMP/dist-tool/{bin}/dist{exe}\" --version"
        ),
    )
}

/// The per-target job: `dist build --artifacts=local`, then the archive's
/// binary must run.
fn local_build_job(plan: &Plan, target: &str, p: Platform) -> String {
    let runner = plan
        .variants
        .iter()
        .find(|v| v.platform == p)
        .map(|v| v.runner.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| match p.os() {
            Os::Linux => "ubuntu-24.04".into(),
            Os::Windows => "windows-2025".into(),
        });
    let mut s = format!(
        "  {job}:\n    name: attnfarm-farm {target}\n    needs: plan\n    runs-on: {runner}\n",
        job = local_job(p)
    );
    if let (Os::Linux, Some(img)) = (p.os(), image(plan, p)) {
        let _ = write!(s, "    container:\n      image: {img}\n");
    }
    let _ = write!(
        s,
        "    permissions:\n      contents: read\n    timeout-minutes: 60\n    env:\n      TARGET: {target}\n    steps:\n"
    );
    s.push_str(&checkout());
    s.push_str(&toolchain_steps(p));
    s.push_str(&install_dist(p.os()));
    let unpack = match p.os() {
        Os::Linux => format!("tar -xJf \"{FARM_OUT}/attnfarm-farm-$TARGET.tar.xz\" -C \"$RUNNER_TEMP/farm\""),
        Os::Windows => format!(
            "pwsh -NoProfile -Command \"Expand-Archive -Force -Path '{FARM_OUT}/attnfarm-farm-$TARGET.zip' -DestinationPath '$RUNNER_TEMP/farm'\""
        ),
    };
    let smoke = format!(
        "mkdir -p \"$RUNNER_TEMP/farm\"\n{unpack}\nbin=$(find \"$RUNNER_TEMP/farm\" -type f -name 'attnfarm-farm*' ! -name '*.*z*' | head -n 1)\n\"$bin\" --version"
    );
    s.push_str(&run(
        "dist build --artifacts=local (the attnfarm-farm archive, its checksum, dist's manifest)",
        &[],
        &format!(
            "mkdir -p {FARM_OUT} dist/farm-manifest\n\"$DIST\" build --artifacts=local --target \"$TARGET\" --output-format=json >\"dist/farm-manifest/$TARGET-dist-manifest.json\"\nfind target/distrib -maxdepth 1 -type f -name 'attnfarm-farm-*' -exec cp {{}} {FARM_OUT}/ \\;\nls -l {FARM_OUT}\n(cd {FARM_OUT} && sha256sum -c \"attnfarm-farm-$TARGET\".*.sha256)\n{smoke}"
        ),
    ));
    s.push_str(&upload(
        None,
        &format!("farm-bin-{p}"),
        &format!("{FARM_OUT}/"),
        "error",
        30,
    ));
    s.push_str(&upload(
        None,
        &format!("farm-manifest-{p}"),
        "dist/farm-manifest/",
        "error",
        30,
    ));
    s
}

/// The global job: installers and `sha256.sum` over every local artifact.
fn global_job() -> String {
    let needs: Vec<String> = FARM_TARGETS.iter().map(|(_, p)| local_job(*p)).collect();
    let mut s = format!(
        "  {GLOBAL_JOB}:\n    name: attnfarm-farm installers and checksums\n    needs: [{}]\n    runs-on: ubuntu-24.04\n    permissions:\n      contents: read\n    timeout-minutes: 30\n    steps:\n",
        needs.join(", ")
    );
    s.push_str(&checkout());
    s.push_str(&install_dist(Os::Linux));
    s.push_str(&download("farm-*", "target/distrib"));
    s.push_str(&run(
        "dist build --artifacts=global (shell and PowerShell installers, sha256.sum)",
        &[],
        &format!(
            "\"$DIST\" build --artifacts=global\nmkdir -p {FARM_OUT}\ncp target/distrib/attnfarm-farm-installer.sh target/distrib/attnfarm-farm-installer.ps1 target/distrib/sha256.sum {FARM_OUT}/\ncat {FARM_OUT}/sha256.sum\n# Every archive is listed, and the list checks out against the archives.\n[ \"$(grep -c 'attnfarm-farm-' {FARM_OUT}/sha256.sum)\" -eq {n} ]\n(cd target/distrib && sha256sum -c ../../{FARM_OUT}/sha256.sum)\nsh -n {FARM_OUT}/attnfarm-farm-installer.sh",
            n = FARM_TARGETS.len()
        ),
    ));
    s.push_str(&upload(
        None,
        "farm-bin-installers",
        &format!("{FARM_OUT}/"),
        "error",
        30,
    ));
    s
}

/// The jobs, each preceded by a blank line, to append to `release.yml`'s jobs.
pub fn jobs(plan: &Plan) -> String {
    let mut s = String::new();
    for (target, p) in FARM_TARGETS {
        s.push('\n');
        s.push_str(&local_build_job(plan, target, *p));
    }
    s.push('\n');
    s.push_str(&global_job());
    s
}

/// The publish job's step that gathers the farm's release files.
pub fn publish_download() -> String {
    download(RELEASE_ARTIFACTS, FARM_OUT)
}

/// A test-job step: `dist plan` lists what the config says, as committed in
/// `farm/dist-plan.txt` (`dist plan > farm/dist-plan.txt` after a change).
pub fn plan_check_step() -> String {
    let mut s = install_dist(Os::Linux);
    s.push_str(&run(
        "dist plan matches farm/dist-plan.txt (the farm binaries, installers, checksums)",
        &[],
        "\"$DIST\" plan >\"$RUNNER_TEMP/dist-plan.txt\"\ndiff -u farm/dist-plan.txt \"$RUNNER_TEMP/dist-plan.txt\"",
    ));
    s
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
