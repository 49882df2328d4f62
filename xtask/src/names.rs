//! Distribution names (pure): PEP 503 normalisation, the one comparison
//! form every module uses, the file-name form wheels carry, and
//! [`PackageName`], a name that has passed validation.

use std::str::FromStr;

use thiserror::Error;

use crate::versions::{serde_via_str, string_newtype};

/// A distribution name that is not one (after PEP 503 normalisation it must
/// be ASCII letters and digits, joined by single `-`).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid distribution name `{0}`")]
pub struct NameError(pub String);

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

/// A validated distribution name, kept in its PEP 503 [`normalize`]d form.
/// Ex) `attnfarm`, `attn-farm` (from `Attn_Farm`)
///
/// Displays, serialises and compares as the normalised form; the wheel
/// file-name form is [`PackageName::file_form`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName(String);

impl PackageName {
    /// Normalises `raw` and checks the result: non-empty, ASCII letters,
    /// digits and `-`, neither starting nor ending with `-`.
    /// Ex) `Attn_Farm` → `attn-farm`; `-x`, `a+b`, `` are errors
    pub fn new(raw: &str) -> Result<PackageName, NameError> {
        let name = normalize(raw);
        if name.is_empty()
            || name.starts_with('-')
            || name.ends_with('-')
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(NameError(raw.to_string()));
        }
        Ok(PackageName(name))
    }

    /// The PEP 503 form. Ex) `attn-farm`
    pub fn normalized(&self) -> &str {
        &self.0
    }

    /// The file-name form (wheels, `.dist-info`): see [`escape`].
    /// Ex) `attn_farm`
    pub fn file_form(&self) -> String {
        escape(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PackageName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageName::new(s)
    }
}

// Debug-prints as the string does (`"attnfarm"`).
string_newtype!(PackageName);
serde_via_str!(PackageName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_normalise_and_round_trip() {
        let table = [
            ("attnfarm", "attnfarm", "attnfarm"),
            ("Attn_Farm", "attn-farm", "attn_farm"),
            ("Zope.Interface", "zope-interface", "zope_interface"),
            ("a__b..c", "a-b-c", "a_b_c"),
            ("X2", "x2", "x2"),
        ];
        for (raw, norm, file) in table {
            let n = PackageName::new(raw).unwrap();
            assert_eq!(n.normalized(), norm, "{raw}");
            assert_eq!(n.file_form(), file, "{raw}");
            assert_eq!(n.to_string(), norm, "{raw}");
            // Display, the file form and serde all read back to the same name.
            assert_eq!(n.to_string().parse::<PackageName>().unwrap(), n);
            assert_eq!(PackageName::new(&n.file_form()).unwrap(), n);
            let json = serde_json::to_string(&n).unwrap();
            assert_eq!(json, format!("\"{norm}\""));
            assert_eq!(serde_json::from_str::<PackageName>(&json).unwrap(), n);
        }
    }

    #[test]
    fn package_names_reject() {
        for raw in ["", "-", "_x", "x.", "a+b", "a b", "ünï", "a/b"] {
            assert_eq!(
                PackageName::new(raw),
                Err(NameError(raw.to_string())),
                "{raw:?}"
            );
        }
        insta::assert_snapshot!(
            PackageName::new("attn+farm").unwrap_err(),
            @"invalid distribution name `attn+farm`"
        );
    }

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
