use super::*;
use crate::wheel::inspect::inspect_wheel;

fn spec() -> WheelSpec {
    crate::testing::wheel_spec("cu128torch2.9", "manylinux_2_28_x86_64", "torch>=2.9,<2.10")
}

fn payload() -> Vec<Entry> {
    vec![
        Entry::bytes("attnfarm/_C.abi3.so", vec![0x7f, b'E', b'L', b'F', 1, 2, 3]),
        Entry::bytes("attnfarm/__init__.py", "from ._ops import *\n"),
        Entry::bytes("attnfarm/_ops.py", "x = 1\n"),
    ]
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attnfarm-wheel-{name}-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&d);
    fs_err::create_dir_all(&d).unwrap();
    d
}

#[test]
fn layout_and_record() {
    let out = tmp("layout");
    let w = write_wheel(&spec(), &payload(), &out, Some(1_700_000_000)).unwrap();
    let info = inspect_wheel(&w.path).unwrap();
    let di = "attnfarm-2026.1.0+cu128torch2.9.dist-info";
    assert_eq!(
        info.entries,
        [
            "attnfarm/_C.abi3.so".to_string(),
            "attnfarm/__init__.py".into(),
            "attnfarm/_ops.py".into(),
            format!("{di}/METADATA"),
            format!("{di}/WHEEL"),
            format!("{di}/licenses/LICENSE"),
            format!("{di}/RECORD"),
        ]
    );
    assert_eq!(info.requires_python(), Some(">=3.10"));
    // Modes and timestamps are fixed.
    let mut z = zip::ZipArchive::new(fs_err::File::open(&w.path).unwrap()).unwrap();
    for i in 0..z.len() {
        let f = z.by_index(i).unwrap();
        let want = if f.name().ends_with(".so") {
            0o100755
        } else {
            0o100644
        };
        assert_eq!(f.unix_mode(), Some(want), "{}", f.name());
        let t = f.last_modified().unwrap();
        assert_eq!(
            (t.year(), t.month(), t.day()),
            (2023, 11, 14),
            "{}",
            f.name()
        );
    }
    let (sha, size) = sha256_file(&w.path).unwrap();
    assert_eq!((sha, size), (w.sha256.clone(), w.size));
    // No temporary file is left behind.
    let names: Vec<_> = fs_err::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn reproducible_across_directories() {
    let (a, b) = (tmp("repro-a"), tmp("repro-b"));
    // Payload from real staging directories created in different orders.
    let stage_a = a.join("stage");
    let stage_b = b.join("stage");
    for (stage, order) in [(&stage_a, [0, 1, 2]), (&stage_b, [2, 0, 1])] {
        for i in order {
            let e = &payload()[i];
            let p = stage.join(&e.path);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            let Source::Bytes(bytes) = &e.source else {
                unreachable!()
            };
            fs_err::write(&p, bytes).unwrap();
        }
    }
    let wa = write_wheel(
        &spec(),
        &payload_from_dir(&stage_a).unwrap(),
        &a.join("out"),
        Some(1_700_000_000),
    )
    .unwrap();
    let wb = write_wheel(
        &spec(),
        &payload_from_dir(&stage_b).unwrap(),
        &b.join("out"),
        Some(1_700_000_000),
    )
    .unwrap();
    assert_eq!(
        fs_err::read(&wa.path).unwrap(),
        fs_err::read(&wb.path).unwrap()
    );
    assert_eq!(wa.sha256, wb.sha256);
    // A different epoch changes the bytes (the timestamp is really used).
    let wc = write_wheel(&spec(), &payload(), &a.join("out2"), Some(1_800_000_000)).unwrap();
    assert_ne!(wa.sha256, wc.sha256);
}

#[test]
fn epoch_is_clamped_to_1980() {
    let t = zip_time(0);
    assert_eq!((t.year(), t.month(), t.day()), (1980, 1, 1));
    let t = zip_time(951_782_401); // 2000-02-29T00:00:01Z
    assert_eq!((t.year(), t.month(), t.day(), t.second()), (2000, 2, 29, 0));
}

#[test]
fn refuses_unsafe_paths() {
    let out = tmp("unsafe");
    for (path, why) in [
        ("/etc/passwd", "absolute path"),
        ("../evil.py", "`..`, `.` or empty component"),
        ("attnfarm/../../x", "`..`, `.` or empty component"),
        ("C:/x", "absolute path"),
        ("a\\b", "backslash in path (use `/`)"),
        (
            "attnfarm-1.0.dist-info/RECORD",
            "payload may not write into a .dist-info directory",
        ),
    ] {
        let mut p = payload();
        p.push(Entry::bytes(path, "x"));
        match write_wheel(&spec(), &p, &out, None) {
            Err(WheelError::UnsafePath { why: w, .. }) => assert_eq!(w, why, "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    let mut p = payload();
    p.push(Entry::bytes("attnfarm/_ops.py", "dup"));
    insta::assert_snapshot!(write_wheel(&spec(), &p, &out, None).unwrap_err(), @"wheel attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl: `attnfarm/_ops.py` is listed twice");
    assert_eq!(
        fs_err::read_dir(&out).unwrap().count(),
        0,
        "nothing written on refusal"
    );
}

#[test]
fn refuses_inconsistent_metadata() {
    let out = tmp("inconsistent");
    let mut s = spec();
    s.metadata.version = "2026.1.0".parse().unwrap();
    insta::assert_snapshot!(write_wheel(&s, &payload(), &out, None).unwrap_err(), @"metadata of attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl does not match its file name: Version `2026.1.0` vs file name version `2026.1.0+cu128torch2.9`");
}

#[test]
fn inspect_catches_tampering() {
    let out = tmp("tamper");
    let w = write_wheel(&spec(), &payload(), &out, None).unwrap();
    // Rewrite the wheel with one payload file changed but the old RECORD.
    let mut z = zip::ZipArchive::new(fs_err::File::open(&w.path).unwrap()).unwrap();
    let bad = out.join("bad").join(w.path.file_name().unwrap());
    fs_err::create_dir_all(bad.parent().unwrap()).unwrap();
    let mut zw = zip::ZipWriter::new(fs_err::File::create(&bad).unwrap());
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if f.name() == "attnfarm/_ops.py" {
            bytes = b"x = 2\n".to_vec();
        }
        zw.start_file(f.name(), zip::write::SimpleFileOptions::default())
            .unwrap();
        zw.write_all(&bytes).unwrap();
    }
    zw.finish().unwrap();
    let e = inspect_wheel(&bad).unwrap_err().to_string();
    assert!(
        e.ends_with("`attnfarm/_ops.py`: hash differs from RECORD"),
        "{e}"
    );
}
