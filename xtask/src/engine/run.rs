//! Executes the engine's work: toolchains (each provisioned once per cache
//! key), the host-compiler checks (MSVC, the C++ standard torch needs), the
//! scheduler that runs the [`Graph`]'s compile jobs longest first on `jobs`
//! threads, and every subprocess.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use xshell::Shell;

use super::graph::{Graph, ObjectJob, ObjectKind};
use super::{command, keys, EngineError, Options, Sources, ToolchainMode, Work};
use crate::platform::Os;
use crate::progress::Progress;
use crate::toolchain::{msvc, Toolchain, ToolkitSpec, TorchSpec};

/// Runs `f(i)` for i in 0..n on `jobs` threads.
pub(super) fn parallel(n: usize, jobs: usize, f: impl Fn(usize) + Sync) {
    let queue = Mutex::new((0..n).collect::<VecDeque<_>>());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(n.max(1)) {
            s.spawn(|| loop {
                let next = queue.lock().unwrap().pop_front();
                match next {
                    Some(i) => f(i),
                    None => break,
                }
            });
        }
    });
}

/// Runs an argv to completion: (success, stdout followed by stderr).
pub(super) fn run_argv(argv: &[String]) -> Result<(bool, Vec<u8>), EngineError> {
    let sh = Shell::new()?;
    let out = sh
        .cmd(&argv[0])
        .args(&argv[1..])
        .quiet()
        .ignore_status()
        .output()
        .map_err(|error| EngineError::Spawn {
            program: argv[0].clone(),
            error,
        })?;
    let mut log = out.stdout;
    log.extend_from_slice(&out.stderr);
    Ok((out.status.success(), log))
}

/// An argv as one copy-pasteable line.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || "'\"$;&|<>()*?".contains(c))
            {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first line of a compiler's output that states an error (gcc/clang
/// `file:1:2: error: …`, nvcc `file(3): error: …`, MSVC `file(3): error C2065: …`,
/// `fatal error`), else its last non-empty line.
pub fn first_compiler_error(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let is_error = |l: &&&str| {
        let low = l.to_lowercase();
        (low.contains("error:") || low.contains("error c") || low.contains("fatal error"))
            && !low.contains("error detected in the compilation")
            && !low.contains("errors detected in the compilation")
    };
    lines
        .iter()
        .find(is_error)
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_else(|| "(no output)".into())
}

// ---- Toolchains -------------------------------------------------------------

/// Gives every work its toolchain, or its failure.
pub(super) fn provision(
    works: &mut [Work],
    mode: &ToolchainMode,
    opts: &Options,
    progress: &dyn Progress,
) {
    match mode {
        ToolchainMode::Ambient(tc) => {
            for w in works.iter_mut() {
                w.tc = Some((**tc).clone());
                let _ = writeln!(
                    w.log,
                    "ambient toolchain: nvcc {} ({}), torch {} at {} ({})",
                    tc.cuda.version,
                    tc.cuda.nvcc.display(),
                    tc.torch.version,
                    tc.torch.root.display(),
                    tc.torch.abi.source
                );
            }
        }
        ToolchainMode::Hermetic => {
            if works.is_empty() {
                return;
            }
            let mut uv_log = Vec::new();
            let uv = match opts.cache.uv(&mut uv_log) {
                Ok(uv) => uv,
                Err(e) => {
                    let e = Arc::new(e);
                    for w in works.iter_mut() {
                        w.log.extend_from_slice(&uv_log);
                        w.failed = Some(EngineError::Toolchain(e.clone()));
                    }
                    return;
                }
            };
            let mut toolkits = BTreeMap::new();
            let mut torches = BTreeMap::new();
            for w in works.iter_mut() {
                let v = w.v;
                let ts = ToolkitSpec::for_variant(v);
                let tk = ts.key();
                let Some(cuda) = provision_once(&mut toolkits, &tk, "toolkit", w, |log| {
                    progress.step(&v.id, &format!("toolchain: {}", ts.describe()));
                    opts.cache.toolkit(&uv, &ts, log)
                }) else {
                    continue;
                };
                let tsp = TorchSpec::for_variant(v);
                let tkey = tsp.key();
                let Some(t) = provision_once(&mut torches, &tkey, "torch", w, |log| {
                    progress.step(&v.id, &format!("toolchain: {}", tsp.requirement()));
                    opts.cache.torch(&uv, &tsp, log)
                }) else {
                    continue;
                };
                let _ = writeln!(
                    w.log,
                    "toolchain: nvcc {} at {}; torch {} at {}; C++ ABI from {}",
                    cuda.version,
                    cuda.nvcc.display(),
                    t.version,
                    t.root.display(),
                    t.abi.source
                );
                w.tc = Some(Toolchain {
                    cuda,
                    torch: t,
                    cuda_id: tk,
                    torch_id: tkey,
                });
            }
        }
    }
}

/// A failed provisioning, kept for every variant that shares its key.
struct ProvisionFailure {
    /// The error's first line: the variant's failure message.
    first_line: String,
    /// The whole error, then the provisioning log: the variant's log.
    text: String,
}

/// Provisions a toolchain part once per cache key for every variant sharing
/// it. The variant gets the provisioning log, or fails with the error's first
/// line (the whole error and log go to its log).
fn provision_once<L: Clone, E: std::fmt::Display>(
    memo: &mut BTreeMap<String, Result<(L, Vec<u8>), ProvisionFailure>>,
    key: &str,
    what: &'static str,
    w: &mut Work<'_>,
    provision: impl FnOnce(&mut Vec<u8>) -> Result<L, E>,
) -> Option<L> {
    let res = memo.entry(key.to_string()).or_insert_with(|| {
        let mut log = Vec::new();
        match provision(&mut log) {
            Ok(l) => Ok((l, log)),
            Err(e) => {
                let text = format!("{e}\n{}", String::from_utf8_lossy(&log));
                Err(ProvisionFailure {
                    first_line: text.lines().next().unwrap_or("").to_string(),
                    text,
                })
            }
        }
    });
    match res {
        Ok((l, log)) => {
            w.log.extend_from_slice(log);
            Some(l.clone())
        }
        Err(f) => {
            w.failed = Some(EngineError::Provision {
                what,
                first_line: f.first_line.clone(),
            });
            w.log.extend_from_slice(f.text.as_bytes());
            None
        }
    }
}

// ---- Host compilers ---------------------------------------------------------

/// MSVC, located explicitly for Windows variants (never through PATH), and
/// checked against each toolkit's accepted `_MSC_VER` range. Returns the
/// options with `cxx`/`link_exe` set to the located `cl.exe`/`link.exe`
/// (unchanged when no Windows variant has a toolchain).
pub(super) fn with_windows_tools(works: &mut [Work], opts: &Options) -> Options {
    let mut opts = opts.clone();
    if !works
        .iter()
        .any(|w| w.tc.is_some() && w.v.platform.os() == Os::Windows)
    {
        return opts;
    }
    match windows_tools(&opts) {
        Ok((cl, link, banner)) => {
            opts.cxx = cl;
            opts.link_exe = link;
            for w in works
                .iter_mut()
                .filter(|w| w.v.platform.os() == Os::Windows && w.failed.is_none())
            {
                let Some(tc) = &w.tc else { continue };
                let Some(hc) = msvc::find_host_config(&tc.cuda.include_dirs) else {
                    continue;
                };
                let text = fs_err::read_to_string(&hc).unwrap_or_default();
                if let Err(e) =
                    msvc::check_msc_ver(&banner, &text, &hc, &tc.cuda.version.to_string())
                {
                    w.failed = Some(EngineError::Msvc(Arc::new(e)));
                    w.tc = None;
                }
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for w in works
                .iter_mut()
                .filter(|w| w.v.platform.os() == Os::Windows && w.tc.is_some())
            {
                w.failed = Some(EngineError::Msvc(e.clone()));
                w.tc = None;
            }
        }
    }
    opts
}

/// `cl.exe` and `link.exe` (absolute paths) and cl's banner. Paths given
/// in `opts` are used as they are; otherwise `toolchain::msvc::locate`.
fn windows_tools(opts: &Options) -> Result<(String, String, String), msvc::MsvcError> {
    let given = Path::new(&opts.cxx).is_absolute() && Path::new(&opts.link_exe).is_absolute();
    let (cl, link) = if given {
        (opts.cxx.clone(), opts.link_exe.clone())
    } else {
        let m = msvc::locate(&|k| std::env::var(k).ok(), &|p| p.is_file())?;
        (m.cl.display().to_string(), m.link.display().to_string())
    };
    Ok((cl.clone(), link, cl_banner(&cl)))
}

/// The first line cl.exe prints when run without arguments (its version).
fn cl_banner(cl: &str) -> String {
    let Ok(sh) = Shell::new() else {
        return String::new();
    };
    match sh.cmd(cl).quiet().ignore_status().output() {
        Ok(o) => String::from_utf8_lossy(&o.stderr)
            .lines()
            .chain(String::from_utf8_lossy(&o.stdout).lines())
            .find(|l| l.contains("Version"))
            .unwrap_or("")
            .to_string(),
        Err(_) => String::new(),
    }
}

/// Host compiler identity for keys: `<cxx> --version`'s first line (for
/// cl.exe, which has no `--version`: its banner).
pub fn compiler_id(program: &str) -> String {
    if Path::new(program)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case("cl.exe"))
    {
        let banner = cl_banner(program);
        if !banner.is_empty() {
            return format!("{program}: {banner}");
        }
    }
    let Ok(sh) = Shell::new() else {
        return format!("{program} (unknown)");
    };
    match sh
        .cmd(program)
        .arg("--version")
        .quiet()
        .ignore_status()
        .output()
    {
        Ok(o) if o.status.success() => format!(
            "{program}: {}",
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
        ),
        _ => format!("{program} (unknown)"),
    }
}

/// Does the host C++ compiler implement C++`year`? Err
/// ([`EngineError::CompilerRejected`]): its first error line.
pub(super) fn probe_std(opts: &Options, os: Os, year: u32) -> Result<(), EngineError> {
    let dir = opts.out.join("build");
    fs_err::create_dir_all(&dir)?;
    let src = dir.join(format!("std_probe_cxx{year}.cpp"));
    let text = command::std_probe_source(year);
    if fs_err::read_to_string(&src).ok().as_deref() != Some(text.as_str()) {
        crate::fsx::write_atomic(&src, text.as_bytes())?;
    }
    let (ok, out) = run_argv(&command::std_probe_argv(os, &opts.cxx, year, &src))?;
    if ok {
        Ok(())
    } else {
        Err(EngineError::CompilerRejected(first_compiler_error(
            &String::from_utf8_lossy(&out),
        )))
    }
}

/// Writes the glibc-compat source when a job compiles it (and it differs).
pub(super) fn write_compat_source(graph: &Graph, opts: &Options) -> Result<(), EngineError> {
    if !graph.needs_compat() {
        return Ok(());
    }
    let src = super::graph::compat_source(&opts.out);
    fs_err::create_dir_all(src.parent().expect("has parent"))?;
    if fs_err::read_to_string(&src).ok().as_deref() != Some(command::GLIBC_COMPAT_C) {
        crate::fsx::write_atomic(&src, command::GLIBC_COMPAT_C.as_bytes())?;
    }
    Ok(())
}

// ---- The scheduler ------------------------------------------------------------

/// What became of one job: Ok(true) compiled now, Ok(false) found in the
/// cache. Shared: every variant linking the object reads it.
pub(super) type JobResult = Result<bool, Arc<EngineError>>;

/// A job's result (None: never ran) and its log.
#[derive(Default)]
pub(super) struct JobState {
    pub result: Mutex<Option<JobResult>>,
    pub log: Mutex<Vec<u8>>,
}

/// Runs every job of `graph`, longest first, on `opts.jobs` threads.
/// `unit(owner)` names the variant a job's progress is shown under.
pub(super) fn execute(
    graph: &Graph,
    sources: &Sources,
    opts: &Options,
    unit: &(dyn Fn(usize) -> String + Sync),
    progress: &dyn Progress,
) -> Vec<JobState> {
    let states: Vec<JobState> = graph.jobs.iter().map(|_| JobState::default()).collect();
    let order = graph.order();
    let kernel_jobs = graph
        .jobs
        .iter()
        .filter(|j| j.kind == ObjectKind::Kernel && (!opts.object_cache || !j.out.is_file()))
        .count();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let nvcc_threads = (cores / opts.jobs.min(kernel_jobs.max(1)).max(1)).max(1);
    parallel(order.len(), opts.jobs, |i| {
        let job = &graph.jobs[order[i]];
        let state = &states[order[i]];
        // The key was computed from the sources read at the start; an edit
        // during the compile must not land in the cache under that key.
        let unchanged = || match Sources::read(&opts.repo) {
            Ok(now) => match job.kind {
                ObjectKind::Kernel => sources.same_kernels(&now),
                ObjectKind::Binding => sources.same_bindings(&now),
                ObjectKind::Compat => true,
            },
            Err(_) => false,
        };
        let r = run_job(
            job,
            state,
            opts.object_cache,
            nvcc_threads,
            &unit(job.owner),
            progress,
            &unchanged,
        );
        *state.result.lock().unwrap() = Some(r.map_err(Arc::new));
    });
    states
}

/// Compiles one object (or finds it in the cache). Ok(true): compiled now.
fn run_job(
    job: &ObjectJob,
    state: &JobState,
    object_cache: bool,
    nvcc_threads: usize,
    unit: &str,
    progress: &dyn Progress,
    unchanged: &dyn Fn() -> bool,
) -> Result<bool, EngineError> {
    if object_cache && job.out.is_file() {
        return Ok(false);
    }
    let what = match job.kind {
        ObjectKind::Kernel => "compile kernel",
        ObjectKind::Binding => "compile binding",
        ObjectKind::Compat => "compile",
    };
    progress.step(unit, &format!("{what} {}", job.label));
    let parent = job.out.parent().expect("object has a parent dir");
    fs_err::create_dir_all(parent)?;
    let tmp = crate::fsx::temp_sibling(&job.out);
    let mut argv = keys::with_out(&job.template, &tmp.display().to_string());
    if job.nvcc_threads() {
        argv.push("--threads".into());
        argv.push(nvcc_threads.to_string());
    }
    let t0 = Instant::now();
    let (ok, out) = run_argv(&argv)?;
    let mut log = state.log.lock().unwrap();
    let _ = writeln!(log, "$ {}", shell_words(&argv));
    log.extend_from_slice(&out);
    let _ = writeln!(
        log,
        "[{:.1}s, key {}]",
        t0.elapsed().as_secs_f64(),
        &job.key[..16]
    );
    if !ok || !tmp.is_file() {
        let _ = fs_err::remove_file(&tmp);
        return Err(EngineError::Compile {
            label: job.label.clone(),
            first_error: first_compiler_error(&String::from_utf8_lossy(&out)),
        });
    }
    if !unchanged() {
        let _ = fs_err::remove_file(&tmp);
        let _ = writeln!(log, "sources changed while compiling; object discarded");
        return Err(EngineError::SourcesChanged {
            label: job.label.clone(),
        });
    }
    fs_err::rename(&tmp, &job.out)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_quote_what_needs_it() {
        let argv: Vec<String> = ["g++", "-Wl,-rpath,$ORIGIN", "a b", "-O2"]
            .map(String::from)
            .to_vec();
        assert_eq!(shell_words(&argv), "g++ '-Wl,-rpath,$ORIGIN' 'a b' -O2");
    }

    #[test]
    fn first_compiler_error_skips_noise_and_summaries() {
        let nvcc = "nvcc warning : this line is noise\n\
                    kernels/src/k.cu(2): error: sm_75 is broken here\n\
                    1 error detected in the compilation of \"kernels/src/k.cu\".\n";
        assert_eq!(
            first_compiler_error(nvcc),
            "kernels/src/k.cu(2): error: sm_75 is broken here"
        );
        assert_eq!(
            first_compiler_error("a.cpp(3): error C2065: 'x': undeclared identifier"),
            "a.cpp(3): error C2065: 'x': undeclared identifier"
        );
        assert_eq!(first_compiler_error("\n  last words  \n\n"), "last words");
        assert_eq!(first_compiler_error(""), "(no output)");
    }
}
