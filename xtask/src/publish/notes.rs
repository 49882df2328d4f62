//! Release notes from the plan and the build summaries (pure): what the
//! release holds (variant, torch, toolkit, platform, Python, arches, wheel)
//! and what is missing and why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::plan::Plan;

/// What the notes are made from.
#[derive(Debug, Clone)]
pub struct NotesInput<'a> {
    /// The full plan (every variant of the matrix).
    pub plan: &'a Plan,
    /// Wheel file names this release holds.
    pub wheels: BTreeSet<String>,
    /// Variant id → that build job's summary (stdout and stderr of build-matrix).
    pub summaries: BTreeMap<String, String>,
    /// Matrix excludes, as text. Ex) `CUDA 12 on win_amd64`
    pub excluded: Vec<String>,
    /// The workflow run the build logs are attached to.
    pub run_url: Option<String>,
}

/// The notes (Markdown) and the ids of the plan variants without a wheel.
pub fn release_notes(input: &NotesInput<'_>) -> (String, Vec<String>) {
    let plan = input.plan;
    let mut out = format!("## {} {}\n\n", plan.package.name, plan.package.version);
    let _ = write!(
        out,
        "Install: choose your platform, torch and CUDA on {pages} and copy the command \
         (or run `python install.py` from there). Every wheel is `cp39-abi3`, requires \
         the torch minor it was built for, and is listed with its sha256 in `SHA256SUMS`.\n\n",
        pages = plan.release.pages
    );
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for v in &plan.variants {
        if input.wheels.contains(&v.wheel.to_string()) {
            present.push(v);
        } else {
            missing.push(v);
        }
    }
    let _ = writeln!(
        out,
        "### {} of {} variants\n\n| variant | torch | CUDA toolkit | platform | Python | arches | wheel |\n|---|---|---|---|---|---|---|",
        present.len(),
        plan.variants.len()
    );
    for v in &present {
        let arches = v
            .arches
            .iter()
            .map(|a| a.to_string().trim_start_matches("sm_").to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let ptx = v.ptx.map(|p| format!(" + PTX {p}")).unwrap_or_default();
        let torch = match v.kind {
            crate::plan::VariantKind::PerMinor => {
                format!("{}.x (built with {})", v.torch, v.torch_build)
            }
            crate::plan::VariantKind::Stable => {
                format!(
                    "{} and later (stable ABI, built with {})",
                    v.torch, v.torch_build
                )
            }
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | `{}` | {}{} | `{}` |",
            v.id, torch, v.toolkit, v.platform, v.requires_python, arches, ptx, v.wheel
        );
    }
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "\n### Missing from this release ({} of {})\n\n| variant | why |\n|---|---|",
            missing.len(),
            plan.variants.len()
        );
        for v in &missing {
            let _ = writeln!(out, "| `{}` | {} |", v.id, why_missing(input, &v.id));
        }
    }
    if !input.excluded.is_empty() {
        let _ = writeln!(
            out,
            "\n### Not built by design (matrix.yaml `exclude`)\n\n{}",
            input
                .excluded
                .iter()
                .map(|e| format!("- {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    (out, missing.iter().map(|v| v.id.to_string()).collect())
}

/// The reason from the build summary: lines that name the variant and say
/// it failed, else the last error line, else that there was no summary.
fn why_missing(input: &NotesInput<'_>, id: &str) -> String {
    let logs = match &input.run_url {
        Some(u) => format!(" (build log: artifact `logs-{id}` of {u})"),
        None => format!(" (build log: artifact `logs-{id}`)"),
    };
    let Some(summary) = input.summaries.get(id) else {
        return format!(
            "the build job left no summary: it failed before building or was cancelled{logs}"
        );
    };
    let lines: Vec<&str> = summary
        .lines()
        .map(str::trim)
        .filter(|l| {
            let low = l.to_ascii_lowercase();
            low.contains("fail") || low.starts_with("error")
        })
        .filter(|l| !l.starts_with("variant "))
        .collect();
    let text = if lines.is_empty() {
        "the build did not produce a wheel".to_string()
    } else {
        lines
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!("{}{logs}", text.replace('|', "\\|"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    fn plan() -> Plan {
        let m = Matrix::parse("matrix.yaml", crate::testing::FIXTURE_MATRIX).unwrap();
        Plan::from_matrix(&m, None)
    }

    #[test]
    fn lists_present_missing_and_why() {
        let plan = plan();
        let mut wheels: BTreeSet<String> =
            plan.variants.iter().map(|v| v.wheel.to_string()).collect();
        let gone = plan.find("cu13-torchstable2.10-win_amd64").unwrap();
        let silent = plan.find("cu12-torch2.7-linux_x86_64").unwrap();
        wheels.remove(&gone.wheel.to_string());
        wheels.remove(&silent.wheel.to_string());
        let mut summaries = BTreeMap::new();
        summaries.insert(
            gone.id.to_string(),
            format!(
                "variant  status\n{id}  FAILED  -\nerror: 1 variant(s) failed: {id} | link\n",
                id = gone.id
            ),
        );
        let (text, missing) = release_notes(&NotesInput {
            plan: &plan,
            wheels,
            summaries,
            excluded: vec!["CUDA 12 on win_amd64".into()],
            run_url: Some("https://github.com/attnfarm/attnfarm/actions/runs/1".into()),
        });
        assert_eq!(
            missing,
            [
                "cu12-torch2.7-linux_x86_64",
                "cu13-torchstable2.10-win_amd64"
            ]
        );
        let n = plan.variants.len();
        assert!(
            text.contains(&format!("### {} of {n} variants", n - 2)),
            "{text}"
        );
        assert!(text.contains("| `cu12-torch2.9-linux_x86_64` | 2.9.x (built with 2.9.1) | 12.8 | linux_x86_64 | `>=3.10` | 80, 86, 89, 90, 100, 120 + PTX sm_120 | `attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl` |"), "{text}");
        assert!(text.contains("| `cu13-torchstable2.10-linux_x86_64` | 2.10 and later (stable ABI, built with 2.10.0) |"), "{text}");
        assert!(
            text.contains(&format!("### Missing from this release (2 of {n})")),
            "{text}"
        );
        assert!(text.contains("| `cu13-torchstable2.10-win_amd64` | cu13-torchstable2.10-win_amd64 FAILED -; error: 1 variant(s) failed: cu13-torchstable2.10-win_amd64 \\| link (build log: artifact `logs-cu13-torchstable2.10-win_amd64` of https://github.com/attnfarm/attnfarm/actions/runs/1) |"), "{text}");
        assert!(
            text.contains("| `cu12-torch2.7-linux_x86_64` | the build job left no summary"),
            "{text}"
        );
        assert!(text.contains("- CUDA 12 on win_amd64"), "{text}");
    }
}
