//! A small YAML writer, enough for GitHub Actions workflows: block
//! mappings and sequences indented two spaces a level, literal block
//! scalars for multi-line text, flow sequences for short lists, comments
//! above or after an entry, and strings double-quoted exactly where a plain
//! scalar would read back as something else (a number, a boolean, null,
//! an alias, a comment). Pure: it writes text and parses nothing; the tests
//! read its output back with serde_yaml.

/// A YAML value as the workflows use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Nothing after the colon. Ex) `pull_request:`
    Null,
    Bool(bool),
    Int(u64),
    /// Plain where that reads back as the same string, else double-quoted;
    /// a string of several lines is a literal block.
    Str(String),
    /// Always a literal block, one line or many. Ex) `run: |`
    Block(String),
    /// A one-line sequence of strings. Ex) `[plan, test]`
    Flow(Vec<String>),
    /// A block sequence (`- item` lines); empty: `[]`.
    Seq(Vec<Value>),
    /// A block mapping; empty: `{}`.
    Map(Map),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Str(s.clone())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Int(n.into())
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Map(m)
    }
}

/// A block mapping: entries in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Map(Vec<Entry>);

/// One `key: value` of a [`Map`], with the comments that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    key: String,
    value: Value,
    /// `# …` lines above the key, one per line of the text.
    comment: Option<String>,
    /// A `# …` after the value, on the key's line.
    trailing: Option<String>,
    /// An empty line before the entry (and its comment).
    blank_before: bool,
}

impl Map {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends `key: value` and returns it, for a comment or a blank line.
    /// Keys are written plain, so they must be plain words (`[A-Za-z0-9_-]`).
    pub fn entry(&mut self, key: impl Into<String>, value: impl Into<Value>) -> &mut Entry {
        let key = key.into();
        assert!(
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "YAML key `{key}` is not a plain word"
        );
        self.0.push(Entry {
            key,
            value: value.into(),
            comment: None,
            trailing: None,
            blank_before: false,
        });
        self.0.last_mut().expect("just pushed")
    }

    /// [`Map::entry`] where `value` is there.
    pub fn opt(&mut self, key: &str, value: Option<impl Into<Value>>) {
        if let Some(v) = value {
            self.entry(key, v);
        }
    }

    /// Every entry but the first gets an empty line before it.
    pub fn spaced(mut self) -> Self {
        for e in self.0.iter_mut().skip(1) {
            e.blank_before = true;
        }
        self
    }
}

impl Entry {
    /// `text`, one `# ` line per line, above the key.
    pub fn comment(&mut self, text: impl Into<String>) -> &mut Self {
        self.comment = Some(text.into());
        self
    }

    /// `# text` after the value, on the key's line.
    pub fn trailing(&mut self, text: impl Into<String>) -> &mut Self {
        self.trailing = Some(text.into());
        self
    }
}

/// `map` as a YAML document.
pub fn render(map: &Map) -> String {
    let mut out = String::new();
    write_map(&mut out, map, 0);
    out
}

fn pad(out: &mut String, indent: usize) {
    out.push_str(&" ".repeat(indent));
}

fn write_map(out: &mut String, map: &Map, indent: usize) {
    for e in &map.0 {
        write_entry(out, e, indent, false);
    }
}

/// One entry at `indent`; `dash`: it is the first of a sequence item, so
/// `- ` comes before the key and the item's other keys line up after it.
fn write_entry(out: &mut String, e: &Entry, indent: usize, dash: bool) {
    if e.blank_before {
        out.push('\n');
    }
    if let Some(c) = &e.comment {
        for line in c.lines() {
            pad(out, indent);
            out.push('#');
            if !line.is_empty() {
                out.push(' ');
                out.push_str(line);
            }
            out.push('\n');
        }
    }
    pad(out, indent);
    let indent = if dash {
        out.push_str("- ");
        indent + 2
    } else {
        indent
    };
    out.push_str(&e.key);
    out.push(':');
    write_value(out, &e.value, indent, e.trailing.as_deref());
}

/// What follows `key:` (or `-`) of something at `indent`: the value on the
/// same line, or a newline and the value's lines indented below.
fn write_value(out: &mut String, v: &Value, indent: usize, trailing: Option<&str>) {
    let end = |out: &mut String| {
        if let Some(t) = trailing {
            out.push_str(" # ");
            out.push_str(t);
        }
        out.push('\n');
    };
    match v {
        Value::Null => end(out),
        Value::Bool(b) => {
            out.push_str(if *b { " true" } else { " false" });
            end(out);
        }
        Value::Int(n) => {
            out.push(' ');
            out.push_str(&n.to_string());
            end(out);
        }
        Value::Str(s) if s.contains('\n') && !has_control(s) => {
            write_block(out, s, indent, trailing)
        }
        Value::Block(s) if !s.is_empty() && !has_control(s) => {
            write_block(out, s, indent, trailing)
        }
        Value::Str(s) | Value::Block(s) => {
            out.push(' ');
            out.push_str(&scalar(s, false));
            end(out);
        }
        Value::Flow(items) => {
            let items: Vec<String> = items.iter().map(|i| scalar(i, true)).collect();
            out.push_str(" [");
            out.push_str(&items.join(", "));
            out.push(']');
            end(out);
        }
        Value::Map(m) if m.is_empty() => {
            out.push_str(" {}");
            end(out);
        }
        Value::Seq(items) if items.is_empty() => {
            out.push_str(" []");
            end(out);
        }
        Value::Map(m) => {
            end(out);
            write_map(out, m, indent + 2);
        }
        Value::Seq(items) => {
            end(out);
            write_seq(out, items, indent + 2);
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        match item {
            Value::Map(m) if !m.is_empty() => {
                write_entry(out, &m.0[0], indent, true);
                for e in &m.0[1..] {
                    write_entry(out, e, indent + 2, false);
                }
            }
            other => {
                pad(out, indent);
                out.push('-');
                write_value(out, other, indent, None);
            }
        }
    }
}

/// A literal block: `|` when `text` ends in one newline, `|-` without one,
/// `|+` with more; an indentation indicator when the first line starts
/// with a space. Empty lines stay empty (no trailing white space).
fn write_block(out: &mut String, text: &str, indent: usize, trailing: Option<&str>) {
    let (chomp, body) = match text.strip_suffix('\n') {
        Some(b) if b.ends_with('\n') => ("+", b),
        Some(b) => ("", b),
        None => ("-", text),
    };
    out.push_str(" |");
    if body.starts_with(' ') {
        out.push('2');
    }
    out.push_str(chomp);
    if let Some(t) = trailing {
        out.push_str(" # ");
        out.push_str(t);
    }
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent + 2);
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Control characters other than a newline or a tab, which only a
/// double-quoted scalar can hold.
fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// `s` as a one-line scalar: plain if that reads back as the same string,
/// else double-quoted. `flow`: inside `[…]`, where `,[]{}` end a plain one.
fn scalar(s: &str, flow: bool) -> String {
    if needs_quotes(s, flow) {
        quote(s)
    } else {
        s.to_string()
    }
}

/// Whether `s` written plain would not read back as the string `s`.
pub fn needs_quotes(s: &str, flow: bool) -> bool {
    const INDICATORS: &str = "-?:,[]{}#&*!|>'\"%@`";
    let Some(first) = s.chars().next() else {
        return true;
    };
    INDICATORS.contains(first)
        || s.trim() != s
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control())
        // In a flow list a glob is quoted, as GitHub's docs write them (one
        // that starts with `*` must be: plain, it reads as an alias).
        || (flow && s.contains([',', '[', ']', '{', '}', '*']))
        || reads_as_other_type(s)
}

/// Booleans and nulls of YAML 1.1 and 1.2 (GitHub's parser and others
/// differ; none of them may see a string as one), and anything that starts
/// like a number (ints, floats, octal/hex, dates, sexagesimals).
fn reads_as_other_type(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", "+.inf",
        ".nan",
    ];
    let lower = s.to_ascii_lowercase();
    WORDS.contains(&lower.as_str())
        || s.parse::<f64>().is_ok()
        || (s.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '.')
            && s.chars().any(|c| c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-:".contains(c)))
}

/// A double-quoted scalar.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(build: impl FnOnce(&mut Map)) -> String {
        let mut m = Map::new();
        build(&mut m);
        render(&m)
    }

    /// What serde_yaml reads back for `key` of the rendered document.
    fn reads(text: &str, key: &str) -> serde_yaml::Value {
        let v: serde_yaml::Value = serde_yaml::from_str(text).expect(text);
        v[key].clone()
    }

    #[test]
    fn strings_are_quoted_exactly_where_plain_would_read_otherwise() {
        let plain = [
            "main",
            "torch==2.11.0",
            "https://download.pytorch.org/whl/cu130",
            "${{ github.ref }}",
            "ci-${{ github.ref }}",
            "github.repository == 'attnfarm/attnfarm'",
            "${{ !cancelled() && (a || b) }}",
            "Build, index and publish (publish --dry-run)",
            "The tag is the matrix's release tag",
            "dist/wheels/*.whl",
            "x86_64-unknown-linux-gnu",
        ];
        for s in plain {
            let text = doc(|m| {
                m.entry("k", s);
            });
            assert_eq!(text, format!("k: {s}\n"));
            assert_eq!(reads(&text, "k"), s, "{text}");
        }
        let quoted = [
            ("", r#""""#),
            ("1", r#""1""#),
            ("3.12", r#""3.12""#),
            ("1e5", r#""1e5""#),
            ("0x1F", r#""0x1F""#),
            ("2026-12-03", r#""2026-12-03""#),
            ("12:30", r#""12:30""#),
            ("true", r#""true""#),
            ("No", r#""No""#),
            ("on", r#""on""#),
            ("null", r#""null""#),
            ("~", r#""~""#),
            ("*alias", r#""*alias""#),
            ("&anchor", r#""&anchor""#),
            ("!tag", r#""!tag""#),
            ("- item", r#""- item""#),
            ("'single'", r#""'single'""#),
            ("\"double\"", r#""\"double\"""#),
            ("a: b", r#""a: b""#),
            ("a #b", r#""a #b""#),
            ("key:", r#""key:""#),
            (" lead", r#"" lead""#),
            ("trail ", r#""trail ""#),
            ("back\\slash: x", r#""back\\slash: x""#),
            ("bell\u{7}", r#""bell\u0007""#),
        ];
        for (s, want) in quoted {
            let text = doc(|m| {
                m.entry("k", s);
            });
            assert_eq!(text, format!("k: {want}\n"));
            assert_eq!(reads(&text, "k"), s, "{text}");
        }
    }

    #[test]
    fn flow_items_quote_what_ends_a_flow_scalar() {
        let items = ["main", "v*", "a,b", "[x]", "{y}", "build-linux_x86_64"];
        let text = doc(|m| {
            m.entry(
                "k",
                Value::Flow(items.iter().map(|s| s.to_string()).collect()),
            );
        });
        assert_eq!(
            text,
            "k: [main, \"v*\", \"a,b\", \"[x]\", \"{y}\", build-linux_x86_64]\n"
        );
        let back: Vec<String> = serde_yaml::from_value(reads(&text, "k")).unwrap();
        assert_eq!(back, items);
    }

    #[test]
    fn multi_line_text_is_a_literal_block_with_its_chomping() {
        let cases = [
            // one trailing newline: clip
            ("a\n  b\n", "k: |\n  a\n    b\n"),
            // none: strip
            ("a\nb", "k: |-\n  a\n  b\n"),
            // more: keep
            ("a\n\n", "k: |+\n  a\n\n"),
            // empty lines carry no indentation
            ("a\n\nb\n", "k: |\n  a\n\n  b\n"),
            // a first line that starts with a space needs the indicator
            ("  a\nb\n", "k: |2\n    a\n  b\n"),
            // quotes, `#`, `${{`, `: ` are literal in a block
            (
                "echo \"x: $y\" # c\n${{ e }}\n",
                "k: |\n  echo \"x: $y\" # c\n  ${{ e }}\n",
            ),
        ];
        for (s, want) in cases {
            let text = doc(|m| {
                m.entry("k", s);
            });
            assert_eq!(text, want);
            assert_eq!(reads(&text, "k"), s, "{text}");
        }
        // A Block is a block even for one line; an empty one is `""`.
        let text = doc(|m| {
            m.entry("run", Value::Block("cargo test\n".into()));
            m.entry("none", Value::Block(String::new()));
        });
        assert_eq!(text, "run: |\n  cargo test\nnone: \"\"\n");
        assert_eq!(reads(&text, "run"), "cargo test\n");
        assert_eq!(reads(&text, "none"), "");
        // Control characters other than tabs force a quoted scalar.
        let text = doc(|m| {
            m.entry("k", "a\n\u{1b}b");
        });
        assert_eq!(text, "k: \"a\\n\\u001Bb\"\n");
        assert_eq!(reads(&text, "k"), "a\n\u{1b}b");
    }

    #[test]
    fn nesting_sequences_of_maps_and_comments() {
        let mut step = Map::new();
        step.entry("uses", "actions/x@abc").trailing("v1");
        let mut with = Map::new();
        with.entry("path", "dist");
        with.entry("days", 7u32);
        step.entry("with", with);
        let mut run = Map::new();
        run.entry("name", "Run");
        run.entry("run", "a\nb\n");
        let text = doc(|m| {
            m.entry("name", "ci").comment("Generated.\nDo not edit.");
            let mut job = Map::new();
            job.entry("timeout-minutes", 5u32)
                .comment("Why five.\n\nReally.");
            job.entry(
                "steps",
                Value::Seq(vec![
                    Value::Map(step),
                    Value::Map(run),
                    Value::Str("plain".into()),
                ]),
            );
            let mut jobs = Map::new();
            jobs.entry("a", job);
            let mut b = Map::new();
            b.entry("needs", Value::Flow(vec!["a".into()]));
            b.entry("steps", Value::Seq(vec![Value::Seq(vec!["x".into()])]));
            jobs.entry("b", b);
            m.entry("jobs", jobs.spaced());
        });
        let want = "\
# Generated.
# Do not edit.
name: ci
jobs:
  a:
    # Why five.
    #
    # Really.
    timeout-minutes: 5
    steps:
      - uses: actions/x@abc # v1
        with:
          path: dist
          days: 7
      - name: Run
        run: |
          a
          b
      - plain

  b:
    needs: [a]
    steps:
      -
        - x
";
        assert_eq!(text, want);
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(v["jobs"]["b"]["steps"][0][0], "x");
        let steps = &v["jobs"]["a"]["steps"];
        assert_eq!(steps[0]["uses"], "actions/x@abc");
        assert_eq!(steps[0]["with"]["days"], 7);
        assert_eq!(steps[1]["run"], "a\nb\n");
        assert_eq!(steps[2], "plain");
    }

    #[test]
    fn empty_maps_and_lists_and_null() {
        let text = doc(|m| {
            m.entry("permissions", Map::new());
            m.entry("steps", Value::Seq(vec![]));
            m.entry("needs", Value::Flow(vec![]));
            m.entry("pull_request", Value::Null).trailing("any");
            m.entry("flag", false);
            m.opt("absent", None::<&str>);
            m.opt("present", Some(1u32));
        });
        assert_eq!(
            text,
            "permissions: {}\nsteps: []\nneeds: []\npull_request: # any\nflag: false\npresent: 1\n"
        );
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(
            v["permissions"],
            serde_yaml::Value::Mapping(Default::default())
        );
        assert_eq!(v["steps"], serde_yaml::Value::Sequence(vec![]));
        assert!(v["pull_request"].is_null());
        assert_eq!(v["flag"], false);
        assert!(v.get("absent").is_none());
    }

    #[test]
    #[should_panic(expected = "not a plain word")]
    fn keys_must_be_plain_words() {
        Map::new().entry("a key", 1u32);
    }
}
