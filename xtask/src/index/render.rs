//! HTML of the per-variant PEP 503 indexes and the landing page. Pure.

use std::fmt::Write;

use crate::plan::{Variant, VariantKind};

/// One wheel as a link on a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLink {
    /// Exact file name (the link text).
    pub file: String,
    /// Where the link points (absolute or relative), without fragment.
    pub url: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    pub requires_python: Option<String>,
    /// sha256 of the `<file>.metadata` file that really exists beside it.
    pub metadata_sha256: Option<String>,
}

/// A variant's index and how to install from it.
#[derive(Debug, Clone)]
pub struct VariantPage<'a> {
    pub variant: &'a Variant,
    pub files: Vec<FileLink>,
    /// URL of this variant's `simple/` root as users type it.
    pub index_url: String,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a file name for a URL path segment. `+` becomes `%2B`
/// so no server or client can read it as a space.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const HEAD: &str = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"pypi:repository-version\" content=\"1.0\">\n";

/// `<variant>/simple/index.html`: the root listing the one project.
pub fn root_page(project: &str) -> String {
    format!(
        "{HEAD}<title>Simple index</title>\n</head>\n<body>\n<a href=\"{p}/\">{p}</a>\n</body>\n</html>\n",
        p = escape(project)
    )
}

/// `<variant>/simple/<project>/index.html`: one anchor per file.
pub fn project_page(project: &str, files: &[FileLink]) -> String {
    let mut out = format!(
        "{HEAD}<title>Links for {p}</title>\n</head>\n<body>\n<h1>Links for {p}</h1>\n",
        p = escape(project)
    );
    for f in files {
        let _ = write!(out, "<a href=\"{}#sha256={}\"", escape(&f.url), f.sha256);
        if let Some(rp) = &f.requires_python {
            let _ = write!(out, " data-requires-python=\"{}\"", escape(rp));
        }
        if let Some(m) = &f.metadata_sha256 {
            let _ = write!(
                out,
                " data-dist-info-metadata=\"sha256={m}\" data-core-metadata=\"sha256={m}\""
            );
        }
        let _ = writeln!(out, ">{}</a><br>", escape(&f.file));
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The exact install commands for one variant. Only attnfarm comes from our
/// index (`--index-url`, never `--extra-index-url`: that would let another
/// index's `attnfarm` win); torch must already be installed and satisfies
/// the `torch>=M.m,<M.m+1` requirement without being touched.
pub fn install_commands(project: &str, index_url: &str) -> (String, String) {
    (
        format!("python -m pip install --index-url {index_url} {project}"),
        format!("uv pip install --index-url {index_url} {project}"),
    )
}

/// `index.html` at the root: every variant with its install commands.
pub fn landing_page(
    project: &str,
    version: &str,
    pages: &[VariantPage<'_>],
    helper: bool,
) -> String {
    let mut out = format!(
        "{HEAD}<title>{p} {v} wheels</title>\n<style>\nbody{{font-family:sans-serif;margin:2em}}\ntable{{border-collapse:collapse}}\ntd,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}\ncode{{white-space:nowrap}}\n</style>\n</head>\n<body>\n<h1>{p} {v}</h1>\n",
        p = escape(project),
        v = escape(version)
    );
    out.push_str(
        "<p>One package index per variant: pick the row that matches the torch you have \
         (<code>python -c \"import torch; print(torch.__version__)\"</code>) and your platform. \
         A <code>cu12</code> wheel serves torch built for CUDA 12.6, 12.8 or 12.9 alike; \
         <code>cu13</code> serves CUDA 13.x builds. Install torch first; these commands never \
         change it.</p>\n",
    );
    if helper {
        out.push_str(
            "<p>Or let the helper pick for you: download <a href=\"install.py\">install.py</a> and run \
             <code>python install.py</code> with the Python that has torch (<code>--dry-run</code> \
             prints the command instead of running it).</p>\n",
        );
    }
    out.push_str("<table>\n<tr><th>variant</th><th>torch</th><th>CUDA</th><th>platform</th><th>Python</th><th>install</th><th>wheel</th></tr>\n");
    for page in pages {
        let v = page.variant;
        let (pip, uv) = install_commands(project, &page.index_url);
        let files = page
            .files
            .iter()
            .map(|f| {
                format!(
                    "<a href=\"{}\">{}</a><br><small>sha256 {}</small>",
                    escape(&f.url),
                    escape(&f.file),
                    f.sha256
                )
            })
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            out,
            "<tr id=\"{id}\"><td><code>{id}</code></td><td>{torch}</td><td>{major} (toolkit {tk})</td><td>{plat}</td><td>{py}</td><td><code>{pip}</code><br><code>{uv}</code></td><td>{files}</td></tr>",
            id = escape(&v.id),
            torch = match v.kind {
                VariantKind::PerMinor => format!("{}.x (built with {})", v.torch, v.torch_build),
                VariantKind::Stable => format!(
                    "{} and later (stable ABI, built with {})",
                    v.torch, v.torch_build
                ),
            },
            major = v.cuda_major(),
            tk = v.toolkit,
            plat = v.platform,
            py = escape(&v.requires_python),
            pip = escape(&pip),
            uv = escape(&uv),
        );
    }
    out.push_str("</table>\n</body>\n</html>\n");
    out
}

/// `SHA256SUMS`: `<hex>  <file>` lines, sorted by file name.
pub fn sha256sums(entries: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
        .iter()
        .map(|(file, hex)| format!("{hex}  {file}\n"))
        .collect()
}
