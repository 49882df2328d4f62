//! Plain-text tables for stdout (`plan`, the build summary). Pure.

/// Left-aligned columns separated by two spaces, trailing blanks trimmed,
/// one line per row (header first), each ending in a newline.
pub fn render<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = cells
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string();
        s.push('\n');
        s
    };
    let mut out = line(&mut header.iter().copied());
    for r in rows {
        out.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns_columns() {
        let t = super::render(
            ["a", "long header"],
            &[
                ["wide cell".to_string(), "x".to_string()],
                ["b".to_string(), String::new()],
            ],
        );
        assert_eq!(t, "a          long header\nwide cell  x\nb\n");
    }
}
