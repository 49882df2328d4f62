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
//! The flow: `resolve` turns the plan into a [`model::Workflow`] (jobs,
//! steps, grants as data; [`dist`] adds the farm binary's jobs), and
//! [`yaml`] writes it (quoting, block scalars, comments). The bodies of
//! `run:` steps are files under `scripts/` (see `scripts`), not strings
//! built in Rust.
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

use thiserror::Error;

// tests.rs names it through `super::*`.
#[cfg(test)]
use crate::matrix::IndexSource;
use crate::plan::{variant_id, Plan, Variant};
use crate::platform::Platform;
use crate::versions::TorchMinor;

pub mod dist;
pub mod model;
mod resolve;
mod scripts;
pub mod yaml;

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

/// How every workflow runs xtask from source: never without the lock file.
pub const XTASK: &str = "cargo run --locked --quiet -p xtask --";

/// A third-party action pinned by full commit SHA; `version` is the tag the
/// SHA was released as (a comment for humans and for update tools).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub action: &'static str,
    pub sha: &'static str,
    pub version: &'static str,
}

impl Pin {
    const fn new(action: &'static str, sha: &'static str, version: &'static str) -> Self {
        Pin {
            action,
            sha,
            version,
        }
    }

    /// What `uses:` says (the version follows as a comment).
    /// Ex) `actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8`
    pub fn reference(&self) -> String {
        format!("{}@{}", self.action, self.sha)
    }
}

pub const CHECKOUT: Pin = Pin::new(
    "actions/checkout",
    "08c6903cd8c0fde910a37f88322edcfb5dd907a8",
    "v5.0.0",
);
pub const SETUP_PYTHON: Pin = Pin::new(
    "actions/setup-python",
    "e797f83bcb11b83ae66e0230d6156d7c80228e7c",
    "v6.0.0",
);
pub const UPLOAD_ARTIFACT: Pin = Pin::new(
    "actions/upload-artifact",
    "330a01c490aca151604b8cf639adc76d48f6c5d4",
    "v5.0.0",
);
pub const DOWNLOAD_ARTIFACT: Pin = Pin::new(
    "actions/download-artifact",
    "634f93cb2916e3fdff6788551b99b062d0335ce0",
    "v5.0.0",
);
pub const ATTEST_BUILD_PROVENANCE: Pin = Pin::new(
    "actions/attest-build-provenance",
    "977bb373ede98d70efdf65b84cb5f73e068dcc2a",
    "v3.0.0",
);
pub const UPLOAD_PAGES_ARTIFACT: Pin = Pin::new(
    "actions/upload-pages-artifact",
    "7b1f4a764d45c48632c6b24a0339c27f5614fb0b",
    "v4.0.0",
);
pub const DEPLOY_PAGES: Pin = Pin::new(
    "actions/deploy-pages",
    "d6db90164ac5ed86f2b6aed7e0febac5b3c0c03e",
    "v4.0.5",
);

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
    let torch = ci_torch();
    CI_PLATFORMS
        .iter()
        .map(|&p| {
            let serves = |v: &&Variant| {
                v.platform == p
                    && v.cuda_major() == CI_CUDA_MAJOR
                    && v.load_test.iter().any(|t| t.build.minor_line() == torch)
            };
            plan.find(&variant_id(CI_CUDA_MAJOR, torch, p))
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

/// [`CI_TORCH`] as a torch minor.
fn ci_torch() -> TorchMinor {
    CI_TORCH.parse().expect("CI_TORCH is a torch minor")
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

/// `ci.yml`: tests and checks on every push and pull request, plus one real
/// variant per platform built, validated and (Windows) imported.
pub fn ci_yml(plan: &Plan, smoke: &[&Variant]) -> String {
    resolve::ci_workflow(plan, smoke).render()
}

/// `release.yml`: on a tag that matches the matrix's pattern (or by hand,
/// from main or an existing tag): plan and test → build every variant →
/// index, release notes, attest, publish (protected environment) → Pages.
pub fn release_yml(plan: &Plan) -> String {
    resolve::release_workflow(plan).render()
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
