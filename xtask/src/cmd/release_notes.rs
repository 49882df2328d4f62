//! `cargo xtask release-notes`: the release notes from the plan, the wheels
//! in `dist/wheels/` and the build jobs' summaries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::bail;

use super::MatrixArgs;
use crate::plan::Plan;
use crate::publish::notes::{release_notes, NotesInput};

/// Write the release notes: every variant in the release, and the ones
/// missing with the reason from their build summary. Fails when a variant
/// is missing unless `--allow-partial`.
#[derive(Debug, clap::Args)]
pub struct ReleaseNotesCmd {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// The output root holding `wheels/`.
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// Folder of `<variant-id>.txt` build summaries (what build-matrix printed).
    #[arg(long)]
    pub summaries: Option<PathBuf>,
    /// Where to write the notes (Markdown). Default: stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Publish what built even if variants are missing (the notes list them).
    #[arg(long)]
    pub allow_partial: bool,
}

impl ReleaseNotesCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let m = self.matrix.load()?;
        let plan = Plan::from_matrix(&m, None);
        let wheels: BTreeSet<String> = crate::wheel::list_wheels(&self.dist.join("wheels"))?
            .into_iter()
            .collect();
        let mut summaries = BTreeMap::new();
        if let Some(dir) = &self.summaries {
            if dir.is_dir() {
                for e in fs_err::read_dir(dir)? {
                    let p = e?.path();
                    if let (Some(stem), Some("txt")) = (
                        p.file_stem().and_then(|s| s.to_str()),
                        p.extension().and_then(|s| s.to_str()),
                    ) {
                        summaries.insert(stem.to_string(), fs_err::read_to_string(&p)?);
                    }
                }
            }
        }
        let excluded = m
            .exclude
            .iter()
            .map(|e| {
                let mut parts = Vec::new();
                if let Some(c) = e.cuda {
                    parts.push(format!("CUDA {c}"));
                }
                match e.torch {
                    Some(crate::matrix::TorchSel::Minor(t)) => parts.push(format!("torch {t}")),
                    Some(crate::matrix::TorchSel::Stable) => parts.push("stable-ABI".into()),
                    None => {}
                }
                if let Some(p) = e.platform {
                    parts.push(format!("on {p}"));
                }
                parts.join(" ")
            })
            .collect();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let run_url = match (
            env("GITHUB_SERVER_URL"),
            env("GITHUB_REPOSITORY"),
            env("GITHUB_RUN_ID"),
        ) {
            (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
            _ => None,
        };
        let (text, missing) = release_notes(&NotesInput {
            plan: &plan,
            wheels,
            summaries,
            excluded,
            run_url,
        });
        match &self.out {
            Some(p) => fs_err::write(p, &text)?,
            None => print!("{text}"),
        }
        if !missing.is_empty() {
            if self.allow_partial {
                eprintln!(
                    "note: partial release: {} variant(s) missing, listed in the notes: {}",
                    missing.len(),
                    missing.join(", ")
                );
            } else {
                bail!(
                    "{} variant(s) of the plan have no wheel: {}; fix their builds, or publish the rest on purpose with --allow-partial (the release workflow's allow-partial input)",
                    missing.len(),
                    missing.join(", ")
                );
            }
        }
        Ok(())
    }
}
