//! Real clients judge real outputs: a wheel written by the farm, indexed by
//! the farm, served on loopback by `python3 -m http.server`, installed by real
//! pip (by name, with `--require-hashes`, and from the file) and real uv.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xtask::index::{write_index, BaseUrl};
use xtask::matrix::Matrix;
use xtask::plan::Plan;
use xtask::platform::Platform;
use xtask::wheel::metadata::{parse_record, CoreMetadata};
use xtask::wheel::{write_wheel, Entry, WheelSpec, WrittenWheel};

const VARIANT: &str = "cu12-torch2.9-linux_x86_64";
const OTHER: &str = "cu13-torchstable2.10-linux_x86_64";

fn plan() -> Plan {
    let m = Matrix::load(Path::new(xtask::testing::FIXTURE_MATRIX_PATH)).unwrap();
    Plan::from_matrix(&m, Some(Platform::LinuxX86_64))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attnfarm-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fixture_wheel(plan: &Plan, id: &str, wheels: &Path) -> WrittenWheel {
    let v = plan.find(id).unwrap();
    let spec = WheelSpec {
        filename: v.wheel.clone(),
        metadata: CoreMetadata {
            name: plan.package.name.clone(),
            version: v.version.clone(),
            summary: plan.package.summary.clone(),
            license_expression: plan.package.license.clone(),
            license_files: vec!["LICENSE".into()],
            requires_dist: v.requires_dist.clone(),
            requires_python: v.requires_python.clone(),
            project_urls: plan.package.urls.clone(),
            description: Some("# attnfarm\nfixture\n".into()),
        },
        generator: "attnfarm-xtask test".into(),
        licenses: vec![Entry::bytes("LICENSE", "Apache-2.0 text\n")],
    };
    let payload = vec![
        Entry::bytes("attnfarm/__init__.py", format!("VARIANT = {:?}\n", v.id)),
        Entry::bytes(
            "attnfarm/_build_info.py",
            format!("VERSION = {:?}\n", v.version),
        ),
        Entry::bytes("attnfarm/_C.abi3.so", vec![0u8; 64]),
    ];
    write_wheel(&spec, &payload, wheels, Some(1_700_000_000)).unwrap()
}

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 must be on PATH");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Server(child, port)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn pip() -> Command {
    let mut c = Command::new("python3");
    c.args([
        "-m",
        "pip",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "install",
        "--no-deps",
        "--no-compile",
    ]);
    // Only the index we name; ignore any configured extra sources.
    c.env("PIP_CONFIG_FILE", "/dev/null");
    c.env_remove("PIP_FIND_LINKS");
    c.env_remove("PIP_EXTRA_INDEX_URL");
    c
}

/// The installed tree matches RECORD and the wheel's payload.
fn check_installed(target: &Path, plan: &Plan, id: &str) {
    let v = plan.find(id).unwrap();
    let init = std::fs::read_to_string(target.join("attnfarm/__init__.py")).unwrap();
    assert_eq!(
        init,
        format!("VARIANT = {:?}\n", id),
        "the right variant was installed"
    );
    let record_path = target.join(v.wheel.dist_info()).join("RECORD");
    let record = std::fs::read_to_string(&record_path).unwrap();
    let rows = parse_record(&record).unwrap();
    for (path, hash, size) in rows {
        if hash.is_empty() {
            continue;
        }
        let bytes = std::fs::read(target.join(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(xtask::wheel::metadata::record_hash(&bytes), hash, "{path}");
        assert_eq!(Some(bytes.len() as u64), size, "{path}");
    }
    let meta = std::fs::read_to_string(target.join(v.wheel.dist_info()).join("METADATA")).unwrap();
    assert!(meta.contains(&format!("Version: {}\n", v.version)));
    assert!(target
        .join(v.wheel.dist_info())
        .join("licenses/LICENSE")
        .is_file());
}

fn uv() -> PathBuf {
    if let Ok(p) = std::env::var("ATTNFARM_UV") {
        return PathBuf::from(p);
    }
    let mut log = Vec::new();
    xtask::toolchain::cache::Cache::locate()
        .uv(&mut log)
        .unwrap_or_else(|e| {
            panic!(
                "uv is found or installed by the farm: {e}\n{}",
                String::from_utf8_lossy(&log)
            )
        })
}

#[test]
fn pip_and_uv_install_from_the_local_index() {
    let plan = plan();
    let dist = tmp("clients");
    let w = fixture_wheel(&plan, VARIANT, &dist.join("wheels"));
    fixture_wheel(&plan, OTHER, &dist.join("wheels"));
    write_index(&plan, &dist, BaseUrl::Local, None).unwrap();
    let server = serve(&dist);
    let index = format!("http://127.0.0.1:{}/index/{VARIANT}/simple/", server.1);

    // pip, by name from the variant's index.
    let t = dist.join("t-pip");
    run(pip()
        .args(["--index-url", &index, "--target"])
        .arg(&t)
        .arg("attnfarm"));
    check_installed(&t, &plan, VARIANT);

    // pip with --require-hashes: the index's sha256 must match the bytes.
    let t = dist.join("t-pip-hashes");
    let req = dist.join("requirements.txt");
    let v = plan.find(VARIANT).unwrap();
    std::fs::write(
        &req,
        format!("attnfarm=={} --hash=sha256:{}\n", v.version, w.sha256),
    )
    .unwrap();
    run(pip()
        .args(["--require-hashes", "--index-url", &index, "--target"])
        .arg(&t)
        .arg("-r")
        .arg(&req));
    check_installed(&t, &plan, VARIANT);

    // A wrong hash is refused (the check is real).
    let t = dist.join("t-pip-badhash");
    std::fs::write(
        &req,
        format!("attnfarm=={} --hash=sha256:{}\n", v.version, "0".repeat(64)),
    )
    .unwrap();
    let out = pip()
        .args(["--require-hashes", "--index-url", &index, "--target"])
        .arg(&t)
        .arg("-r")
        .arg(&req)
        .output()
        .unwrap();
    assert!(!out.status.success(), "pip accepted a wrong hash");

    // uv, by name from the other variant's index: gets that variant.
    let t = dist.join("t-uv");
    let other_index = format!("http://127.0.0.1:{}/index/{OTHER}/simple/", server.1);
    run(Command::new(uv())
        .args([
            "pip",
            "install",
            "--no-deps",
            "--no-cache",
            "--python",
            "python3",
            "--index-url",
            &other_index,
            "--target",
        ])
        .arg(&t)
        .arg("attnfarm"));
    check_installed(&t, &plan, OTHER);

    // pip, directly from the wheel file.
    let t = dist.join("t-file");
    run(pip().arg("--target").arg(&t).arg(&w.path));
    check_installed(&t, &plan, VARIANT);
    drop(server);
}

/// install.py, the user's install helper, picks its variant from the
/// `variants.json` the farm writes (the entries' kind, torch, CUDA major and
/// platform): the per-minor wheel for its torch minor, else the stable wheel
/// whose floor is at or below its torch.
#[test]
fn install_helper_picks_from_the_farms_variants_json() {
    let plan = plan();
    let dist = tmp("helper");
    fixture_wheel(&plan, VARIANT, &dist.join("wheels"));
    fixture_wheel(&plan, OTHER, &dist.join("wheels"));
    let helper = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../install/install.py");
    write_index(&plan, &dist, BaseUrl::Local, Some(&helper)).unwrap();
    let server = serve(&dist);
    let base = format!("http://127.0.0.1:{}/index/", server.1);
    let pick = |torch: &str, cuda: &str| {
        let out = run(Command::new("python3").arg(&helper).args([
            "--base",
            &base,
            "--dry-run",
            "--fake-torch",
            torch,
            "--fake-cuda",
            cuda,
            "--fake-platform",
            "linux_x86_64",
            "--fake-arch",
            "none",
        ]));
        out.lines()
            .find_map(|l| l.trim().strip_prefix("variant   "))
            .unwrap_or_else(|| panic!("no variant line:\n{out}"))
            .split(' ')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(pick("2.9.1+cu128", "12.8"), VARIANT);
    assert_eq!(pick("2.13.0+cu130", "13.0"), OTHER);
    drop(server);
}
