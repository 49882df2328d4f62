//! Packs the sources a wheel build needs into `$OUT_DIR/sources.bin`
//! (format: `xtask::farm::bundle`), and records the source revision and
//! commit time, so the binary builds its own release's sources anywhere.
//! Also sets the `attnfarm_e2e` cfg under `ATTNFARM_E2E=1`, as xtask's
//! build script does: without it the real-build test is reported ignored.

use std::path::{Path, PathBuf};

/// Relative to the workspace root: whole trees and single files.
const TREES: &[&str] = &["kernels", "bindings/csrc", "bindings/python"];
const FILES: &[&str] = &["LICENSE", "README.md", "matrix.yaml"];
/// Inside those trees, what a build never reads (measurement notes and
/// scripts for developers).
const SKIP: &[&str] = &["kernels/notes"];

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == "__pycache__" || name.ends_with(".pyc") || name.starts_with('.') {
            continue;
        }
        if SKIP.iter().any(|s| p == root.join(s)) {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.push(p);
        }
    }
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=ATTNFARM_E2E");
    println!("cargo:rustc-check-cfg=cfg(attnfarm_e2e)");
    if std::env::var("ATTNFARM_E2E").is_ok_and(|v| v == "1") {
        println!("cargo:rustc-cfg=attnfarm_e2e");
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().expect("workspace root").to_path_buf();
    let mut files = Vec::new();
    for t in TREES {
        let d = root.join(t);
        println!("cargo:rerun-if-changed={}", d.display());
        walk(&root, &d, &mut files);
    }
    for f in FILES {
        let p = root.join(f);
        println!("cargo:rerun-if-changed={}", p.display());
        files.push(p);
    }
    let mut bundle = Vec::new();
    for p in &files {
        let rel = p
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        bundle.extend_from_slice(&(rel.len() as u32).to_le_bytes());
        bundle.extend_from_slice(rel.as_bytes());
        bundle.extend_from_slice(&(data.len() as u64).to_le_bytes());
        bundle.extend_from_slice(&data);
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("sources.bin"), &bundle).unwrap();
    // The revision: ATTNFARM_REVISION (a build from a source archive), else git.
    println!("cargo:rerun-if-env-changed=ATTNFARM_REVISION");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A new commit moves the branch's ref (or packed-refs), not HEAD itself.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watch.extend(git(&root, &["symbolic-ref", "-q", "HEAD"]));
    for w in watch {
        if let Some(p) = git(&root, &["rev-parse", "--git-path", &w]) {
            let p = root.join(p);
            // A missing file would make cargo rerun this script every build.
            if p.is_file() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    let revision = std::env::var("ATTNFARM_REVISION")
        .ok()
        .or_else(|| git(&root, &["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .or_else(|| git(&root, &["log", "-1", "--format=%ct"]))
        .unwrap_or_else(|| "315532800".into());
    println!("cargo:rustc-env=ATTNFARM_FARM_REVISION={revision}");
    println!("cargo:rustc-env=ATTNFARM_FARM_EPOCH={epoch}");
}
