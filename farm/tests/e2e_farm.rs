//! The downloadable tool for real, gated like the other real-build tests
//! (`ATTNFARM_E2E=1 cargo test -p attnfarm-farm`: network on first use,
//! minutes; without it the test is reported ignored): in a temporary folder outside the repository, make a venv,
//! install torch 2.11.0 with its dependencies (uv, the default index), run
//! the built `attnfarm-farm build --for-python <venv python> --arch sm_90
//! --install` there, then import attnfarm in that venv and run
//! `python -m attnfarm` (no GPU needed).
//!
//! Always (no network): the binary's errors for a missing interpreter and a
//! Python without torch, as a user sees them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn farm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attnfarm-farm"))
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attnfarm-farm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_missing_interpreter_is_a_clear_error() {
    let dir = temp("cli-missing");
    let o = farm()
        .current_dir(&dir)
        .args([
            "build",
            "--for-python",
            "/nonexistent/python",
            "--arch",
            "sm_90",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("error: cannot run `/nonexistent/python`: "),
        "{}",
        text(&o)
    );
    assert!(o.stdout.is_empty(), "{}", text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sources_are_carried_inside_the_binary() {
    let dir = temp("cli-sources");
    let o = farm().current_dir(&dir).arg("sources").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let src = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
    for f in [
        "matrix.yaml",
        "LICENSE",
        "README.md",
        "kernels/include/attnfarm/kernels.h",
        "bindings/python/attnfarm/__init__.py",
    ] {
        assert!(src.join(f).is_file(), "{f} not in {}", src.display());
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert_eq!(
        std::fs::read(src.join("matrix.yaml")).unwrap(),
        std::fs::read(repo.join("matrix.yaml")).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

#[test]
#[cfg_attr(
    not(attnfarm_e2e),
    ignore = "real build (network, minutes): set ATTNFARM_E2E=1"
)]
fn builds_and_installs_a_wheel_for_a_venvs_torch_from_outside_the_repo() {
    let work = temp("e2e");
    let venv = work.join("venv");
    let o = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python3 (with venv) is needed for this test");
    assert!(o.status.success(), "python3 -m venv: {}", text(&o));
    let py = venv_python(&venv);
    let mut log = Vec::new();
    let uv = xtask::toolchain::Cache::locate()
        .uv(&mut log)
        .unwrap_or_else(|e| panic!("uv is needed for this test: {e}"));
    let o = Command::new(&uv)
        .args(["pip", "install", "--no-config", "--python"])
        .arg(&py)
        .arg("torch==2.11.0")
        .output()
        .unwrap();
    assert!(o.status.success(), "uv pip install torch: {}", text(&o));

    let o = farm()
        .current_dir(&work)
        .args(["build", "--for-python"])
        .arg(&py)
        .args(["--arch", "sm_90", "--out", "out", "--install", "-j", "2"])
        .output()
        .unwrap();
    eprintln!("{}", text(&o));
    assert!(o.status.success(), "attnfarm-farm build: {}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("provisioning CUDA 13.0 toolkit"),
        "{stderr}"
    );
    assert!(stdout.contains("cu13-torch2.11-linux_x86_64"), "{stdout}");
    let wheels: Vec<PathBuf> = std::fs::read_dir(work.join("out/wheels"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    let name = wheels[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("attnfarm-2026.1.0+cu130torch2.11-cp39-abi3-manylinux_"),
        "{name}"
    );
    assert!(
        stdout.contains(&format!("wheel:   {}", wheels[0].display())),
        "{stdout}"
    );
    assert!(stdout.contains("installed into"), "{stdout}");

    // The installed package is the wheel's, in the venv, and it loads there.
    let o = Command::new(&py)
        .current_dir(&work)
        .args([
            "-c",
            "import attnfarm, attnfarm._build_info as b; print(attnfarm.__file__); print(b.SASS_ARCHES)",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "import attnfarm: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines()
            .next()
            .unwrap()
            .starts_with(&venv.display().to_string()),
        "{out}"
    );
    assert!(out.contains("['sm_90']"), "{out}");
    let o = Command::new(&py)
        .current_dir(&work)
        .args(["-m", "attnfarm"])
        .output()
        .unwrap();
    assert!(o.status.success(), "python -m attnfarm: {}", text(&o));
    eprintln!("{}", String::from_utf8_lossy(&o.stdout));
    std::fs::remove_dir_all(&work).unwrap();
}
