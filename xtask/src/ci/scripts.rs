//! The bodies of the workflows' `run:` steps, as files under `scripts/`
//! (each is the block as written, so no shebang). Values the workflow
//! knows at run time reach a script through the step's `env:`; the few the
//! generator knows (a path, a version, the xtask command) stand in a
//! template as `@NAME@`, filled by [`fill`].

/// Makes git trust a checkout another user owns (in a container) and
/// checks that it sees the commit the workflow built.
pub const TRUST_CHECKOUT: &str = include_str!("scripts/trust-checkout.sh");
/// rustup without a toolchain (rust-toolchain.toml picks one) and the
/// container's Python on PATH. `@PYTHON_BIN@`
pub const INSTALL_RUSTUP: &str = include_str!("scripts/install-rustup.sh");
/// Visual Studio's developer environment (x64 host and target) exported to
/// the following steps, from the installation `vswhere` reports (pwsh).
pub const MSVC_DEV_ENV: &str = include_str!("scripts/msvc-dev-env.ps1");
/// The wheel installed into a venv with `$TORCH_REQ` (from `$TORCH_INDEX`
/// if set) and imported.
pub const IMPORT_WHEEL: &str = include_str!("scripts/import-wheel.sh");
/// The test job's tools. `@VALIDATORS@`
pub const TEST_TOOLS: &str = include_str!("scripts/test-tools.sh");
/// A release runs from main or a tag (`$REF`) only.
pub const REF_CHECK: &str = include_str!("scripts/ref-check.sh");
/// The pushed tag (`$PUSHED`) is the one the matrix names. `@XTASK@`
pub const TAG_CHECK: &str = include_str!("scripts/tag-check.sh");
/// The publish job's steps, run with the prebuilt `$XTASK`.
pub const INDEX: &str = include_str!("scripts/index.sh");
pub const RELEASE_NOTES: &str = include_str!("scripts/release-notes.sh");
pub const PUBLISH: &str = include_str!("scripts/publish.sh");
/// dist into a venv; `$DIST` names it after.
/// `@PYTHON@ @BIN@ @EXE@ @PACKAGE@ @VERSION@`
pub const INSTALL_DIST: &str = include_str!("scripts/install-dist.sh");
/// `dist build --artifacts=local`, then the archive's binary runs.
/// `@FARM_OUT@ @UNPACK@`
pub const FARM_LOCAL: &str = include_str!("scripts/farm-local.sh");
/// `dist build --artifacts=global` and the checks on its sha256.sum.
/// `@FARM_OUT@ @COUNT@`
pub const FARM_GLOBAL: &str = include_str!("scripts/farm-global.sh");
/// `dist plan` against the committed `farm/dist-plan.txt`.
pub const DIST_PLAN_CHECK: &str = include_str!("scripts/dist-plan-check.sh");

/// `template` with each `@NAME@` of `vars` replaced by its value. A name
/// the template lacks, or a `@NAME@` left over, is a generator bug (the
/// workflow tests generate every script).
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut s = template.to_string();
    for (name, value) in vars {
        let hole = format!("@{name}@");
        assert!(s.contains(&hole), "script template has no {hole}:\n{s}");
        s = s.replace(&hole, value);
    }
    if let Some(hole) = first_hole(&s) {
        panic!("script template left {hole} unfilled:\n{s}");
    }
    s
}

/// The first `@NAME@` (upper case, digits, `_`) in `s`.
fn first_hole(s: &str) -> Option<&str> {
    let mut rest = s;
    let mut at = 0;
    while let Some(i) = rest.find('@') {
        let after = &rest[i + 1..];
        let n = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        if n > 0 && after[n..].starts_with('@') {
            let start = at + i;
            return Some(&s[start..start + n + 2]);
        }
        at += i + 1;
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_every_hole_and_leaves_bash_arrays_alone() {
        assert_eq!(
            fill(
                "a @X@ b @X@ \"${dry[@]}\" @Y_2@\n",
                &[("X", "1"), ("Y_2", "{}")]
            ),
            "a 1 b 1 \"${dry[@]}\" {}\n"
        );
        assert_eq!(first_hole("x@y.z @A@"), Some("@A@"));
        assert_eq!(first_hole("${a[@]} @ @@ @a@"), None);
    }

    #[test]
    #[should_panic(expected = "left @B@ unfilled")]
    fn fill_refuses_a_hole_left_over() {
        fill("@A@ @B@", &[("A", "1")]);
    }

    #[test]
    #[should_panic(expected = "has no @C@")]
    fn fill_refuses_a_value_without_a_hole() {
        fill("@A@", &[("A", "1"), ("C", "2")]);
    }
}
