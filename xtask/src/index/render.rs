//! HTML of the per-variant PEP 503 indexes and the landing page. Pure.

use std::fmt::Write;

use super::site::VariantEntry;

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

pub use crate::fsx::html_escape as escape;

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

/// A CSS identifier from a value. Ex) `2.9` → `2_9`
fn css_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn platform_label(p: &str) -> &str {
    match p {
        "linux_x86_64" => "Linux x86_64",
        "linux_aarch64" => "Linux aarch64",
        "win_amd64" => "Windows x64",
        other => other,
    }
}

fn torch_key(t: &str) -> (u32, u32) {
    let (a, b) = t.split_once('.').unwrap_or((t, "0"));
    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
}

/// The selector: platform, torch and CUDA radio buttons and, for each
/// variant, its install commands, shown by CSS (`:has`) when its three
/// buttons are chosen. No script: without `:has` support the selector stays
/// hidden and the table below does the job.
fn selector(project: &str, entries: &[VariantEntry]) -> (String, String) {
    let mut platforms: Vec<&str> = Vec::new();
    for e in entries {
        if !platforms.contains(&e.platform.as_str()) {
            platforms.push(&e.platform);
        }
    }
    let mut torches: Vec<&str> = entries
        .iter()
        .flat_map(|e| e.torch_minors.iter().map(String::as_str))
        .collect();
    torches.sort_by_key(|t| std::cmp::Reverse(torch_key(t)));
    torches.dedup();
    let mut cudas: Vec<u32> = entries.iter().map(|e| e.cuda_major).collect();
    cudas.sort_unstable_by(|a, b| b.cmp(a));
    cudas.dedup();
    // Chosen at first: the newest torch on the first platform, its CUDA.
    let first = entries
        .iter()
        .filter(|e| e.platform == platforms[0])
        .flat_map(|e| e.torch_minors.iter().map(move |t| (e, t.as_str())))
        .max_by_key(|(e, t)| (torch_key(t), e.cuda_major));
    let (p0, t0, c0) = first.map_or(("", "", 0), |(e, t)| (e.platform.as_str(), t, e.cuda_major));
    let mut css = String::from(".sel{display:none}\n@supports selector(body:has(a)){\n.sel{display:block}\n.sel .cmd{display:none}\n");
    let mut html = String::from("<form class=\"sel\" aria-label=\"Find your install command\">\n");
    let group = |html: &mut String,
                 legend: &str,
                 name: &str,
                 items: Vec<(String, String, bool)>| {
        let _ = write!(html, "<fieldset><legend>{legend}</legend>");
        for (id, label, checked) in items {
            let _ = write!(
                html,
                "<input type=\"radio\" name=\"{name}\" id=\"{id}\"{}><label for=\"{id}\">{}</label>",
                if checked { " checked" } else { "" },
                escape(&label)
            );
        }
        html.push_str("</fieldset>\n");
    };
    group(
        &mut html,
        "Platform",
        "platform",
        platforms
            .iter()
            .map(|p| {
                (
                    format!("p-{}", css_id(p)),
                    platform_label(p).to_string(),
                    *p == p0,
                )
            })
            .collect(),
    );
    group(
        &mut html,
        "torch",
        "torch",
        torches
            .iter()
            .map(|t| (format!("t-{}", css_id(t)), t.to_string(), *t == t0))
            .collect(),
    );
    group(
        &mut html,
        "CUDA of your torch (<code>torch.version.cuda</code>)",
        "cuda",
        cudas
            .iter()
            .map(|c| (format!("c-{c}"), format!("{c}.x"), *c == c0))
            .collect(),
    );
    html.push_str("<div class=\"out\">\n");
    for e in entries {
        let (pip, uv) = install_commands(project, &e.index_url);
        for t in &e.torch_minors {
            let chosen = format!(
                "body:has(#p-{}:checked):has(#t-{}:checked):has(#c-{}:checked)",
                css_id(&e.platform),
                css_id(t),
                e.cuda_major
            );
            let _ = writeln!(css, "{chosen} #cmd-{}{{display:block}}", css_id(&e.id));
            let _ = writeln!(css, "{chosen} .none{{display:none}}");
        }
        let _ = writeln!(
            html,
            "<div class=\"cmd\" id=\"cmd-{}\" data-variant=\"{}\"><pre><code>{}</code></pre><pre><code>{}</code></pre><small>variant <code>{}</code>, wheel {}</small></div>",
            css_id(&e.id),
            escape(&e.id),
            escape(&pip),
            escape(&uv),
            escape(&e.id),
            escape(&e.newest().file)
        );
    }
    html.push_str("<p class=\"none\">No wheel for this combination. Pick the torch and CUDA you have; the table below lists every variant.</p>\n</div>\n</form>\n");
    css.push_str("}\n");
    (css, html)
}

/// `index.html` at the root: the selector, then every variant with its
/// install commands and newest wheel. `version`: the highest version on the
/// site.
pub fn landing_page(
    project: &str,
    version: &str,
    entries: &[VariantEntry],
    helper: bool,
) -> String {
    let (sel_css, sel_html) = selector(project, entries);
    let mut out = format!(
        "{HEAD}<title>{p} {v} wheels</title>\n<style>\nbody{{font-family:sans-serif;margin:2em;max-width:80em}}\ntable{{border-collapse:collapse}}\ntd,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}\ncode{{white-space:nowrap}}\n.tbl{{overflow-x:auto}}\n.tbl td:nth-child(2),.tbl td:nth-child(3){{white-space:nowrap}}\nfieldset{{border:0;padding:.2em 0;margin:0}}\nlegend{{font-weight:bold;padding:0;float:left;width:14em}}\n.sel input{{position:absolute;opacity:0}}\n.sel label{{display:inline-block;border:1px solid #999;border-radius:3px;padding:.2em .7em;margin:0 .3em .3em 0;cursor:pointer}}\n.sel input:checked+label{{background:#ee4c2c;border-color:#ee4c2c;color:#fff}}\n.sel input:focus-visible+label{{outline:2px solid #000}}\n.out{{clear:both;background:#f6f6f6;padding:.5em 1em;margin:.5em 0 1.5em}}\n.out pre{{margin:.3em 0}}\n{sel_css}</style>\n</head>\n<body>\n<h1>{p} {v}</h1>\n",
        p = escape(project),
        v = escape(version)
    );
    out.push_str(
        "<p>One package index per variant: choose the platform, torch and CUDA you have \
         (<code>python -c \"import torch; print(torch.__version__, torch.version.cuda)\"</code>). \
         A <code>cu12</code> wheel serves torch built for CUDA 12.6, 12.8 or 12.9 alike; \
         <code>cu13</code> serves CUDA 13.x builds. Install torch first; these commands never \
         change it.</p>\n",
    );
    if entries
        .iter()
        .any(|e| super::urls::is_relative(&e.index_url))
    {
        out.push_str(
            "<p>This is a local index: its links and index URLs are relative to this page, \
             and the wheels lie in <code>../wheels/</code>. Serve the directory above this one \
             (e.g. <code>python -m http.server</code> there) and put the URL of this page's \
             directory in front of an index URL, or run the commands from this directory.</p>\n",
        );
    }
    out.push_str(&sel_html);
    if helper {
        out.push_str(
            "<p>Or let the helper pick for you: download <a href=\"install.py\">install.py</a> and run \
             <code>python install.py</code> with the Python that has torch (<code>--dry-run</code> \
             prints the command instead of running it).</p>\n",
        );
    }
    out.push_str("<p>Machine-readable: <a href=\"variants.json\">variants.json</a>.</p>\n");
    out.push_str("<h2>Every variant</h2>\n<div class=\"tbl\">\n<table>\n<tr><th>variant</th><th>torch</th><th>CUDA</th><th>platform</th><th>Python</th><th>install</th><th>newest wheel</th></tr>\n");
    for e in entries {
        let (pip, uv) = install_commands(project, &e.index_url);
        let w = e.newest();
        let _ = writeln!(
            out,
            "<tr id=\"{id}\"><td><code>{id}</code></td><td>{torch}</td><td>{major} (toolkit {tk})</td><td>{plat}</td><td>{py}</td><td><code>{pip}</code><br><code>{uv}</code></td><td><a href=\"{url}\">{file}</a><br><small>sha256 {sha}</small>{older}</td></tr>",
            id = escape(&e.id),
            torch = escape(&if e.kind == super::site::STABLE {
                format!("{} and later", e.torch)
            } else {
                format!("{}.x", e.torch)
            }),
            major = e.cuda_major,
            tk = escape(&e.toolkit),
            plat = escape(&e.platform),
            py = escape(e.requires_python.as_deref().unwrap_or("")),
            pip = escape(&pip),
            uv = escape(&uv),
            url = escape(&w.url),
            file = escape(&w.file),
            sha = w.sha256,
            older = match e.wheels.len() {
                1 => String::new(),
                n => format!("<br><small>and {} older in the index</small>", n - 1),
            },
        );
    }
    out.push_str("</table>\n</div>\n</body>\n</html>\n");
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
