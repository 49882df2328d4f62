//! Object-cache keys. Pure: bytes and strings in, hex digests out.
//!
//! A key covers everything that can change an object's bytes: the tool
//! identities (toolkit / torch cache keys, host compiler version), the
//! normalized command line (output path replaced by `$OUT`, repo and cache
//! roots by `$REPO`/`$CACHE`; `--threads` is never part of it), the source's
//! bytes and a digest of every header the source can include from the repo
//! (all of `kernels/include` and the source's own directory's headers; for
//! bindings also torch's include tree, identified by the torch cache key).
//! Hashing every repo header is conservative: touching one kernel header
//! recompiles all kernels, never too few.

use sha2::{Digest, Sha256};

/// Placeholder for the output path in command templates.
pub const OUT: &str = "$OUT";

/// sha256 over (path, content) pairs, order-independent.
pub fn digest_files(files: &[(String, Vec<u8>)]) -> String {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (p, bytes) in sorted {
        h.update(p.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())
}

/// Replaces absolute roots in an argv with stable names.
pub fn normalize(argv: &[String], roots: &[(&str, &str)]) -> Vec<String> {
    argv.iter()
        .map(|a| {
            let mut s = a.clone();
            for (from, to) in roots {
                if !from.is_empty() {
                    s = s.replace(from, to);
                }
            }
            s
        })
        .collect()
}

/// The key of one object.
pub fn object_key(
    kind: &str,
    tool_ids: &[&str],
    argv: &[String],
    source: &[u8],
    headers: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"attnfarm-object-v1\0");
    h.update(kind.as_bytes());
    h.update([0]);
    for t in tool_ids {
        h.update(t.as_bytes());
        h.update([0]);
    }
    h.update(b"argv\0");
    for a in argv {
        h.update(a.as_bytes());
        h.update([0]);
    }
    h.update(b"source\0");
    h.update(source);
    h.update(b"\0headers\0");
    h.update(headers.as_bytes());
    hex::encode(h.finalize())
}

/// Substitutes the output placeholder (whole arguments or `/Fo$OUT`-style).
pub fn with_out(template: &[String], out: &str) -> Vec<String> {
    template.iter().map(|a| a.replace(OUT, out)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv() -> Vec<String> {
        [
            "/r/nvcc",
            "-c",
            "/repo/kernels/src/a.cu",
            "-o",
            OUT,
            "-I/repo/kernels/include",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn key_changes_with_each_input() {
        let base = object_key("kernel", &["tk1", "g++ 12"], &argv(), b"src", "h1");
        assert_eq!(
            base,
            object_key("kernel", &["tk1", "g++ 12"], &argv(), b"src", "h1")
        );
        assert_ne!(
            base,
            object_key("kernel", &["tk2", "g++ 12"], &argv(), b"src", "h1")
        );
        assert_ne!(
            base,
            object_key("kernel", &["tk1", "g++ 13"], &argv(), b"src", "h1")
        );
        assert_ne!(
            base,
            object_key("kernel", &["tk1", "g++ 12"], &argv(), b"src2", "h1")
        );
        assert_ne!(
            base,
            object_key("kernel", &["tk1", "g++ 12"], &argv(), b"src", "h2")
        );
        let mut a = argv();
        a.push("-gencode".into());
        assert_ne!(
            base,
            object_key("kernel", &["tk1", "g++ 12"], &a, b"src", "h1")
        );
        assert_ne!(
            base,
            object_key("binding", &["tk1", "g++ 12"], &argv(), b"src", "h1")
        );
    }

    #[test]
    fn normalized_argv_ignores_checkout_location() {
        let a = normalize(&argv(), &[("/repo", "$REPO")]);
        let moved: Vec<String> = argv()
            .iter()
            .map(|s| s.replace("/repo", "/elsewhere/co"))
            .collect();
        assert_eq!(a, normalize(&moved, &[("/elsewhere/co", "$REPO")]));
        assert_eq!(a[2], "$REPO/kernels/src/a.cu");
    }

    #[test]
    fn header_digest_is_order_independent_and_content_sensitive() {
        let a = vec![
            ("x.h".to_string(), b"1".to_vec()),
            ("y.h".to_string(), b"2".to_vec()),
        ];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(digest_files(&a), digest_files(&b));
        b[0].1 = b"3".to_vec();
        assert_ne!(digest_files(&a), digest_files(&b));
        // Renaming a header changes the digest (includes are by name).
        let c = vec![
            ("z.h".to_string(), b"1".to_vec()),
            ("y.h".to_string(), b"2".to_vec()),
        ];
        assert_ne!(digest_files(&a), digest_files(&c));
    }

    #[test]
    fn out_placeholder() {
        let t = vec!["cl.exe".to_string(), format!("/Fo{OUT}"), OUT.to_string()];
        assert_eq!(
            with_out(&t, "C:/o/x.obj"),
            ["cl.exe", "/FoC:/o/x.obj", "C:/o/x.obj"]
        );
    }
}
