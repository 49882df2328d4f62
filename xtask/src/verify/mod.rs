//! The load test: every built wheel, installed by pip from the farm's own
//! index into a fresh environment holding the torch release it is for (with
//! torch's dependencies, installed by uv from its cache), then imported, its
//! ops checked, traced through fake tensors and `torch.compile`, called with a
//! CPU tensor (which must be refused clearly), and `python -m attnfarm` run.
//! No GPU is needed; a wheel that does not load under its torch fails.
//!
//! Which torch releases a wheel is tried under is the plan's decision
//! ([`crate::plan::Variant::load_test`]); this module only executes it. The
//! index is written by [`crate::index::write_index`] into a private copy of
//! `<dist>` (local links) and served on loopback, so `dist/index/` (which may
//! hold release links) is left as it is.

pub mod serve;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::index::{write_index, BaseUrl, IndexError};
use crate::plan::{HostSupport, LoadTestTorch, Plan, Variant};
use crate::progress::Progress;
use crate::toolchain::{index_display, Cache};

/// The script run inside each environment (prints one JSON line per check).
pub const CHECK_PY: &str = include_str!("check.py");

/// The checks, in the order they run; a table column each.
pub const CHECKS: [&str; 6] = [
    "installed",
    "imported",
    "ops",
    "fake",
    "cpu_error",
    "report",
];

#[derive(Debug, Error)]
pub enum VerifyError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("writing the local index for the load test: {0}")]
    Index(#[from] IndexError),
    #[error("nothing to load-test: no selected variant is buildable on this host with a load test planned (ambient builds are checked by importing them where they were built)")]
    Nothing,
}

/// Why one (wheel, torch) load test failed before its checks could judge it;
/// [`Outcome::error`] holds its text.
#[derive(Debug, Error)]
pub enum LoadProblem {
    #[error("no wheel {wheel} in {}: build it first (cargo xtask build-matrix --only {variant})", dir.display())]
    NoWheel {
        wheel: String,
        dir: PathBuf,
        variant: String,
    },
    #[error("cannot run {program:?}: {source}")]
    CannotRun {
        program: std::ffi::OsString,
        source: std::io::Error,
    },
    #[error("`{python} -m venv` failed: {first}")]
    Venv { python: String, first: String },
    #[error(transparent)]
    Uv(#[from] crate::toolchain::ToolchainError),
    #[error("installing torch=={build} from {index} failed: {first}")]
    Torch {
        build: String,
        index: String,
        first: String,
    },
    #[error("pip could not install {wheel} from the farm's index: {first}")]
    Pip { wheel: String, first: String },
    #[error("the check script crashed: {detail}")]
    Crashed { detail: String },
    #[error("the check script printed no result (crashed?): {first}")]
    NoResult { first: String },
}

/// How to run the load test.
pub struct Options {
    /// The build output root holding `wheels/`. Ex) `dist`
    pub dist: PathBuf,
    /// The interpreter each environment is made from (`python -m venv`).
    pub python: String,
    pub cache: Cache,
    /// Environments set up and checked at once.
    pub jobs: usize,
    /// Keep each environment (its path goes to the log) instead of deleting it.
    pub keep_envs: bool,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// One (wheel, torch release) load test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub variant: String,
    /// Ex) `2.9.1`
    pub torch: String,
    pub wheel: String,
    /// The checks that ran, in order; a check missing here did not run.
    pub checks: Vec<Check>,
    /// Set when the environment could not be made or a step failed before
    /// the checks (environment, torch install, wheel install).
    pub error: Option<String>,
    pub seconds: f64,
    pub log: PathBuf,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && CHECKS
                .iter()
                .all(|c| self.checks.iter().any(|k| k.name == *c && k.ok))
    }

    fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The first thing that went wrong, for the summary.
    pub fn first_problem(&self) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        if let Some(c) = self.checks.iter().find(|c| !c.ok) {
            return Some(format!("{}: {}", c.name, c.detail));
        }
        CHECKS
            .iter()
            .find(|c| self.check(c).is_none())
            .map(|c| format!("{c}: did not run (the check script stopped early; see the log)"))
    }
}

/// The environment's interpreter.
fn env_python(env: &Path) -> PathBuf {
    if cfg!(windows) {
        env.join("Scripts").join("python.exe")
    } else {
        env.join("bin").join("python")
    }
}

/// `uv pip install` of one torch release (with its dependencies) into `python`'s environment.
pub fn uv_torch_args(python: &Path, t: &LoadTestTorch) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "pip".into(),
        "install".into(),
        "--no-config".into(),
        "--python".into(),
        python.display().to_string(),
    ];
    if let crate::matrix::IndexSource::Named { url, .. } = &t.source {
        a.push("--index-url".into());
        a.push(url.clone());
    }
    a.push(format!("torch=={}", t.build));
    a
}

/// `pip install` of exactly this wheel's version from the variant's index.
/// Without `--no-deps`: pip must find the wheel's `Requires-Dist: torch…`
/// satisfied by the torch already there (a wrong range fails here).
pub fn pip_wheel_args(index_url: &str, name: &str, version: &str) -> Vec<String> {
    vec![
        "-m".into(),
        "pip".into(),
        "--disable-pip-version-check".into(),
        "--no-input".into(),
        "install".into(),
        "--no-cache-dir".into(),
        "--no-compile".into(),
        "--index-url".into(),
        index_url.into(),
        format!("{name}=={version}"),
    ]
}

/// Runs a command, appending its command line and output to `log`.
fn run_logged(cmd: &mut Command, log: &mut Vec<u8>) -> Result<(bool, String), LoadProblem> {
    let _ = writeln!(log, "$ {cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LoadProblem::CannotRun {
            program: cmd.get_program().to_owned(),
            source,
        })?;
    log.extend_from_slice(&out.stdout);
    log.extend_from_slice(&out.stderr);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// The line of a tool's output that says what went wrong.
/// Ex) `ERROR: No matching distribution found for torch<2.10,>=2.9`
pub fn first_error_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| {
            let low = l.to_lowercase();
            low.starts_with("error") || low.contains("error:") || low.starts_with("×")
        })
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_default()
}

/// Parses the check script's JSON lines (other lines are ignored).
pub fn parse_checks(stdout: &str) -> Vec<Check> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .filter_map(|v| {
            Some(Check {
                name: v.get("check")?.as_str()?.to_string(),
                ok: v.get("ok")?.as_bool()?,
                detail: v.get("detail")?.as_str()?.to_string(),
            })
        })
        .collect()
}

struct Job<'a> {
    v: &'a Variant,
    torch: &'a LoadTestTorch,
    /// The distribution name pip installs. Ex) `attnfarm`
    name: &'a str,
}

fn plan_name(job: &Job) -> String {
    job.name.to_string()
}

/// Load-tests the wheel of every buildable variant of `plan` (selected) under
/// each of its `load_test` torch releases. `full` is the whole plan for this
/// host (the index needs it to place every wheel of `<dist>/wheels`).
pub fn verify(
    plan: &Plan,
    full: &Plan,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Vec<Outcome>, VerifyError> {
    let jobs: Vec<Job> = plan
        .variants
        .iter()
        .filter(|v| v.host == HostSupport::Yes)
        .flat_map(|v| {
            v.load_test.iter().map(move |t| Job {
                v,
                torch: t,
                name: &plan.package.name,
            })
        })
        .collect();
    if jobs.is_empty() {
        return Err(VerifyError::Nothing);
    }
    let logs = opts.dist.join("logs");
    fs_err::create_dir_all(&logs)?;
    let work = opts
        .cache
        .root
        .join("verify")
        .join(format!("run-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&work);
    fs_err::create_dir_all(work.join("site/wheels"))?;

    // The farm's own index over the wheels that exist, with local links.
    let wheels = opts.dist.join("wheels");
    let mut present = Vec::new();
    for name in crate::wheel::list_wheels(&wheels)? {
        let (src, dst) = (wheels.join(&name), work.join("site/wheels").join(&name));
        if fs_err::hard_link(&src, &dst).is_err() {
            fs_err::copy(&src, &dst)?;
        }
        present.push(name);
    }
    if !present.is_empty() {
        write_index(full, &work.join("site"), BaseUrl::Local, None)?;
    }
    let server = serve::Server::start(&work.join("site"))?;
    let script = work.join("check.py");
    fs_err::write(&script, CHECK_PY)?;

    let results: Vec<Mutex<Option<Outcome>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(jobs.len()) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(job) = jobs.get(i) else { break };
                let o = run_one(
                    job,
                    i,
                    &present,
                    &server.url(),
                    &work,
                    &script,
                    &logs,
                    opts,
                    progress,
                );
                progress.done(&unit(job), o.ok());
                *results[i].lock().unwrap() = Some(o);
            });
        }
    });
    drop(server);
    if !opts.keep_envs {
        let _ = fs_err::remove_dir_all(&work);
    }
    let outcomes: Vec<Outcome> = results
        .into_iter()
        .map(|m| m.into_inner().unwrap().expect("every job ran"))
        .collect();
    let json = serde_json::to_vec_pretty(&outcomes).expect("serializable");
    let path = opts.dist.join("verify.json");
    crate::fsx::write_atomic(&path, &json)?;
    Ok(outcomes)
}

fn unit(job: &Job) -> String {
    format!("{} @ torch {}", job.v.id, job.torch.build)
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    job: &Job,
    i: usize,
    present: &[String],
    base_url: &str,
    work: &Path,
    script: &Path,
    logs: &Path,
    opts: &Options,
    progress: &dyn Progress,
) -> Outcome {
    let start = Instant::now();
    let v = job.v;
    let t = job.torch;
    let wheel = v.wheel.to_string();
    let log_path = logs.join(format!("verify-{}-torch{}.log", v.id, t.build));
    let mut log = Vec::new();
    let mut checks = Vec::new();
    let env = work.join(format!("env{i}-{}-torch{}", v.id, t.build));
    let u = unit(job);
    let error = (|| -> Result<(), LoadProblem> {
        if !present.contains(&wheel) {
            return Err(LoadProblem::NoWheel {
                wheel: wheel.clone(),
                dir: opts.dist.join("wheels"),
                variant: v.id.to_string(),
            });
        }
        progress.step(&u, "environment");
        let (ok, text) = run_logged(
            Command::new(&opts.python).args(["-m", "venv"]).arg(&env),
            &mut log,
        )?;
        if !ok {
            return Err(LoadProblem::Venv {
                python: opts.python.clone(),
                first: first_error_line(&text),
            });
        }
        let py = env_python(&env);
        progress.step(
            &u,
            &format!("install torch=={} (with its dependencies)", t.build),
        );
        let mut uv_log = Vec::new();
        let uv = opts.cache.uv(&mut uv_log)?;
        log.extend_from_slice(&uv_log);
        let (ok, text) = run_logged(Command::new(&uv).args(uv_torch_args(&py, t)), &mut log)?;
        if !ok {
            return Err(LoadProblem::Torch {
                build: t.build.to_string(),
                index: index_display(&t.source).to_string(),
                first: first_error_line(&text),
            });
        }
        progress.step(&u, "pip install from the farm's index");
        let index_url = crate::index::urls::served_variant_index(base_url, &v.id);
        let (ok, text) = run_logged(
            Command::new(&py)
                .args(pip_wheel_args(&index_url, &plan_name(job), &v.version))
                .env(
                    "PIP_CONFIG_FILE",
                    if cfg!(windows) { "NUL" } else { "/dev/null" },
                )
                .env_remove("PIP_FIND_LINKS")
                .env_remove("PIP_EXTRA_INDEX_URL")
                .env_remove("PIP_INDEX_URL"),
            &mut log,
        )?;
        if !ok {
            return Err(LoadProblem::Pip {
                wheel: wheel.clone(),
                first: first_error_line(&text),
            });
        }
        progress.step(&u, "import and checks");
        let (_, text) = run_logged(
            Command::new(&py)
                .arg(script)
                .args([v.version.as_str(), v.id.as_str()])
                // No GPU is assumed: the checks use fake and meta tensors.
                .env("CUDA_VISIBLE_DEVICES", "")
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .current_dir(work),
            &mut log,
        )?;
        checks = parse_checks(&text);
        if checks.iter().any(|c| c.name == "crash") {
            let c = checks.iter().find(|c| c.name == "crash").unwrap();
            return Err(LoadProblem::Crashed {
                detail: c.detail.clone(),
            });
        }
        if checks.is_empty() {
            return Err(LoadProblem::NoResult {
                first: first_error_line(&text),
            });
        }
        Ok(())
    })()
    .err()
    .map(|p| p.to_string());
    if opts.keep_envs {
        let _ = writeln!(log, "environment kept at {}", env.display());
    } else {
        let _ = fs_err::remove_dir_all(&env);
    }
    let _ = fs_err::write(&log_path, &log);
    Outcome {
        variant: v.id.to_string(),
        torch: t.build.to_string(),
        wheel,
        checks,
        error,
        seconds: start.elapsed().as_secs_f64(),
        log: log_path,
    }
}

/// The table `verify` prints on stdout: variant × torch × check, then every
/// failure with its first problem and log.
pub fn summary_table(outcomes: &[Outcome]) -> String {
    let header = [
        "variant", "torch", CHECKS[0], CHECKS[1], CHECKS[2], CHECKS[3], CHECKS[4], CHECKS[5],
        "seconds",
    ];
    let rows: Vec<[String; 9]> = outcomes
        .iter()
        .map(|o| {
            let cell = |c: &str| match o.check(c) {
                Some(k) if k.ok => "ok".to_string(),
                Some(_) => "FAILED".to_string(),
                None => "-".to_string(),
            };
            [
                o.variant.clone(),
                o.torch.clone(),
                cell(CHECKS[0]),
                cell(CHECKS[1]),
                cell(CHECKS[2]),
                cell(CHECKS[3]),
                cell(CHECKS[4]),
                cell(CHECKS[5]),
                format!("{:.0}", o.seconds),
            ]
        })
        .collect();
    let mut out = crate::table::render(header, &rows);
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok()).collect();
    for o in &failed {
        out.push_str(&format!(
            "\n{} under torch {} FAILED (log: {}):\n{}\n",
            o.variant,
            o.torch,
            o.log.display(),
            o.first_problem().unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "\n{} passed, {} failed\n",
        outcomes.len() - failed.len(),
        failed.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_lines_parse_and_noise_is_ignored() {
        let out = "warning: something\n{\"check\": \"installed\", \"ok\": true, \"detail\": \"attnfarm 1\"}\n\
                   {\"check\": \"imported\", \"ok\": false, \"detail\": \"ImportError: x\"}\n{not json\n";
        let c = parse_checks(out);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].name, "imported");
        assert!(!c[1].ok);
    }

    fn outcome(checks: &[(&str, bool)], error: Option<&str>) -> Outcome {
        Outcome {
            variant: "cu13-torch2.11-linux_x86_64".into(),
            torch: "2.11.0".into(),
            wheel: "w.whl".into(),
            checks: checks
                .iter()
                .map(|(n, ok)| Check {
                    name: n.to_string(),
                    ok: *ok,
                    detail: format!("{n} detail"),
                })
                .collect(),
            error: error.map(String::from),
            seconds: 42.4,
            log: PathBuf::from("dist/logs/verify-x.log"),
        }
    }

    #[test]
    fn an_outcome_passes_only_with_every_check_ok() {
        let all: Vec<(&str, bool)> = CHECKS.iter().map(|c| (*c, true)).collect();
        assert!(outcome(&all, None).ok());
        assert!(
            !outcome(&all[..5], None).ok(),
            "a check that did not run fails"
        );
        assert_eq!(
            outcome(&all[..5], None).first_problem().unwrap(),
            "report: did not run (the check script stopped early; see the log)"
        );
        let mut bad = all.clone();
        bad[1].1 = false;
        assert_eq!(
            outcome(&bad, None).first_problem().unwrap(),
            "imported: imported detail"
        );
        assert!(!outcome(&all, Some("pip failed")).ok());
    }

    #[test]
    fn summary_shows_each_check_and_names_failures() {
        let all: Vec<(&str, bool)> = CHECKS.iter().map(|c| (*c, true)).collect();
        let t = summary_table(&[
            outcome(&all, None),
            outcome(&[("installed", true), ("imported", false)], None),
        ]);
        insta::assert_snapshot!(t, @r"
        variant                      torch   installed  imported  ops  fake  cpu_error  report  seconds
        cu13-torch2.11-linux_x86_64  2.11.0  ok         ok        ok   ok    ok         ok      42
        cu13-torch2.11-linux_x86_64  2.11.0  ok         FAILED    -    -     -          -       42

        cu13-torch2.11-linux_x86_64 under torch 2.11.0 FAILED (log: dist/logs/verify-x.log):
        imported: imported detail

        1 passed, 1 failed
        ");
    }

    #[test]
    fn first_error_line_prefers_error_lines() {
        let pip = "Looking in indexes: http://127.0.0.1:1/\nERROR: Could not find a version that satisfies the requirement attnfarm==1\nERROR: No matching distribution found for attnfarm==1\n";
        assert_eq!(
            first_error_line(pip),
            "ERROR: Could not find a version that satisfies the requirement attnfarm==1"
        );
        let uv = "Resolved 3 packages\n  × No solution found when resolving dependencies:\n";
        assert_eq!(
            first_error_line(uv),
            "× No solution found when resolving dependencies:"
        );
        assert_eq!(first_error_line("just this\n"), "just this");
    }

    #[test]
    fn command_lines() {
        let t = LoadTestTorch {
            build: "2.9.1".parse().unwrap(),
            cuda: "12.8".parse().unwrap(),
            source: crate::matrix::IndexSource::Default,
        };
        assert_eq!(
            uv_torch_args(Path::new("/e/bin/python"), &t).join(" "),
            "pip install --no-config --python /e/bin/python torch==2.9.1"
        );
    }
}
