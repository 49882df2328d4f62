//! The compile graph: provision → compile (kernels once per toolkit and arch
//! set, bindings once per torch variant) → link → audit → wheel, for every
//! variant of a plan, in parallel, with a content-addressed object cache.
//!
//! Failures are isolated: a variant whose toolchain, compile, link or audit
//! fails is reported with its log (`<out>/logs/<id>.log`); the others
//! continue. Outputs appear atomically (objects and libraries are written to a
//! temporary name and renamed; wheels by `wheel::write_wheel`), so a killed
//! run leaves nothing that looks complete and a re-run finishes the rest.
//!
//! Command lines are decided in [`command`] and keys in [`keys`] (both pure);
//! this module executes them.

pub mod command;
pub mod info;
pub mod keys;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use xshell::Shell;

use crate::audit::{self, Allowed};
use crate::matrix::Package;
use crate::plan::{HostSupport, Plan, Variant, VariantKind};
use crate::platform::Os;
use crate::progress::Progress;
use crate::toolchain::{msvc, Cache, Toolchain, ToolkitSpec, TorchSpec};
use crate::wheel::{self, metadata::CoreMetadata, Entry, Source, WheelSpec};
use command::{BindingCompile, KernelCompile, Link};

#[derive(Debug, Error)]
pub enum BuildError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Sources(String),
}

/// Where toolchains come from.
pub enum ToolchainMode {
    /// Provisioned into the cache from the package index (the default).
    Hermetic,
    /// One given toolchain (the Python's torch, `CUDA_HOME`'s CUDA).
    Ambient(Box<Toolchain>),
}

/// How to build.
#[derive(Debug, Clone)]
pub struct Options {
    /// The repository root (kernels/, bindings/, LICENSE, README).
    pub repo: PathBuf,
    /// Output root: wheels/, logs/, build/ go under it. Ex) `dist`
    pub out: PathBuf,
    pub cache: Cache,
    /// The object cache directory (normally `<cache>/objects`).
    pub objects: PathBuf,
    /// Parallel compile/link jobs.
    pub jobs: usize,
    /// false: every variant compiles its own objects (benchmark baseline).
    pub object_cache: bool,
    /// Zip timestamps (SOURCE_DATE_EPOCH).
    pub epoch: u64,
    /// Source revision recorded in `_build_info.py`.
    pub revision: String,
    /// Host C++ compiler (Linux `g++`, Windows `cl.exe`).
    pub cxx: String,
    /// Host C compiler for the glibc-compat unit (Linux).
    pub cc: String,
    /// Windows linker.
    pub link_exe: String,
}

/// What happened to one variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Built,
    /// The wheel on disk was built from exactly these inputs; nothing ran.
    UpToDate,
    Failed(String),
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub status: Status,
    pub wheel: Option<String>,
    pub size: u64,
    pub seconds: f64,
    pub kernels_compiled: usize,
    pub kernels_reused: usize,
    /// The tag the audit derived. Ex) `manylinux_2_28_x86_64`
    pub audited: Option<String>,
    pub log: Option<PathBuf>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        matches!(self.status, Status::Failed(_))
    }
}

/// The repo's sources, read once per run.
#[derive(Debug, Clone)]
pub struct Sources {
    pub kernels: Vec<(PathBuf, Vec<u8>)>,
    pub kernel_headers: String,
    /// The per-minor binding: `bindings/csrc/*.cpp`.
    pub bindings: Vec<(PathBuf, Vec<u8>)>,
    /// The stable-ABI binding: `bindings/csrc/stable/*.cpp`.
    pub stable_bindings: Vec<(PathBuf, Vec<u8>)>,
    /// Both bindings' headers (`bindings/csrc/**`, `kernels/include`).
    pub binding_headers: String,
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for e in fs_err::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            files_under(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn is_header(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("h" | "hpp" | "cuh" | "inl" | "inc")
    )
}

impl Sources {
    /// `kernels/src/*.cu`, `bindings/csrc/*.cpp`, `bindings/csrc/stable/*.cpp`
    /// and the headers they can include.
    pub fn read(repo: &Path) -> Result<Sources, BuildError> {
        let rel = |p: &Path| {
            p.strip_prefix(repo)
                .unwrap_or(p)
                .to_string_lossy()
                .replace('\\', "/")
        };
        let read_set = |dirs: &[&str],
                        pick: &dyn Fn(&Path) -> bool|
         -> Result<Vec<(PathBuf, Vec<u8>)>, BuildError> {
            let mut files = Vec::new();
            for d in dirs {
                files_under(&repo.join(d), &mut files)?;
            }
            files.retain(|p| pick(p));
            files.sort();
            files
                .into_iter()
                .map(|p| Ok((p.clone(), fs_err::read(&p)?)))
                .collect()
        };
        let ext =
            |e: &'static str| move |p: &Path| p.extension().and_then(|x| x.to_str()) == Some(e);
        let kernels = read_set(&["kernels/src"], &ext("cu"))?;
        let csrc = repo.join("bindings/csrc");
        let stable_dir = csrc.join("stable");
        let in_dir = |dir: PathBuf| move |p: &Path| p.parent() == Some(dir.as_path());
        let bindings = read_set(&["bindings/csrc"], &|p| {
            ext("cpp")(p) && in_dir(csrc.clone())(p)
        })?;
        let stable_bindings = read_set(&["bindings/csrc/stable"], &|p| {
            ext("cpp")(p) && in_dir(stable_dir.clone())(p)
        })?;
        let digest = |set: Vec<(PathBuf, Vec<u8>)>| {
            keys::digest_files(
                &set.into_iter()
                    .map(|(p, b)| (rel(&p), b))
                    .collect::<Vec<_>>(),
            )
        };
        let kernel_headers = digest(read_set(&["kernels/include", "kernels/src"], &is_header)?);
        let binding_headers = digest(read_set(&["kernels/include", "bindings/csrc"], &is_header)?);
        if bindings.is_empty() {
            return Err(BuildError::Sources(format!(
                "no binding sources: {} has no .cpp files (the torch op registration lives there)",
                repo.join("bindings/csrc").display()
            )));
        }
        Ok(Sources {
            kernels,
            kernel_headers,
            bindings,
            stable_bindings,
            binding_headers,
        })
    }

    /// The binding sources a variant compiles.
    pub fn bindings_for(&self, kind: VariantKind) -> &[(PathBuf, Vec<u8>)] {
        match kind {
            VariantKind::PerMinor => &self.bindings,
            VariantKind::Stable => &self.stable_bindings,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Kernel,
    Binding,
    Compat,
}

struct Job {
    kind: Kind,
    /// Ex) `kernels/src/attn_int8.cu`
    label: String,
    template: Vec<String>,
    out: PathBuf,
    key: String,
    /// nvcc: add `--threads N`.
    nvcc_threads: bool,
    /// First variant (index) that needs it: it gets the "compiled" credit.
    owner: usize,
    /// Source bytes: the cost estimate for longest-first scheduling.
    weight: usize,
    result: Mutex<Option<Result<bool, String>>>,
    log: Mutex<Vec<u8>>,
}

struct Work<'a> {
    v: &'a Variant,
    start: Instant,
    log: Vec<u8>,
    tc: Option<Toolchain>,
    failed: Option<String>,
    jobs: Vec<usize>,
    link: Option<Link>,
}

/// `cl.exe` and `link.exe` (absolute paths) and cl's banner. Paths given
/// in `opts` are used as they are; otherwise `toolchain::msvc::locate`.
fn windows_tools(opts: &Options) -> Result<(String, String, String), String> {
    let given = Path::new(&opts.cxx).is_absolute() && Path::new(&opts.link_exe).is_absolute();
    let (cl, link) = if given {
        (opts.cxx.clone(), opts.link_exe.clone())
    } else {
        let m = msvc::locate(&|k| std::env::var(k).ok(), &|p| p.is_file())
            .map_err(|e| e.to_string())?;
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

/// The git commit time of HEAD, for SOURCE_DATE_EPOCH.
pub fn git_commit_time(repo: &Path) -> Option<u64> {
    let sh = Shell::new().ok()?;
    let out = sh
        .cmd("git")
        .args(["-C"])
        .arg(repo)
        .args(["log", "-1", "--format=%ct"])
        .quiet()
        .ignore_status()
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// HEAD's sha, `-dirty` when kernels/ or bindings/ differ from it; else `unknown`.
pub fn git_revision(repo: &Path) -> String {
    let Ok(sh) = Shell::new() else {
        return "unknown".into();
    };
    let head = sh
        .cmd("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "HEAD"])
        .quiet()
        .ignore_status()
        .output();
    let Ok(head) = head else {
        return "unknown".into();
    };
    let sha = String::from_utf8_lossy(&head.stdout).trim().to_string();
    if !head.status.success() || sha.is_empty() {
        return "unknown".into();
    }
    let clean = sh
        .cmd("git")
        .arg("-C")
        .arg(repo)
        .args(["diff", "--quiet", "HEAD", "--", "kernels", "bindings"])
        .quiet()
        .ignore_status()
        .output()
        .is_ok_and(|o| o.status.success());
    if clean {
        sha
    } else {
        format!("{sha}-dirty")
    }
}

fn run_argv(argv: &[String]) -> Result<(bool, Vec<u8>), String> {
    let sh = Shell::new().map_err(|e| e.to_string())?;
    let out = sh
        .cmd(&argv[0])
        .args(&argv[1..])
        .quiet()
        .ignore_status()
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", argv[0]))?;
    let mut log = out.stdout;
    log.extend_from_slice(&out.stderr);
    Ok((out.status.success(), log))
}

/// Runs `f(i)` for i in 0..n on `jobs` threads.
fn parallel(n: usize, jobs: usize, f: impl Fn(usize) + Sync) {
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

/// What the stamp next to a built wheel records.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Stamp {
    inputs: String,
    wheel: String,
    sha256: String,
    audited: Option<String>,
}

/// Builds every variant of `plan` this host can build.
pub fn build(
    plan: &Plan,
    mode: &ToolchainMode,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Vec<Outcome>, BuildError> {
    let sources = Sources::read(&opts.repo)?;
    let logs_dir = opts.out.join("logs");
    let wheels_dir = opts.out.join("wheels");
    fs_err::create_dir_all(&logs_dir)?;
    let mut works: Vec<Work> = Vec::new();
    let mut outcomes: Vec<Option<Outcome>> = Vec::new();
    for v in &plan.variants {
        match &v.host {
            HostSupport::Yes => {
                works.push(Work {
                    v,
                    start: Instant::now(),
                    log: Vec::new(),
                    tc: None,
                    failed: None,
                    jobs: Vec::new(),
                    link: None,
                });
                outcomes.push(None);
            }
            HostSupport::No(why) => outcomes.push(Some(Outcome {
                id: v.id.to_string(),
                status: Status::Skipped(why.clone()),
                wheel: None,
                size: 0,
                seconds: 0.0,
                kernels_compiled: 0,
                kernels_reused: 0,
                audited: None,
                log: None,
            })),
        }
    }

    // 1. Toolchains.
    provision(&mut works, mode, opts, progress);

    // MSVC, located explicitly for Windows variants (never through PATH),
    // and checked against each toolkit's accepted `_MSC_VER` range.
    let mut cxx = opts.cxx.clone();
    let mut link_exe = opts.link_exe.clone();
    if works
        .iter()
        .any(|w| w.tc.is_some() && w.v.platform.os() == Os::Windows)
    {
        match windows_tools(opts) {
            Ok((cl, link, banner)) => {
                cxx = cl;
                link_exe = link;
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
                        w.failed = Some(e.to_string());
                        w.tc = None;
                    }
                }
            }
            Err(e) => {
                for w in works
                    .iter_mut()
                    .filter(|w| w.v.platform.os() == Os::Windows && w.tc.is_some())
                {
                    w.failed = Some(e.clone());
                    w.tc = None;
                }
            }
        }
    }
    let opts = &Options {
        cxx,
        link_exe,
        ..opts.clone()
    };

    // 2. Compile graph.
    let cxx_id = compiler_id(&opts.cxx);
    let cc_id = compiler_id(&opts.cc);
    let repo_s = opts.repo.display().to_string();
    let cache_s = opts.cache.root.display().to_string();
    let roots = [(cache_s.as_str(), "$CACHE"), (repo_s.as_str(), "$REPO")];
    let rel = |p: &Path| {
        p.strip_prefix(&opts.repo)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let compat_src = opts.out.join("build").join("glibc_compat.c");
    let mut jobs: Vec<Job> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let obj_dir = opts.objects.clone();
    let mut std_probes: BTreeMap<u32, Result<(), String>> = BTreeMap::new();
    for (wi, w) in works.iter_mut().enumerate() {
        let Some(tc) = w.tc.clone() else { continue };
        let os = w.v.platform.os();
        let ext = command::object_ext(os);
        let private = opts.out.join("build").join(&w.v.id).join("obj");
        let place = |key: &str, stem: &str| -> PathBuf {
            if opts.object_cache {
                obj_dir.join(&key[..2]).join(format!("{key}.{ext}"))
            } else {
                private.join(format!("{stem}.{ext}"))
            }
        };
        let mut kinc = vec![opts.repo.join("kernels/include")];
        kinc.extend(tc.cuda.include_dirs.iter().cloned());
        let kc = KernelCompile {
            os,
            nvcc: tc.cuda.nvcc.clone(),
            host_cxx: opts.cxx.clone(),
            include_dirs: kinc,
            arches: w.v.arches.clone(),
            ptx: w.v.ptx,
            compression: tc.cuda.compression,
            source_root: Some(opts.repo.clone()),
        };
        let mut binc = vec![opts.repo.join("kernels/include")];
        binc.extend(tc.torch.include_dirs.iter().cloned());
        binc.extend(tc.cuda.include_dirs.iter().cloned());
        let bc = BindingCompile {
            os,
            cxx: opts.cxx.clone(),
            cxx11_abi: tc.torch.abi.cxx11,
            cxx_std: tc.torch.cxx_std.year,
            include_dirs: binc,
            source_root: Some(opts.repo.clone()),
            defines: command::binding_defines(w.v.kind, w.v.torch),
        };
        // torch's headers need the standard torch builds extensions with; a
        // host compiler without it is a clear error, not a wall of templates.
        let year = tc.torch.cxx_std.year;
        let probe = std_probes
            .entry(year)
            .or_insert_with(|| probe_std(opts, os, year));
        let _ = writeln!(
            w.log,
            "C++ standard for the binding: C++{year} ({})",
            tc.torch.cxx_std.source
        );
        if let Err(why) = probe {
            w.failed = Some(format!(
                "torch {} needs C++{year} ({}), but the host compiler `{}` cannot compile C++{year}: {why}. Use {}",
                tc.torch.version,
                tc.torch.cxx_std.source,
                opts.cxx,
                command::std_compiler_hint(os, year)
            ));
            continue;
        }
        let mut planned: Vec<(Kind, String, Vec<String>, String, bool, usize)> = Vec::new();
        for (src, bytes) in &sources.kernels {
            let t = kc.argv(src, Path::new(keys::OUT));
            let key = keys::object_key(
                "kernel",
                &[&tc.cuda_id, &cxx_id],
                &keys::normalize(&t, &roots),
                bytes,
                &sources.kernel_headers,
            );
            planned.push((Kind::Kernel, rel(src), t, key, true, bytes.len()));
        }
        let binding_sources = sources.bindings_for(w.v.kind);
        if binding_sources.is_empty() {
            w.failed = Some(format!(
                "no {} binding sources: {} has no .cpp files",
                w.v.kind.as_str(),
                opts.repo
                    .join(match w.v.kind {
                        VariantKind::PerMinor => "bindings/csrc",
                        VariantKind::Stable => "bindings/csrc/stable",
                    })
                    .display()
            ));
            continue;
        }
        for (src, bytes) in binding_sources {
            let t = bc.argv(src, Path::new(keys::OUT));
            let key = keys::object_key(
                "binding",
                &[&tc.torch_id, &tc.cuda_id, &cxx_id],
                &keys::normalize(&t, &roots),
                bytes,
                &sources.binding_headers,
            );
            planned.push((Kind::Binding, rel(src), t, key, false, bytes.len()));
        }
        if os == Os::Linux {
            let t = command::compat_argv(&opts.cc, &compat_src, Path::new(keys::OUT));
            let key = keys::object_key(
                "compat",
                &[&cc_id],
                &keys::normalize(&t, &[(&opts.out.display().to_string(), "$DIST")]),
                command::GLIBC_COMPAT_C.as_bytes(),
                "",
            );
            planned.push((Kind::Compat, "glibc_compat.c".into(), t, key, false, 0));
        }
        for (kind, label, template, key, threads, weight) in planned {
            if opts.object_cache {
                if let Some(&j) = by_key.get(&key) {
                    w.jobs.push(j);
                    continue;
                }
            }
            let stem = label.replace(['/', '\\', '.'], "_");
            let out = place(&key, &stem);
            jobs.push(Job {
                kind,
                label,
                template,
                out,
                key: key.clone(),
                nvcc_threads: threads,
                weight,
                owner: wi,
                result: Mutex::new(None),
                log: Mutex::new(Vec::new()),
            });
            by_key.insert(key, jobs.len() - 1);
            w.jobs.push(jobs.len() - 1);
        }
        w.link = Some(Link {
            os,
            linker: match os {
                Os::Linux => opts.cxx.clone(),
                Os::Windows => opts.link_exe.clone(),
            },
            torch_lib_dir: tc.torch.lib_dir.clone(),
            cuda_lib_dir: tc.cuda.lib_dir.clone(),
            cudart: tc.cuda.cudart.clone(),
        });
    }
    if jobs.iter().any(|j| j.kind == Kind::Compat) {
        fs_err::create_dir_all(compat_src.parent().expect("has parent"))?;
        if fs_err::read_to_string(&compat_src).ok().as_deref() != Some(command::GLIBC_COMPAT_C) {
            fs_err::write(&compat_src, command::GLIBC_COMPAT_C)?;
        }
    }
    // Longest first (so the longest job does not start last): kernels, then
    // bindings, then the compat unit; within a kind, larger sources first.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&j| (jobs[j].kind as u8, std::cmp::Reverse(jobs[j].weight), j));
    let kernel_jobs = jobs
        .iter()
        .filter(|j| j.kind == Kind::Kernel && (!opts.object_cache || !j.out.is_file()))
        .count();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let nvcc_threads = (cores / opts.jobs.min(kernel_jobs.max(1)).max(1)).max(1);
    parallel(order.len(), opts.jobs, |i| {
        let job = &jobs[order[i]];
        // The key was computed from the sources read at the start; an edit
        // during the compile must not land in the cache under that key.
        let unchanged = || match Sources::read(&opts.repo) {
            Ok(now) => match job.kind {
                Kind::Kernel => {
                    now.kernels == sources.kernels && now.kernel_headers == sources.kernel_headers
                }
                Kind::Binding => {
                    now.bindings == sources.bindings
                        && now.stable_bindings == sources.stable_bindings
                        && now.binding_headers == sources.binding_headers
                }
                Kind::Compat => true,
            },
            Err(_) => false,
        };
        let r = run_job(
            job,
            opts.object_cache,
            nvcc_threads,
            &works[job.owner].v.id,
            progress,
            &unchanged,
        );
        *job.result.lock().unwrap() = Some(r);
    });

    // 3. Link, audit, wheel — per variant.
    let finished: Vec<Mutex<Option<Outcome>>> = works.iter().map(|_| Mutex::new(None)).collect();
    let works_ref = &works;
    parallel(works.len(), opts.jobs, |wi| {
        let w = &works_ref[wi];
        let mut log = w.log.clone();
        let r = finish(
            w,
            wi,
            &jobs,
            opts,
            &wheels_dir,
            &mut log,
            progress,
            &plan.package,
            &plan.release.pages,
        );
        let (compiled, reused) = w
            .jobs
            .iter()
            .filter(|&&j| jobs[j].kind == Kind::Kernel)
            .fold((0, 0), |(c, r), &j| {
                let did = matches!(*jobs[j].result.lock().unwrap(), Some(Ok(true)))
                    && jobs[j].owner == wi;
                if did {
                    (c + 1, r)
                } else {
                    (c, r + 1)
                }
            });
        let log_path = logs_dir.join(format!("{}.log", w.v.id));
        let up_to_date = matches!(r, Ok((Status::UpToDate, ..)));
        if up_to_date && log_path.is_file() {
            // Keep the log of the build that made the wheel; note the re-run.
            if let Ok(mut f) = fs_err::OpenOptions::new().append(true).open(&log_path) {
                let _ = f.write_all(b"---- re-run ----\n");
                let _ = f.write_all(&log);
            }
        } else {
            let _ = fs_err::write(&log_path, &log);
        }
        let outcome = match r {
            Ok((status, wheel, size, audited)) => Outcome {
                id: w.v.id.to_string(),
                status,
                wheel,
                size,
                seconds: w.start.elapsed().as_secs_f64(),
                kernels_compiled: compiled,
                kernels_reused: reused,
                audited,
                log: Some(log_path),
            },
            Err(msg) => Outcome {
                id: w.v.id.to_string(),
                status: Status::Failed(msg),
                wheel: None,
                size: 0,
                seconds: w.start.elapsed().as_secs_f64(),
                kernels_compiled: compiled,
                kernels_reused: reused,
                audited: None,
                log: Some(log_path),
            },
        };
        progress.done(&w.v.id, !outcome.failed());
        *finished[wi].lock().unwrap() = Some(outcome);
    });
    let mut fin = finished.into_iter().map(|m| m.into_inner().unwrap());
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| fin.next().flatten().expect("one outcome per work")))
        .collect())
}

/// Provisions the toolchains of every buildable variant (no compiling);
/// returns the failures as (variant id, message).
pub fn provision_only(
    plan: &Plan,
    opts: &Options,
    progress: &dyn Progress,
) -> Vec<(String, String)> {
    let mut works: Vec<Work> = plan
        .variants
        .iter()
        .filter(|v| v.host == HostSupport::Yes)
        .map(|v| Work {
            v,
            start: Instant::now(),
            log: Vec::new(),
            tc: None,
            failed: None,
            jobs: Vec::new(),
            link: None,
        })
        .collect();
    provision(&mut works, &ToolchainMode::Hermetic, opts, progress);
    works
        .into_iter()
        .filter_map(|w| w.failed.map(|f| (w.v.id.to_string(), f)))
        .collect()
}

fn provision(works: &mut [Work], mode: &ToolchainMode, opts: &Options, progress: &dyn Progress) {
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
                    for w in works.iter_mut() {
                        w.log.extend_from_slice(&uv_log);
                        w.failed = Some(e.to_string());
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

/// Provisions a toolchain part once per cache key for every variant sharing
/// it. The variant gets the provisioning log, or fails with the error's first
/// line (the whole error and log go to its log).
fn provision_once<L: Clone, E: std::fmt::Display>(
    memo: &mut BTreeMap<String, Result<(L, Vec<u8>), String>>,
    key: &str,
    what: &str,
    w: &mut Work<'_>,
    provision: impl FnOnce(&mut Vec<u8>) -> Result<L, E>,
) -> Option<L> {
    let res = memo.entry(key.to_string()).or_insert_with(|| {
        let mut log = Vec::new();
        match provision(&mut log) {
            Ok(l) => Ok((l, log)),
            Err(e) => Err(format!("{e}\n{}", String::from_utf8_lossy(&log))),
        }
    });
    match res {
        Ok((l, log)) => {
            w.log.extend_from_slice(log);
            Some(l.clone())
        }
        Err(e) => {
            w.failed = Some(format!("{what}: {}", e.lines().next().unwrap_or("")));
            w.log.extend_from_slice(e.as_bytes());
            None
        }
    }
}

/// Does the host C++ compiler implement C++`year`? Err: its first error line.
fn probe_std(opts: &Options, os: Os, year: u32) -> Result<(), String> {
    let dir = opts.out.join("build");
    fs_err::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let src = dir.join(format!("std_probe_cxx{year}.cpp"));
    let text = command::std_probe_source(year);
    if fs_err::read_to_string(&src).ok().as_deref() != Some(text.as_str()) {
        fs_err::write(&src, &text).map_err(|e| e.to_string())?;
    }
    let (ok, out) = run_argv(&command::std_probe_argv(os, &opts.cxx, year, &src))?;
    if ok {
        Ok(())
    } else {
        Err(first_compiler_error(&String::from_utf8_lossy(&out)))
    }
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

/// Compiles one object (or finds it in the cache). Ok(true): compiled now.
fn run_job(
    job: &Job,
    object_cache: bool,
    nvcc_threads: usize,
    unit: &str,
    progress: &dyn Progress,
    unchanged: &dyn Fn() -> bool,
) -> Result<bool, String> {
    if object_cache && job.out.is_file() {
        return Ok(false);
    }
    let what = match job.kind {
        Kind::Kernel => "compile kernel",
        Kind::Binding => "compile binding",
        Kind::Compat => "compile",
    };
    progress.step(unit, &format!("{what} {}", job.label));
    let parent = job.out.parent().expect("object has a parent dir");
    fs_err::create_dir_all(parent).map_err(|e| e.to_string())?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        job.out.file_name().unwrap().to_string_lossy(),
        std::process::id()
    ));
    let mut argv = keys::with_out(&job.template, &tmp.display().to_string());
    if job.nvcc_threads {
        argv.push("--threads".into());
        argv.push(nvcc_threads.to_string());
    }
    let t0 = Instant::now();
    let (ok, out) = run_argv(&argv)?;
    let mut log = job.log.lock().unwrap();
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
        return Err(format!(
            "compiling {} failed: {}",
            job.label,
            first_compiler_error(&String::from_utf8_lossy(&out))
        ));
    }
    if !unchanged() {
        let _ = fs_err::remove_file(&tmp);
        let _ = writeln!(log, "sources changed while compiling; object discarded");
        return Err(format!(
            "{} or a header it includes changed while it was being compiled; run again",
            job.label
        ));
    }
    fs_err::rename(&tmp, &job.out).map_err(|e| e.to_string())?;
    Ok(true)
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

type Finished = (Status, Option<String>, u64, Option<String>);

/// Link, audit and wheel for one variant whose objects are compiled.
#[allow(clippy::too_many_arguments)]
fn finish(
    w: &Work,
    wi: usize,
    jobs: &[Job],
    opts: &Options,
    wheels_dir: &Path,
    log: &mut Vec<u8>,
    progress: &dyn Progress,
    package: &Package,
    pages: &str,
) -> Result<Finished, String> {
    if let Some(f) = &w.failed {
        return Err(f.clone());
    }
    let tc = w.tc.as_ref().expect("no failure means a toolchain");
    let mut failed = Vec::new();
    for &j in &w.jobs {
        let job = &jobs[j];
        log.extend_from_slice(&job.log.lock().unwrap());
        match &*job.result.lock().unwrap() {
            Some(Ok(compiled)) => {
                if !compiled || job.owner != wi {
                    let _ = writeln!(log, "reused {} ({})", job.label, job.out.display());
                }
            }
            Some(Err(e)) => failed.push(e.clone()),
            None => failed.push(format!("{} was not compiled", job.label)),
        }
    }
    if !failed.is_empty() {
        return Err(failed.join("; "));
    }
    let v = w.v;
    let os = v.platform.os();
    let lib_name = v.platform.library_name();
    let objects: Vec<PathBuf> = w.jobs.iter().map(|&j| jobs[j].out.clone()).collect();
    let link = w.link.as_ref().expect("linked variants have a link plan");
    let build_dir = opts.out.join("build").join(&v.id);

    // Payload (everything but the library), to decide whether anything changed.
    let pkg_dir = import_package(&opts.repo.join("bindings/python"), &package.name);
    let mut payload: Vec<Entry> = wheel::payload_from_dir(&opts.repo.join("bindings/python"))
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|e| {
            !e.path.contains("__pycache__/")
                && !e.path.ends_with(".pyc")
                && e.path != format!("{pkg_dir}/_build_info.py")
                && !(e.path.starts_with(&format!("{pkg_dir}/_C.")))
        })
        .collect();
    let info = info::render(
        v,
        &tc.torch.version,
        tc.torch.cxx_std.year,
        pages,
        &opts.revision,
    );
    payload.push(Entry::bytes(
        format!("{pkg_dir}/_build_info.py"),
        info.clone(),
    ));
    let description = match &package.readme {
        Some(r) => match fs_err::read_to_string(opts.repo.join(r)) {
            Ok(t) => Some(t),
            Err(_) => {
                let _ = writeln!(
                    log,
                    "note: readme `{r}` not found; METADATA has no long description"
                );
                None
            }
        },
        None => None,
    };
    let metadata = CoreMetadata {
        name: package.name.clone(),
        version: v.version.clone(),
        summary: package.summary.clone(),
        license_expression: package.license.clone(),
        license_files: package.license_files.clone(),
        requires_dist: v.requires_dist.clone(),
        requires_python: v.requires_python.clone(),
        project_urls: package.urls.clone(),
        description,
    };
    let licenses: Vec<Entry> = package
        .license_files
        .iter()
        .map(|l| Entry {
            path: l.clone(),
            source: Source::File(opts.repo.join(l)),
        })
        .collect();
    let spec = WheelSpec {
        filename: v.wheel.clone(),
        metadata,
        generator: format!("attnfarm-xtask {}", env!("CARGO_PKG_VERSION")),
        licenses,
    };
    let repo_s = opts.repo.display().to_string();
    let cache_s = opts.cache.root.display().to_string();
    let link_template = keys::normalize(
        &link.argv(&objects, Path::new(keys::OUT), &build_dir),
        &[(&cache_s, "$CACHE"), (&repo_s, "$REPO")],
    );
    let inputs = {
        let mut h = Sha256::new();
        h.update(b"attnfarm-variant-v1\0");
        for &j in &w.jobs {
            h.update(jobs[j].key.as_bytes());
        }
        for a in &link_template {
            h.update(a.as_bytes());
            h.update([0]);
        }
        for e in payload.iter().chain(spec.licenses.iter()) {
            h.update(e.path.as_bytes());
            h.update([0]);
            let bytes = match &e.source {
                Source::File(p) => fs_err::read(p).map_err(|e| e.to_string())?,
                Source::Bytes(b) => b.clone(),
            };
            h.update(Sha256::digest(&bytes));
        }
        h.update(spec.metadata.render().as_bytes());
        h.update(spec.filename.to_string().as_bytes());
        h.update(spec.generator.as_bytes());
        h.update(opts.epoch.to_le_bytes());
        hex::encode(h.finalize())
    };
    let stamp_path = build_dir.join("stamp.json");
    let wheel_path = wheels_dir.join(v.wheel.to_string());
    if opts.object_cache {
        if let Ok(bytes) = fs_err::read(&stamp_path) {
            if let Ok(stamp) = serde_json::from_slice::<Stamp>(&bytes) {
                if stamp.inputs == inputs && stamp.wheel == v.wheel.to_string() {
                    if let Ok((sha, size)) = wheel::sha256_file(&wheel_path) {
                        if sha == stamp.sha256 {
                            let _ = writeln!(
                                log,
                                "up to date: {} (inputs {})",
                                wheel_path.display(),
                                &inputs[..16]
                            );
                            return Ok((
                                Status::UpToDate,
                                Some(v.wheel.to_string()),
                                size,
                                stamp.audited,
                            ));
                        }
                    }
                }
            }
        }
    }

    // Link.
    progress.step(&v.id, &format!("link {lib_name}"));
    fs_err::create_dir_all(&build_dir).map_err(|e| e.to_string())?;
    let lib_path = build_dir.join(lib_name);
    let tmp = build_dir.join(format!(".{lib_name}.tmp-{}", std::process::id()));
    let argv = link.argv(&objects, &tmp, &build_dir);
    let _ = writeln!(log, "$ {}", shell_words(&argv));
    let (ok, out) = run_argv(&argv)?;
    log.extend_from_slice(&out);
    if !ok {
        let _ = fs_err::remove_file(&tmp);
        let first = String::from_utf8_lossy(&out)
            .lines()
            .find(|l| l.contains("error") || l.contains("undefined"))
            .unwrap_or("")
            .to_string();
        return Err(format!("linking {lib_name} failed: {first}"));
    }
    fs_err::rename(&tmp, &lib_path).map_err(|e| e.to_string())?;

    // Audit.
    let audited = if os == Os::Linux {
        progress.step(&v.id, "audit");
        let allowed = Allowed {
            torch_libs: tc.torch.libs.clone(),
            cudart: tc.cuda.cudart.clone(),
            stable_abi: v.is_stable(),
        };
        let report =
            audit::audit_file(&lib_path, &v.platform_tag, &allowed).map_err(|e| e.to_string())?;
        let _ = writeln!(log, "{report}");
        if !report.ok() {
            return Err(report.to_string());
        }
        report.needed.map(|t| t.to_string())
    } else {
        None
    };

    // Wheel.
    progress.step(&v.id, "wheel");
    payload.push(Entry {
        path: format!("{pkg_dir}/{lib_name}"),
        source: Source::File(lib_path),
    });
    let written = wheel::write_wheel(&spec, &payload, wheels_dir, Some(opts.epoch))
        .map_err(|e| e.to_string())?;
    let _ = writeln!(
        log,
        "wrote {} ({} bytes, sha256 {})",
        written.path.display(),
        written.size,
        written.sha256
    );
    if opts.object_cache {
        let stamp = Stamp {
            inputs,
            wheel: v.wheel.to_string(),
            sha256: written.sha256.clone(),
            audited: audited.clone(),
        };
        let tmp = build_dir.join(format!(".stamp.json.tmp-{}", std::process::id()));
        fs_err::write(
            &tmp,
            serde_json::to_vec_pretty(&stamp).expect("serializable"),
        )
        .map_err(|e| e.to_string())?;
        fs_err::rename(&tmp, &stamp_path).map_err(|e| e.to_string())?;
    } else {
        let _ = fs_err::remove_file(&stamp_path);
    }
    Ok((
        Status::Built,
        Some(v.wheel.to_string()),
        written.size,
        audited,
    ))
}

/// The import package under bindings/python: the one directory with an
/// `__init__.py`, else the normalized distribution name.
fn import_package(python_dir: &Path, dist_name: &str) -> String {
    let mut found: Vec<String> = fs_err::read_dir(python_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("__init__.py").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if found.len() == 1 {
        found.remove(0)
    } else {
        dist_name.replace(['-', '.'], "_").to_lowercase()
    }
}

/// The summary table `build-matrix` prints on stdout.
pub fn summary_table(outcomes: &[Outcome]) -> String {
    let header = [
        "variant",
        "status",
        "wheel",
        "size",
        "seconds",
        "kernels reused/compiled",
    ];
    let rows: Vec<[String; 6]> = outcomes
        .iter()
        .map(|o| {
            let status = match &o.status {
                Status::Built => "built".to_string(),
                Status::UpToDate => "up to date".to_string(),
                Status::Failed(_) => "FAILED".to_string(),
                Status::Skipped(why) => format!("skipped: {why}"),
            };
            let skipped = matches!(o.status, Status::Skipped(_));
            [
                o.id.clone(),
                status,
                o.wheel.clone().unwrap_or_else(|| "-".into()),
                if o.size > 0 {
                    format!("{:.1} MiB", o.size as f64 / (1024.0 * 1024.0))
                } else {
                    "-".into()
                },
                if skipped {
                    "-".into()
                } else {
                    format!("{:.1}", o.seconds)
                },
                if skipped {
                    "-".into()
                } else {
                    format!("{}/{}", o.kernels_reused, o.kernels_compiled)
                },
            ]
        })
        .collect();
    let mut out = crate::table::render(header, &rows);
    for o in outcomes {
        if let Status::Failed(msg) = &o.status {
            out.push_str(&format!(
                "\n{} FAILED (log: {}):\n{msg}\n",
                o.id,
                o.log
                    .as_ref()
                    .map_or("-".into(), |p| p.display().to_string())
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(id: &str, status: Status, wheel: Option<&str>, compiled: usize, reused: usize) -> Outcome {
        Outcome {
            id: id.into(),
            status,
            wheel: wheel.map(String::from),
            size: if wheel.is_some() { 3 * 1024 * 1024 } else { 0 },
            seconds: 12.34,
            kernels_compiled: compiled,
            kernels_reused: reused,
            audited: None,
            log: Some(PathBuf::from(format!("dist/logs/{id}.log"))),
        }
    }

    #[test]
    fn summary_names_every_failure_and_skip() {
        let table = summary_table(&[
            o(
                "cu12-torch2.8-linux_x86_64",
                Status::Built,
                Some("a.whl"),
                3,
                0,
            ),
            o(
                "cu12-torch2.9-linux_x86_64",
                Status::UpToDate,
                Some("b.whl"),
                0,
                3,
            ),
            o(
                "cu13-torch2.11-linux_x86_64",
                Status::Failed("compiling kernels/src/x.cu failed".into()),
                None,
                0,
                2,
            ),
            o(
                "cu13-torch2.11-win_amd64",
                Status::Skipped("needs a win_amd64 host (this is linux_x86_64)".into()),
                None,
                0,
                0,
            ),
        ]);
        insta::assert_snapshot!(table, @r"
        variant                      status                                                  wheel  size     seconds  kernels reused/compiled
        cu12-torch2.8-linux_x86_64   built                                                   a.whl  3.0 MiB  12.3     0/3
        cu12-torch2.9-linux_x86_64   up to date                                              b.whl  3.0 MiB  12.3     3/0
        cu13-torch2.11-linux_x86_64  FAILED                                                  -      -        12.3     2/0
        cu13-torch2.11-win_amd64     skipped: needs a win_amd64 host (this is linux_x86_64)  -      -        -        -

        cu13-torch2.11-linux_x86_64 FAILED (log: dist/logs/cu13-torch2.11-linux_x86_64.log):
        compiling kernels/src/x.cu failed
        ");
    }

    #[test]
    fn shell_words_quote_what_needs_it() {
        let argv: Vec<String> = ["g++", "-Wl,-rpath,$ORIGIN", "a b", "-O2"]
            .map(String::from)
            .to_vec();
        assert_eq!(shell_words(&argv), "g++ '-Wl,-rpath,$ORIGIN' 'a b' -O2");
    }
}
