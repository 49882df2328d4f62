//! Wheel writing: a payload plus metadata → one reproducible `.whl`, written
//! atomically. `filename` and `metadata` are pure; this module does the I/O.
//!
//! Layout of the zip: payload entries sorted by path, then `.dist-info/`
//! (METADATA, WHEEL, licenses/…, RECORD last). Every entry has the same
//! timestamp (`SOURCE_DATE_EPOCH`, clamped to 1980-01-01), fixed permissions
//! (0644; 0755 for shared libraries), DEFLATE.

pub mod filename;
pub mod inspect;
pub mod metadata;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

use filename::WheelFilename;
use metadata::{record_hash, render_record, render_wheel_file, CoreMetadata};

#[derive(Debug, Error)]
pub enum WheelError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("zip error writing {path}: {source}")]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error("unsafe path `{path}` in wheel {wheel}: {why}")]
    UnsafePath {
        wheel: String,
        path: String,
        why: &'static str,
    },
    #[error("wheel {wheel}: `{path}` is listed twice")]
    Duplicate { wheel: String, path: String },
    #[error("staging directory {} contains a symbolic link `{}`; wheels carry plain files only", dir.display(), link.display())]
    Symlink { dir: PathBuf, link: PathBuf },
    #[error("metadata of {wheel} does not match its file name: {what}")]
    Inconsistent { wheel: String, what: String },
}

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl Source {
    fn read(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Source::File(p) => fs_err::read(p),
            Source::Bytes(b) => Ok(b.clone()),
        }
    }
}

/// One file in the wheel, at a `/`-separated path relative to the root.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub source: Source,
}

impl Entry {
    pub fn bytes(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Entry {
        Entry {
            path: path.into(),
            source: Source::Bytes(bytes.into()),
        }
    }
}

/// What to write.
#[derive(Debug, Clone)]
pub struct WheelSpec {
    pub filename: WheelFilename,
    pub metadata: CoreMetadata,
    /// `Generator:` of the WHEEL file.
    pub generator: String,
    /// Files copied to `.dist-info/licenses/<name>`; names must match
    /// `metadata.license_files`.
    pub licenses: Vec<Entry>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenWheel {
    pub path: PathBuf,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: String,
    pub size: u64,
}

/// Seconds since the Unix epoch from `SOURCE_DATE_EPOCH`, else None.
pub fn source_date_epoch() -> Option<u64> {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The earliest time a zip entry can carry.
const ZIP_EPOCH: u64 = 315_532_800; // 1980-01-01T00:00:00Z

fn zip_time(epoch: u64) -> zip::DateTime {
    let t = epoch.max(ZIP_EPOCH);
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = if m <= 2 { y + 1 } else { y };
    let year = y.min(2107) as u16;
    zip::DateTime::from_date_and_time(
        year,
        m,
        d,
        (secs / 3600) as u8,
        ((secs % 3600) / 60) as u8,
        // DOS time has two-second resolution.
        ((secs % 60) & !1) as u8,
    )
    .unwrap_or_default()
}

fn check_path(wheel: &str, path: &str) -> Result<(), WheelError> {
    let bad = |why| {
        Err(WheelError::UnsafePath {
            wheel: wheel.to_string(),
            path: path.to_string(),
            why,
        })
    };
    if path.is_empty() {
        return bad("empty path");
    }
    if path.starts_with('/') || path.starts_with('\\') || path.as_bytes().get(1) == Some(&b':') {
        return bad("absolute path");
    }
    if path.contains('\\') {
        return bad("backslash in path (use `/`)");
    }
    if path
        .split('/')
        .any(|c| c == ".." || c == "." || c.is_empty())
    {
        return bad("`..`, `.` or empty component");
    }
    Ok(())
}

/// Entries for every file under `dir`, paths relative to it, sorted.
pub fn payload_from_dir(dir: &Path) -> Result<Vec<Entry>, WheelError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d)? {
            let e = e?;
            let ft = e.file_type()?;
            let p = e.path();
            if ft.is_symlink() {
                return Err(WheelError::Symlink {
                    dir: dir.to_path_buf(),
                    link: p,
                });
            } else if ft.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir");
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push(Entry {
                    path: rel,
                    source: Source::File(p),
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn is_library(path: &str) -> bool {
    path.ends_with(".so")
        || path.contains(".so.")
        || path.ends_with(".pyd")
        || path.ends_with(".dll")
}

/// Writes `out_dir/<filename>` atomically and returns its digest.
pub fn write_wheel(
    spec: &WheelSpec,
    payload: &[Entry],
    out_dir: &Path,
    epoch: Option<u64>,
) -> Result<WrittenWheel, WheelError> {
    let wheel_name = spec.filename.to_string();
    if spec.metadata.version != spec.filename.version {
        return Err(WheelError::Inconsistent {
            wheel: wheel_name,
            what: format!(
                "Version `{}` vs file name version `{}`",
                spec.metadata.version, spec.filename.version
            ),
        });
    }
    if filename::escape_name(&spec.metadata.name) != spec.filename.name.file_form() {
        return Err(WheelError::Inconsistent {
            wheel: wheel_name,
            what: format!(
                "Name `{}` vs file name `{}`",
                spec.metadata.name,
                spec.filename.name.file_form()
            ),
        });
    }
    let dist_info = spec.filename.dist_info();
    let mut seen = BTreeSet::new();
    for e in payload {
        check_path(&wheel_name, &e.path)?;
        if e.path
            .split('/')
            .next()
            .is_some_and(|c| c.ends_with(".dist-info"))
        {
            return Err(WheelError::UnsafePath {
                wheel: wheel_name,
                path: e.path.clone(),
                why: "payload may not write into a .dist-info directory",
            });
        }
        if !seen.insert(e.path.to_ascii_lowercase()) {
            return Err(WheelError::Duplicate {
                wheel: wheel_name,
                path: e.path.clone(),
            });
        }
    }
    let mut license_names = Vec::new();
    for l in &spec.licenses {
        check_path(&wheel_name, &l.path)?;
        license_names.push(l.path.clone());
    }
    if license_names != spec.metadata.license_files {
        return Err(WheelError::Inconsistent {
            wheel: wheel_name,
            what: format!(
                "License-File {:?} vs files {:?}",
                spec.metadata.license_files, license_names
            ),
        });
    }

    let mut sorted: Vec<&Entry> = payload.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));

    let mut trailer: Vec<Entry> = vec![
        Entry::bytes(format!("{dist_info}/METADATA"), spec.metadata.render()),
        Entry::bytes(
            format!("{dist_info}/WHEEL"),
            render_wheel_file(&spec.filename, &spec.generator),
        ),
    ];
    for l in &spec.licenses {
        trailer.push(Entry {
            path: format!("{dist_info}/licenses/{}", l.path),
            source: l.source.clone(),
        });
    }

    fs_err::create_dir_all(out_dir)?;
    let final_path = out_dir.join(&wheel_name);
    let tmp_path = crate::fsx::temp_sibling(&final_path);
    let result = (|| -> Result<(), WheelError> {
        let file = fs_err::File::create(&tmp_path)?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let time = zip_time(epoch.unwrap_or(ZIP_EPOCH));
        let zerr = |source| WheelError::Zip {
            path: tmp_path.clone(),
            source,
        };
        let mut rows = Vec::new();
        let add =
            |zip: &mut zip::ZipWriter<_>, path: &str, bytes: &[u8]| -> Result<(), WheelError> {
                let mode = if is_library(path) { 0o755 } else { 0o644 };
                let opts = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .compression_level(Some(6))
                    .last_modified_time(time)
                    .unix_permissions(mode);
                zip.start_file(path, opts).map_err(zerr)?;
                zip.write_all(bytes)?;
                Ok(())
            };
        for e in sorted.iter().copied().chain(trailer.iter()) {
            let bytes = e.source.read()?;
            add(&mut zip, &e.path, &bytes)?;
            rows.push((e.path.clone(), record_hash(&bytes), bytes.len() as u64));
        }
        let record_path = format!("{dist_info}/RECORD");
        let record = render_record(&rows, &record_path);
        add(&mut zip, &record_path, record.as_bytes())?;
        let writer = zip.finish().map_err(zerr)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs_err::remove_file(&tmp_path);
        return Err(e);
    }
    let (sha256, size) = sha256_file(&tmp_path)?;
    fs_err::rename(&tmp_path, &final_path)?;
    Ok(WrittenWheel {
        path: final_path,
        sha256,
        size,
    })
}

/// File names of the finished wheels in `dir` (temporary files of an
/// interrupted write start with `.` and are left out), sorted. A missing
/// directory holds none.
pub fn list_wheels(dir: &Path) -> std::io::Result<Vec<String>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for e in fs_err::read_dir(dir)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".whl") && !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Lower-case hex sha256 and size of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = fs_err::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((hex::encode(h.finalize()), size))
}

#[cfg(test)]
mod tests;
