//! The summary table of a run: one row per variant, then every failure
//! with its log path. Pure.

use super::{Outcome, Status};

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
    use std::path::PathBuf;

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
}
