//! The text files of a wheel's `.dist-info`: METADATA, WHEEL, RECORD. Pure.

use std::collections::BTreeMap;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::filename::WheelFilename;
use crate::names::PackageName;
use crate::versions::{RequiresPython, Version};

/// Core metadata (2.4: License-Expression and License-File).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreMetadata {
    /// Written as the name displays (its PEP 503 normalised form, as the
    /// matrix's `package.name` validates to). Ex) `attnfarm`
    pub name: PackageName,
    /// The wheel's version, local label included. Ex) `2026.1.0+cu128torch2.9`
    pub version: Version,
    pub summary: String,
    /// SPDX expression. Ex) `Apache-2.0`
    pub license_expression: String,
    /// Paths relative to `.dist-info/licenses/`.
    pub license_files: Vec<String>,
    /// Ex) `torch>=2.9,<2.10`
    pub requires_dist: Vec<String>,
    /// Ex) `>=3.10`
    pub requires_python: RequiresPython,
    pub project_urls: BTreeMap<String, String>,
    /// Long description (Markdown) and its content type.
    pub description: Option<String>,
}

impl CoreMetadata {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut field = |k: &str, v: &str| {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push('\n');
        };
        field("Metadata-Version", "2.4");
        field("Name", self.name.as_str());
        field("Version", self.version.as_str());
        field("Summary", &self.summary);
        field("License-Expression", &self.license_expression);
        for f in &self.license_files {
            field("License-File", f);
        }
        for (label, url) in &self.project_urls {
            field("Project-URL", &format!("{label}, {url}"));
        }
        field("Requires-Python", self.requires_python.as_str());
        for r in &self.requires_dist {
            field("Requires-Dist", r);
        }
        if let Some(desc) = &self.description {
            field("Description-Content-Type", "text/markdown");
            out.push('\n');
            out.push_str(desc);
            if !desc.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// The WHEEL file.
pub fn render_wheel_file(name: &WheelFilename, generator: &str) -> String {
    let mut out = String::from("Wheel-Version: 1.0\n");
    out.push_str(&format!("Generator: {generator}\n"));
    out.push_str("Root-Is-Purelib: false\n");
    for t in name.tags() {
        out.push_str(&format!("Tag: {t}\n"));
    }
    out
}

/// `sha256=<urlsafe base64, no padding>` as RECORD writes digests.
pub fn record_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// RECORD: one row per file (path, hash, size); its own row is `path,,`.
pub fn render_record(rows: &[(String, String, u64)], record_path: &str) -> String {
    let mut out = String::new();
    for (path, hash, size) in rows {
        out.push_str(&format!("{},{hash},{size}\n", csv_field(path)));
    }
    out.push_str(&format!("{},,\n", csv_field(record_path)));
    out
}

/// A RECORD line that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("RECORD line {line}: expected 3 fields, got {got}")]
    Fields { line: usize, got: usize },
    #[error("RECORD line {line}: bad size `{size}`")]
    Size { line: usize, size: String },
}

/// Parses RECORD text back into (path, hash, size) rows; the RECORD's own
/// row comes back with empty hash and size 0. Used by checks and tests.
pub fn parse_record(text: &str) -> Result<Vec<(String, String, Option<u64>)>, RecordError> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(std::mem::take(&mut cur)),
                (c, _) => cur.push(c),
            }
        }
        fields.push(cur);
        let [path, hash, size] = &fields[..] else {
            return Err(RecordError::Fields {
                line: n + 1,
                got: fields.len(),
            });
        };
        let size = if size.is_empty() {
            None
        } else {
            Some(size.parse().map_err(|_| RecordError::Size {
                line: n + 1,
                size: size.clone(),
            })?)
        };
        rows.push((path.clone(), hash.clone(), size));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> CoreMetadata {
        CoreMetadata {
            name: "attnfarm".parse().unwrap(),
            version: "2026.1.0+cu128torch2.9".parse().unwrap(),
            summary: "Fast attention".into(),
            license_expression: "Apache-2.0".into(),
            license_files: vec!["LICENSE".into()],
            requires_dist: vec!["torch>=2.9,<2.10".into()],
            requires_python: ">=3.10".parse().unwrap(),
            project_urls: [("Source".to_string(), "https://github.com/o/r".to_string())].into(),
            description: Some("# attnfarm\n\nText.".into()),
        }
    }

    #[test]
    fn metadata_text() {
        insta::assert_snapshot!(meta().render(), @"
        Metadata-Version: 2.4
        Name: attnfarm
        Version: 2026.1.0+cu128torch2.9
        Summary: Fast attention
        License-Expression: Apache-2.0
        License-File: LICENSE
        Project-URL: Source, https://github.com/o/r
        Requires-Python: >=3.10
        Requires-Dist: torch>=2.9,<2.10
        Description-Content-Type: text/markdown

        # attnfarm

        Text.
        ");
    }

    /// `Name:` is the validated name as it displays (PEP 503 normalised),
    /// byte for byte what `package.name.to_string()` gave before it was typed.
    #[test]
    fn name_is_the_normalised_form() {
        let m = CoreMetadata {
            name: PackageName::new("Attn_Farm").unwrap(),
            ..meta()
        };
        assert!(m.render().contains("\nName: attn-farm\n"), "{}", m.render());
    }

    #[test]
    fn wheel_text() {
        let name: WheelFilename =
            "attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl"
                .parse()
                .unwrap();
        insta::assert_snapshot!(render_wheel_file(&name, "attnfarm-xtask 0.1.0"), @"
        Wheel-Version: 1.0
        Generator: attnfarm-xtask 0.1.0
        Root-Is-Purelib: false
        Tag: cp39-abi3-manylinux_2_28_x86_64
        ");
    }

    #[test]
    fn record_text_round_trips() {
        let rows = vec![
            (
                "attnfarm/__init__.py".to_string(),
                record_hash(b"x = 1\n"),
                6,
            ),
            ("odd,name.txt".to_string(), record_hash(b""), 0),
        ];
        let text = render_record(&rows, "attnfarm-1.0.dist-info/RECORD");
        insta::assert_snapshot!(text, @r#"
        attnfarm/__init__.py,sha256=nia_NpkRxFwkPGhBR7I_yeHc_PJX0pmhxjIBam_NM_Q,6
        "odd,name.txt",sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0
        attnfarm-1.0.dist-info/RECORD,,
        "#);
        let back = parse_record(&text).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[1].0, "odd,name.txt");
        assert_eq!(
            back[2],
            (
                "attnfarm-1.0.dist-info/RECORD".to_string(),
                String::new(),
                None
            )
        );
    }

    #[test]
    fn hash_is_urlsafe_unpadded() {
        // sha256("") in urlsafe base64 without padding.
        assert_eq!(
            record_hash(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }
}
