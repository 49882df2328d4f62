//! `attnfarm-farm`: the farm as a downloadable tool. `attnfarm-farm build
//! --for-python /path/to/python` builds an attnfarm wheel for exactly that
//! Python's torch, from the sources this binary carries (see
//! `xtask::farm`), and prints the `pip install` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::farm::{self, bundle, Request};
use xtask::platform::{Os, Platform};
use xtask::progress::{Progress, Stderr};
use xtask::toolchain::Cache;
use xtask::versions::SmArch;

/// The sources of this release (kernels/, bindings/, LICENSE, README.md, matrix.yaml).
static SOURCES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sources.bin"));

#[derive(Parser)]
#[command(
    name = "attnfarm-farm",
    version,
    about = "Build an attnfarm wheel for exactly the torch you have (no CUDA install needed)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build (and optionally install) the wheel for one Python's torch.
    Build(BuildCmd),
    /// Unpack the sources this binary carries and print where they are.
    Sources,
}

#[derive(Debug, clap::Args)]
struct BuildCmd {
    /// The Python interpreter whose torch the wheel is for.
    /// Ex) `/path/to/venv/bin/python`, `C:\ComfyUI\python_embeded\python.exe`
    #[arg(long, value_name = "PYTHON")]
    for_python: String,
    /// GPU arches to build (default: the GPUs nvidia-smi reports; without
    /// one, every arch of the release). Ex) `sm_90`, `sm_86,sm_89`
    #[arg(long, value_delimiter = ',')]
    arch: Vec<SmArch>,
    /// Output folder (wheels/, logs/, build/ go under it).
    #[arg(long, default_value = "attnfarm-build")]
    out: PathBuf,
    /// Then install the wheel with that Python's pip.
    #[arg(long)]
    install: bool,
    /// Parallel compile jobs (default: the number of cores).
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
}

fn sources() -> anyhow::Result<PathBuf> {
    let root = Cache::locate().root.join("farm-sources");
    bundle::extract(SOURCES, &root)
}

impl BuildCmd {
    fn run(self) -> anyhow::Result<()> {
        let os = Platform::host().map_or(Os::Linux, |p| p.os());
        let src = sources()?;
        let progress = Stderr::new(2);
        progress.note(&format!(
            "attnfarm-farm {} (sources {}, revision {}) at {}",
            env!("CARGO_PKG_VERSION"),
            bundle::digest(SOURCES),
            short(env!("ATTNFARM_FARM_REVISION")),
            src.display()
        ));
        let req = Request {
            python: self.for_python.clone(),
            arches: self.arch,
            out: self.out,
            jobs: self.jobs,
            sources: src,
            revision: env!("ATTNFARM_FARM_REVISION").to_string(),
            epoch: env!("ATTNFARM_FARM_EPOCH").parse().unwrap_or(315_532_800),
        };
        let report = farm::build_for_python(&req, &progress)?;
        print!(
            "{}",
            xtask::engine::summary_table(std::slice::from_ref(&report.outcome))
        );
        let (Some(wheel), false) = (&report.wheel, report.outcome.failed()) else {
            let why = match &report.outcome.status {
                xtask::engine::Status::Failed(w) => w.clone(),
                s => format!("{s:?}"),
            };
            let log = report
                .outcome
                .log
                .as_ref()
                .map(|l| {
                    std::path::absolute(l)
                        .unwrap_or(l.clone())
                        .display()
                        .to_string()
                })
                .unwrap_or_else(|| "(none)".into());
            anyhow::bail!(
                "the build of {} failed: {why}\nfull log: {log}",
                report.variant.id
            );
        };
        let cmd = farm::quoted(&farm::pip_install_argv(&self.for_python, wheel), os);
        println!();
        println!(
            "torch:   {} ({})",
            report.torch.version,
            report.torch.root.display()
        );
        println!(
            "arches:  {} ({})",
            report
                .variant
                .arches
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            report.arch_source
        );
        println!("wheel:   {}", wheel.display());
        if self.install {
            progress.note(&format!("installing: {cmd}"));
            farm::install(&self.for_python, wheel)?;
            println!("installed into {}; check it with:", self.for_python);
            println!(
                "  {}",
                farm::quoted(
                    &[self.for_python.clone(), "-m".into(), "attnfarm".into()],
                    os
                )
            );
        } else {
            println!("install it with:");
            println!("  {cmd}");
        }
        Ok(())
    }
}

fn short(rev: &str) -> &str {
    &rev[..rev.len().min(12)]
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(c) => c.run(),
        Command::Sources => sources().map(|p| println!("{}", p.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
