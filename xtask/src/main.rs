//! `cargo xtask …`: parses flags and dispatches to the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::cmd;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "attnfarm's build farm", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Expand matrix.yaml into the plan: every variant, wheel name, toolkit, torch.
    Plan(cmd::plan::PlanCmd),
    /// Build every variant this host can build: toolchains, compile, link, audit, wheel, index.
    BuildMatrix(cmd::build_matrix::BuildMatrixCmd),
    /// Time a cold farm build vs per-variant rebuilds vs a no-op re-run (not a test).
    BenchBuild(cmd::bench_build::BenchBuildCmd),
    /// Load-test built wheels: pip-install each from the farm's index under its own torch, import, check ops (no GPU).
    Verify(cmd::verify::VerifyCmd),
    /// Write the per-variant pip indexes, landing page and SHA256SUMS from dist/wheels.
    Index(cmd::index::IndexCmd),
    /// Upload dist/ to the GitHub Release (draft, verify digests, publish); safe to re-run.
    Publish(cmd::publish::PublishCmd),
    /// Write the release notes from the plan and build summaries; fails on missing variants unless --allow-partial.
    ReleaseNotes(cmd::release_notes::ReleaseNotesCmd),
    /// Write .github/workflows/ from the plan; `--check` fails if they are stale.
    Ci(cmd::ci::CiCmd),
}

/// Exit code for bad input (a malformed matrix, bad flags): 2, like clap.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plan(c) => c.run(),
        Command::BuildMatrix(c) => c.run(),
        Command::BenchBuild(c) => c.run(),
        Command::Verify(c) => c.run(),
        Command::Index(c) => c.run(),
        Command::Publish(c) => c.run(),
        Command::ReleaseNotes(c) => c.run(),
        Command::Ci(c) => c.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e.downcast_ref::<xtask::matrix::MatrixError>().is_some()
                || e.downcast_ref::<xtask::plan::PlanError>().is_some();
            eprintln!("error: {e:#}");
            ExitCode::from(if usage { EXIT_USAGE } else { 1 })
        }
    }
}
