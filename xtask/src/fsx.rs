//! Small helpers every module needs once: atomic file writes, one naming
//! scheme for temporary siblings, content ids, URL percent-encoding (and
//! decoding) and HTML escaping. Each job has exactly one implementation here.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh sibling of `path` for writing before a rename:
/// `.<name>.tmp-<pid>-<n>` in the same directory, so the rename stays on
/// one file system and two threads or processes never share one.
pub fn temp_sibling(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `bytes` to `path` so a reader sees the old file or the whole new
/// one, never a part: write a temporary sibling, then rename it over.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_sibling(path);
    if let Err(e) = fs_err::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    fs_err::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// A 16-hex-digit id of `parts` (sha256 over each part followed by a NUL,
/// so `["ab", "c"]` and `["a", "bc"]` differ).
pub fn hash_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..8])
}

/// Percent-encodes everything but RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), so `+` becomes `%2B`: no server or client can
/// read it as a space (GitHub would store a bare `+` as `.`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The inverse of [`percent_encode`] for any `%XX` escapes; `None` for a
/// broken escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
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

/// The inverse of [`html_escape`]; also reads the decimal form `&#39;`
/// other writers use. Unknown entities are kept as they are.
pub fn html_unescape(s: &str) -> String {
    const ENTITIES: [(&str, char); 6] = [
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&quot;", '"'),
        ("&#x27;", '\''),
        ("&#39;", '\''),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        for (ent, c) in ENTITIES {
            if let Some(tail) = rest.strip_prefix(ent) {
                out.push(c);
                rest = tail;
                continue 'outer;
            }
        }
        out.push('&');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_and_unescape_are_inverse() {
        for s in [
            "plain",
            "a&b<c>d\"e'f",
            "&amp; literal",
            "torch>=2.10,<2.11",
            "&#39;x&#x27;",
            "& alone &",
        ] {
            assert_eq!(html_unescape(&html_escape(s)), s, "{s}");
        }
        assert_eq!(html_escape("'"), "&#x27;");
        assert_eq!(html_unescape("&#39;&unknown;"), "'&unknown;");
    }

    #[test]
    fn percent_encode_keeps_only_unreserved() {
        assert_eq!(
            percent_encode("attnfarm-1.0+cu130torch2.11-cp39-abi3-x.whl"),
            "attnfarm-1.0%2Bcu130torch2.11-cp39-abi3-x.whl"
        );
        assert_eq!(percent_encode("a b/é~"), "a%20b%2F%C3%A9~");
        for s in ["a b/é~+", "attnfarm-1.0+cu130.whl", ""] {
            assert_eq!(percent_decode(&percent_encode(s)).as_deref(), Some(s));
        }
        assert_eq!(percent_decode("a%2bb/c").as_deref(), Some("a+b/c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn hash_id_separates_parts() {
        assert_ne!(hash_id(&["ab", "c"]), hash_id(&["a", "bc"]));
        assert_eq!(hash_id(&["x"]).len(), 16);
        assert_eq!(hash_id(&["x"]), hash_id(&["x"]));
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporaries() {
        let dir = std::env::temp_dir().join(format!("attnfarm-fsx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert_ne!(temp_sibling(&p), temp_sibling(&p));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
