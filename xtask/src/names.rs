//! Distribution names (pure): PEP 503 normalisation, the one comparison
//! form every module uses, and the file-name form wheels carry.

/// PEP 503: lower case, every run of `-`, `_` and `.` replaced by one `-`
/// (Python's `re.sub(r"[-_.]+", "-", name).lower()`).
/// Ex) `Attn__Farm..Ops` → `attn-farm-ops`
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            in_run = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The file-name form of a distribution name (wheel and sdist names,
/// `.dist-info` directories): [`normalize`]d, with `_` for `-`.
/// Ex) `Attn-Farm` → `attn_farm`
pub fn escape(name: &str) -> String {
    normalize(name).replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_every_separator_run() {
        let table = [
            ("attnfarm", "attnfarm", "attnfarm"),
            ("Attn_Farm", "attn-farm", "attn_farm"),
            ("A__b..C-d", "a-b-c-d", "a_b_c_d"),
            ("a..b--c", "a-b-c", "a_b_c"),
            ("a-_.-b", "a-b", "a_b"),
            ("Zope.Interface", "zope-interface", "zope_interface"),
            ("x_", "x-", "x_"),
        ];
        for (raw, norm, esc) in table {
            assert_eq!(normalize(raw), norm, "{raw}");
            assert_eq!(escape(raw), esc, "{raw}");
            // Idempotent, and both forms agree.
            assert_eq!(normalize(norm), norm, "{raw}");
            assert_eq!(normalize(esc), norm, "{raw}");
        }
    }
}
