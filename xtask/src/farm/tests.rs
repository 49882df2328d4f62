use super::*;
use crate::progress::Silent;

fn matrix() -> Matrix {
    crate::testing::fixture_matrix()
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attnfarm-farm-{name}-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&d);
    fs_err::create_dir_all(&d).unwrap();
    d
}

/// A stand-in interpreter: a shell script that prints `stdout`, `stderr`
/// and exits with `code`, whatever it is asked.
#[cfg(unix)]
fn fake_python(dir: &Path, stdout: &str, stderr: &str, code: i32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("python");
    fs_err::write(
        &p,
        format!(
            "#!/bin/sh\ncat <<'EOF'\n{stdout}\nEOF\ncat >&2 <<'EOF'\n{stderr}\nEOF\nexit {code}\n"
        ),
    )
    .unwrap();
    fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

fn request(python: &str, out: &Path) -> Request {
    Request {
        python: python.into(),
        arches: vec!["sm_90".parse().unwrap()],
        out: out.to_path_buf(),
        jobs: Some(1),
        sources: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")),
        revision: "test".into(),
        epoch: 315_532_800,
    }
}

#[test]
fn missing_interpreter_is_named() {
    let err = probe("/nonexistent/bin/python").unwrap_err();
    assert!(matches!(err, FarmError::NoPython { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot run `/nonexistent/bin/python`: "),
        "{msg}"
    );
    assert!(
        msg.contains("pass --for-python the path of the Python interpreter"),
        "{msg}"
    );
}

#[cfg(unix)]
#[test]
fn python_without_torch_says_install_torch() {
    let d = temp("notorch");
    let py = fake_python(
        &d,
        "",
        "Traceback (most recent call last):\nModuleNotFoundError: No module named 'torch'",
        1,
    );
    let err = build_for_python(&request(&py, &d.join("out")), &Silent).unwrap_err();
    assert!(matches!(err, FarmError::NoTorch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(
            "has no usable torch (`import torch` failed); install torch into that Python first"
        ),
        "{msg}"
    );
    assert!(msg.contains("No module named 'torch'"), "{msg}");
    fs_err::remove_dir_all(&d).unwrap();
}

#[cfg(unix)]
#[test]
fn cpu_only_torch_is_refused() {
    let d = temp("cpu");
    let py = fake_python(
        &d,
        r#"{"version": "2.11.0+cpu", "cuda": null, "root": "/x/torch", "cxx11_abi": true}"#,
        "",
        0,
    );
    let err = build_for_python(&request(&py, &d.join("out")), &Silent).unwrap_err();
    assert!(matches!(err, FarmError::CpuTorch { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("torch 2.11.0+cpu in `{py}` is a CPU-only build (torch.version.cuda is None): attnfarm's kernels need a CUDA build of torch; install one (e.g. from the torch index for your CUDA) and run again")
    );
    fs_err::remove_dir_all(&d).unwrap();
}

#[cfg(unix)]
#[test]
fn cuda_major_without_toolkit_is_refused() {
    let d = temp("cu11");
    let py = fake_python(
        &d,
        r#"{"version": "2.4.1+cu118", "cuda": "11.8", "root": "/x/torch", "cxx11_abi": false}"#,
        "",
        0,
    );
    let err = build_for_python(&request(&py, &d.join("out")), &Silent).unwrap_err();
    let FarmError::NoToolkit { available, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(available, "12, 13");
    assert_eq!(
        err.to_string(),
        format!("torch 2.4.1+cu118 in `{py}` was built with CUDA 11.8, but this farm pins toolkits only for CUDA 12, 13 on linux_x86_64 (matrix.yaml `toolkits`): use a torch built for one of those")
    );
    fs_err::remove_dir_all(&d).unwrap();
}

#[test]
fn missing_compiler_says_how_to_get_one() {
    let err = check_compiler(Os::Linux, "/nonexistent/g++").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no C++ compiler: `/nonexistent/g++ --version` does not run. Install g++ (Debian/Ubuntu: `sudo apt install g++`, \
         Fedora/RHEL: `sudo dnf install gcc-c++`) or set CXX (and CC) to a C++17 compiler that links libstdc++ dynamically"
    );
}

#[test]
fn missing_msvc_points_at_build_tools() {
    // A shell without Visual Studio's environment and no override.
    let msg = check_compiler_in(Os::Windows, "cl.exe", &|_| None)
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("no C++ compiler: MSVC not found"), "{msg}");
    assert!(
        msg.contains("Install the Visual Studio Build Tools (free) with the \"Desktop development with C++\" workload"),
        "{msg}"
    );
    assert!(
        msg.contains("winget install Microsoft.VisualStudio.2022.BuildTools"),
        "{msg}"
    );
    assert!(msg.contains("x64 Native Tools Command Prompt"), "{msg}");
}

#[test]
fn picks_the_toolkit_of_the_torch_cuda_major() {
    let plan = Plan::from_matrix(&matrix(), Some(Platform::LinuxX86_64));
    let host = Platform::LinuxX86_64;
    let t = |torch: &str, cuda: &str| {
        toolkit_for(&plan, host, torch.parse().unwrap(), cuda.parse().unwrap())
            .map(|s| s.cuda.to_string())
    };
    assert_eq!(t("2.11", "13.0").as_deref(), Some("13.0"));
    // A torch the matrix does not list (a nightly) still gets its major's toolkit.
    assert_eq!(t("2.13", "13.2").as_deref(), Some("13.0"));
    assert_eq!(t("2.9", "12.6").map(|s| s.starts_with("12.")), Some(true));
    assert_eq!(t("2.4", "11.8"), None);
    assert_eq!(toolkit_majors(&plan, host), "12, 13");
}

#[test]
fn parses_nvidia_smi_compute_caps() {
    let a = parse_compute_caps("9.0\n8.6\n9.0\n[N/A]\n");
    let names: Vec<String> = a.iter().map(|a| a.to_string()).collect();
    assert_eq!(names, ["sm_90", "sm_86"]);
    assert!(parse_compute_caps("").is_empty());
}

#[test]
fn install_command_is_exact_and_quoted() {
    let argv = pip_install_argv(
        "/opt/my env/bin/python",
        Path::new("/w/attnfarm-2026.1.0+cu130torch2.11-cp39-abi3-manylinux_2_36_x86_64.whl"),
    );
    assert_eq!(
        quoted(&argv, Os::Linux),
        "'/opt/my env/bin/python' -m pip install --no-deps --force-reinstall \
         /w/attnfarm-2026.1.0+cu130torch2.11-cp39-abi3-manylinux_2_36_x86_64.whl"
    );
    let argv = pip_install_argv(
        "C:\\Comfy UI\\python_embeded\\python.exe",
        Path::new("C:\\w\\attnfarm.whl"),
    );
    assert_eq!(
        quoted(&argv, Os::Windows),
        "\"C:\\Comfy UI\\python_embeded\\python.exe\" -m pip install --no-deps --force-reinstall C:\\w\\attnfarm.whl"
    );
}
