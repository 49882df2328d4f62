//! Reading a wheel back: its name, metadata, and whether RECORD matches the
//! bytes. Used by the index (Requires-Python, metadata files) and by publish
//! (nothing leaves unverified).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::filename::{escape_name, FilenameError, WheelFilename};
use super::metadata::{parse_record, record_hash};

#[derive(Debug, Error)]
pub enum InspectError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Filename(#[from] FilenameError),
    #[error("{}: not a readable zip: {source}", path.display())]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error("{}: {}", path.display(), problems.join("; "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// What a verified wheel says about itself.
#[derive(Debug, Clone)]
pub struct WheelInfo {
    pub filename: WheelFilename,
    /// The METADATA file's bytes (served as `<wheel>.metadata`, PEP 658).
    pub metadata: Vec<u8>,
    /// METADATA fields (last value wins; multi-valued fields are not needed).
    pub fields: BTreeMap<String, String>,
    /// Paths of every entry, in zip order.
    pub entries: Vec<String>,
}

impl WheelInfo {
    pub fn requires_python(&self) -> Option<&str> {
        self.fields.get("Requires-Python").map(String::as_str)
    }
}

/// Opens a wheel and checks it against the binary distribution format:
/// name and version in METADATA equal the file name's, WHEEL tags match,
/// every entry has a RECORD row with the right hash and size, no extra rows,
/// dist-info last and RECORD final. All problems are reported together.
pub fn inspect_wheel(path: &Path) -> Result<WheelInfo, InspectError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let filename: WheelFilename = file_name.parse()?;
    let zerr = |source| InspectError::Zip {
        path: path.to_path_buf(),
        source,
    };
    let mut zip = zip::ZipArchive::new(fs_err::File::open(path)?).map_err(zerr)?;
    let dist_info = filename.dist_info();
    let mut problems = Vec::new();
    let mut contents: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(zerr)?;
        if f.is_dir() {
            problems.push(format!("directory entry `{}`", f.name()));
            continue;
        }
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        contents.push((f.name().to_string(), bytes));
    }
    let find = |name: &str| {
        contents
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.clone())
    };
    let metadata = find(&format!("{dist_info}/METADATA"));
    let wheel = find(&format!("{dist_info}/WHEEL"));
    let record = find(&format!("{dist_info}/RECORD"));
    let mut fields = BTreeMap::new();
    match &metadata {
        None => problems.push(format!("no {dist_info}/METADATA")),
        Some(m) => {
            let text = String::from_utf8_lossy(m);
            for line in text.lines() {
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(": ") {
                    fields.insert(k.to_string(), v.to_string());
                }
            }
            let name = fields.get("Name").map(|n| escape_name(n));
            if name.as_deref() != Some(filename.name.file_form().as_str()) {
                problems.push(format!(
                    "METADATA Name {:?} does not match the file name's `{}`",
                    fields.get("Name"),
                    filename.name.file_form()
                ));
            }
            if fields.get("Version").map(String::as_str) != Some(filename.version.as_str()) {
                problems.push(format!(
                    "METADATA Version {:?} does not match the file name's `{}`",
                    fields.get("Version"),
                    filename.version
                ));
            }
        }
    }
    match &wheel {
        None => problems.push(format!("no {dist_info}/WHEEL")),
        Some(w) => {
            let text = String::from_utf8_lossy(w);
            let tags: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("Tag: "))
                .collect();
            let want = filename.tags();
            if tags != want.iter().map(String::as_str).collect::<Vec<_>>() {
                problems.push(format!(
                    "WHEEL tags {tags:?} do not match the file name's {want:?}"
                ));
            }
        }
    }
    let dist_prefixes: Vec<String> = contents
        .iter()
        .filter_map(|(n, _)| {
            n.split('/')
                .next()
                .filter(|c| c.ends_with(".dist-info"))
                .map(String::from)
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if dist_prefixes != [dist_info.clone()] {
        problems.push(format!(
            "expected exactly one dist-info `{dist_info}`, found {dist_prefixes:?}"
        ));
    }
    if let Some(first_di) = contents
        .iter()
        .position(|(n, _)| n.starts_with(&format!("{dist_info}/")))
    {
        if contents[first_di..]
            .iter()
            .any(|(n, _)| !n.starts_with(&format!("{dist_info}/")))
        {
            problems.push("payload entries follow the dist-info entries".to_string());
        }
    }
    if contents.last().map(|(n, _)| n.as_str()) != Some(&format!("{dist_info}/RECORD")) {
        problems.push("RECORD is not the last entry".to_string());
    }
    match record
        .as_deref()
        .map(|r| parse_record(&String::from_utf8_lossy(r)))
    {
        None => problems.push(format!("no {dist_info}/RECORD")),
        Some(Err(e)) => problems.push(e.to_string()),
        Some(Ok(rows)) => {
            let record_path = format!("{dist_info}/RECORD");
            let mut listed = std::collections::BTreeSet::new();
            for (p, hash, size) in &rows {
                if !listed.insert(p.clone()) {
                    problems.push(format!("RECORD lists `{p}` twice"));
                }
                if *p == record_path {
                    continue;
                }
                match contents.iter().find(|(n, _)| n == p) {
                    None => problems.push(format!("RECORD lists `{p}`, which is not in the wheel")),
                    Some((_, bytes)) => {
                        if record_hash(bytes) != *hash {
                            problems.push(format!("`{p}`: hash differs from RECORD"));
                        }
                        if *size != Some(bytes.len() as u64) {
                            problems.push(format!("`{p}`: size differs from RECORD"));
                        }
                    }
                }
            }
            for (n, _) in &contents {
                if !listed.contains(n) {
                    problems.push(format!("`{n}` is not listed in RECORD"));
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.sort();
        problems.dedup();
        return Err(InspectError::Invalid {
            path: path.to_path_buf(),
            problems,
        });
    }
    Ok(WheelInfo {
        filename,
        metadata: metadata.unwrap_or_default(),
        fields,
        entries: contents.into_iter().map(|(n, _)| n).collect(),
    })
}
