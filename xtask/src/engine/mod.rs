//! The build engine: provision → compile (kernels once per toolkit and arch
//! set, bindings once per torch variant) → link → audit → wheel, for every
//! variant of a plan, in parallel, with a content-addressed object cache.
//!
//! Failures are isolated: a variant whose toolchain, compile, link or audit
//! fails is reported with its log (`<out>/logs/<id>.log`); the others
//! continue. Outputs appear atomically (objects, libraries and stamps are
//! written to a temporary sibling and renamed, `crate::fsx`; wheels by
//! `wheel::write_wheel`), so a killed run leaves nothing that looks complete
//! and a re-run finishes the rest.
//!
//! - [`sources`]: the repo's sources, read once per run; git facts.
//! - [`graph`] (pure): which objects each variant needs, their keys and
//!   paths, which are shared, and the longest-first order.
//! - [`command`] (pure): compiler and linker command lines; [`keys`] (pure):
//!   object-cache keys; [`info`] (pure): `_build_info.py`.
//! - [`run`]: toolchains, host-compiler checks, the scheduler, subprocesses.
//! - `package`: link, audit, wheel and stamp for one variant.
//! - `summary` (pure): the table `build-matrix` prints; [`bench_report`]
//!   (pure): the Markdown `bench-build` writes.

pub mod bench_report;
pub mod command;
pub mod graph;
pub mod info;
pub mod keys;
mod package;
pub mod run;
pub mod sources;
mod summary;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use thiserror::Error;

use crate::audit::{AuditError, AuditReport};
use crate::plan::{HostSupport, Plan, Variant};
use crate::progress::Progress;
use crate::toolchain::msvc::MsvcError;
use crate::toolchain::{Cache, Toolchain, ToolchainError};
use crate::wheel::WheelError;
use graph::{Graph, GraphContext, ObjectKind, VariantJob};
pub use run::{compiler_id, first_compiler_error, shell_words};
pub use sources::{git_commit_time, git_revision, Sources};
pub use summary::summary_table;

/// Why the engine, or one variant in it, failed. A variant's failure is
/// reported as its [`Status::Failed`] text; only a failure before any variant
/// starts (unreadable sources, no log directory) is returned by [`build`].
#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Shell(#[from] xshell::Error),
    #[error("no binding sources: {} has no .cpp files (the torch op registration lives there)", dir.display())]
    NoBindings { dir: PathBuf },
    #[error("no {kind} binding sources: {} has no .cpp files", dir.display())]
    NoKindBindings { kind: &'static str, dir: PathBuf },
    /// uv could not be found or installed (shared by every variant).
    #[error(transparent)]
    Toolchain(Arc<ToolchainError>),
    /// Provisioning a toolkit or torch failed; the whole error is in the log.
    /// Ex) `toolkit: downloading … failed`
    #[error("{what}: {first_line}")]
    Provision {
        what: &'static str,
        first_line: String,
    },
    #[error(transparent)]
    Msvc(Arc<MsvcError>),
    #[error("torch {torch} needs C++{year} ({std_source}), but the host compiler `{cxx}` cannot compile C++{year}: {why}. Use {hint}")]
    CxxStd {
        torch: String,
        year: u32,
        /// Where the standard was read. Ex) `torch/utils/cpp_extension.py: …`
        std_source: String,
        cxx: String,
        why: Arc<EngineError>,
        hint: &'static str,
    },
    /// The host compiler rejected the standard probe: its first error line.
    #[error("{0}")]
    CompilerRejected(String),
    #[error("cannot run `{program}`: {error}")]
    Spawn {
        program: String,
        error: xshell::Error,
    },
    /// The compiler failed: its first error line ([`first_compiler_error`]).
    #[error("compiling {label} failed: {first_error}")]
    Compile { label: String, first_error: String },
    #[error("{label} or a header it includes changed while it was being compiled; run again")]
    SourcesChanged { label: String },
    #[error("{label} was not compiled")]
    NotCompiled { label: String },
    /// Every failed object of a variant, in link order.
    #[error("{}", join_errors(.0))]
    Objects(Vec<Arc<EngineError>>),
    #[error("linking {lib} failed: {first_error}")]
    Link {
        lib: &'static str,
        first_error: String,
    },
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The audit found violations (the report lists them all).
    #[error("{0}")]
    AuditFailed(Box<AuditReport>),
    #[error(transparent)]
    Wheel(#[from] WheelError),
}

fn join_errors(errors: &[Arc<EngineError>]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
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

/// One buildable variant on its way through the engine.
struct Work<'a> {
    v: &'a Variant,
    start: Instant,
    log: Vec<u8>,
    tc: Option<Toolchain>,
    failed: Option<EngineError>,
    /// What it links, once the graph has it.
    job: Option<VariantJob>,
}

impl<'a> Work<'a> {
    fn new(v: &'a Variant) -> Work<'a> {
        Work {
            v,
            start: Instant::now(),
            log: Vec::new(),
            tc: None,
            failed: None,
            job: None,
        }
    }
}

/// Builds every variant of `plan` this host can build.
pub fn build(
    plan: &Plan,
    mode: &ToolchainMode,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Vec<Outcome>, EngineError> {
    let sources = Sources::read(&opts.repo)?;
    let logs_dir = opts.out.join("logs");
    let wheels_dir = opts.out.join("wheels");
    fs_err::create_dir_all(&logs_dir)?;
    let mut works: Vec<Work> = Vec::new();
    let mut outcomes: Vec<Option<Outcome>> = Vec::new();
    for v in &plan.variants {
        match &v.host {
            HostSupport::Yes => {
                works.push(Work::new(v));
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

    // 1. Toolchains (and MSVC for Windows variants).
    run::provision(&mut works, mode, opts, progress);
    let opts = &run::with_windows_tools(&mut works, opts);

    // 2. Compile graph, then compile.
    let graph = plan_graph(&mut works, &sources, opts);
    run::write_compat_source(&graph, opts)?;
    let unit = |owner: usize| works[owner].v.id.to_string();
    let states = run::execute(&graph, &sources, opts, &unit, progress);

    // 3. Link, audit, wheel — per variant.
    let failures: Vec<Mutex<Option<EngineError>>> = works
        .iter_mut()
        .map(|w| Mutex::new(w.failed.take()))
        .collect();
    let packaging = Compiled {
        plan,
        opts,
        graph: &graph,
        states: &states,
        wheels_dir: &wheels_dir,
        progress,
    };
    let finished: Vec<Mutex<Option<Outcome>>> = works.iter().map(|_| Mutex::new(None)).collect();
    let works_ref = &works;
    run::parallel(works.len(), opts.jobs, |wi| {
        let w = &works_ref[wi];
        let mut log = w.log.clone();
        let failed = failures[wi].lock().unwrap().take();
        let r = packaging.finish(w, wi, failed, &mut log);
        let (compiled, reused) = w
            .job
            .iter()
            .flat_map(|j| j.objects.iter())
            .filter(|&&j| graph.jobs[j].kind == ObjectKind::Kernel)
            .fold((0, 0), |(c, r), &j| {
                let did = matches!(*states[j].result.lock().unwrap(), Some(Ok(true)))
                    && graph.jobs[j].owner == wi;
                if did {
                    (c + 1, r)
                } else {
                    (c, r + 1)
                }
            });
        let log_path = logs_dir.join(format!("{}.log", w.v.id));
        let up_to_date = matches!(&r, Ok(p) if p.status == Status::UpToDate);
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
            Ok(p) => Outcome {
                id: w.v.id.to_string(),
                status: p.status,
                wheel: p.wheel,
                size: p.size,
                seconds: w.start.elapsed().as_secs_f64(),
                kernels_compiled: compiled,
                kernels_reused: reused,
                audited: p.audited,
                log: Some(log_path),
            },
            Err(e) => Outcome {
                id: w.v.id.to_string(),
                status: Status::Failed(e.to_string()),
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

/// The compile graph of every work that has a toolchain. A host compiler
/// that lacks the C++ standard torch's headers need fails the variant here
/// (a clear error, not a wall of templates), before anything compiles.
fn plan_graph(works: &mut [Work], sources: &Sources, opts: &Options) -> Graph {
    let cx = GraphContext {
        opts,
        sources,
        cxx_id: compiler_id(&opts.cxx),
        cc_id: compiler_id(&opts.cc),
    };
    let mut graph = Graph::new();
    let mut std_probes: BTreeMap<u32, Result<(), Arc<EngineError>>> = BTreeMap::new();
    for (wi, w) in works.iter_mut().enumerate() {
        let Some(tc) = &w.tc else { continue };
        let os = w.v.platform.os();
        let year = tc.torch.cxx_std.year;
        let probe = std_probes
            .entry(year)
            .or_insert_with(|| run::probe_std(opts, os, year).map_err(Arc::new));
        let _ = writeln!(
            w.log,
            "C++ standard for the binding: C++{year} ({})",
            tc.torch.cxx_std.source
        );
        if let Err(why) = probe {
            w.failed = Some(EngineError::CxxStd {
                torch: tc.torch.version.clone(),
                year,
                std_source: tc.torch.cxx_std.source.clone(),
                cxx: opts.cxx.clone(),
                why: why.clone(),
                hint: command::std_compiler_hint(os, year),
            });
            continue;
        }
        match graph.add_variant(&cx, wi, w.v, tc) {
            Ok(job) => w.job = Some(job),
            Err(e) => w.failed = Some(e),
        }
    }
    graph
}

/// The objects of a variant once every job ran: their paths, or every
/// failure. Objects another variant compiled (or the cache had) are noted
/// as reused in the log.
fn compiled_objects(
    w: &Work,
    wi: usize,
    graph: &Graph,
    states: &[run::JobState],
    log: &mut Vec<u8>,
) -> Result<Vec<PathBuf>, EngineError> {
    let job = w.job.as_ref().expect("no failure means a graph entry");
    let mut failed = Vec::new();
    for &j in &job.objects {
        let (o, state) = (&graph.jobs[j], &states[j]);
        log.extend_from_slice(&state.log.lock().unwrap());
        match &*state.result.lock().unwrap() {
            Some(Ok(compiled)) => {
                if !compiled || o.owner != wi {
                    let _ = writeln!(log, "reused {} ({})", o.label, o.out.display());
                }
            }
            Some(Err(e)) => failed.push(e.clone()),
            None => failed.push(Arc::new(EngineError::NotCompiled {
                label: o.label.clone(),
            })),
        }
    }
    if !failed.is_empty() {
        return Err(EngineError::Objects(failed));
    }
    Ok(job
        .objects
        .iter()
        .map(|&j| graph.jobs[j].out.clone())
        .collect())
}

/// The compiled graph of a run, for packaging its variants.
struct Compiled<'a> {
    plan: &'a Plan,
    opts: &'a Options,
    graph: &'a Graph,
    states: &'a [run::JobState],
    wheels_dir: &'a std::path::Path,
    progress: &'a dyn Progress,
}

impl Compiled<'_> {
    /// Link, audit and wheel for variant `wi` (`failed`: it failed earlier).
    fn finish(
        &self,
        w: &Work,
        wi: usize,
        failed: Option<EngineError>,
        log: &mut Vec<u8>,
    ) -> Result<package::Packaged, EngineError> {
        if let Some(f) = failed {
            return Err(f);
        }
        let objects = compiled_objects(w, wi, self.graph, self.states, log)?;
        let job = w.job.as_ref().expect("compiled objects mean a graph entry");
        package::VariantPackage {
            v: w.v,
            tc: w.tc.as_ref().expect("no failure means a toolchain"),
            opts: self.opts,
            package: &self.plan.package,
            pages: &self.plan.release.pages,
            wheels_dir: self.wheels_dir,
            link: &job.link,
            objects,
            object_keys: job
                .objects
                .iter()
                .map(|&j| self.graph.jobs[j].key.as_str())
                .collect(),
            progress: self.progress,
        }
        .run(log)
    }
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
        .map(Work::new)
        .collect();
    run::provision(&mut works, &ToolchainMode::Hermetic, opts, progress);
    works
        .into_iter()
        .filter_map(|w| w.failed.map(|f| (w.v.id.to_string(), f.to_string())))
        .collect()
}
