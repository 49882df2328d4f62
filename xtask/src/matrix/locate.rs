//! Source positions of every node in a YAML document, by path.
//!
//! serde_yaml reports positions for syntax and shape errors only; the semantic
//! checks in `matrix` need the line and column of a value they reject. This
//! walks the document's events once and records where each node starts.
//! Paths look like `toolkits[1].arches[3]` or `platforms.win_amd64`; the key of
//! a mapping entry is recorded as the path with `@key` appended.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Default)]
pub struct Positions {
    map: HashMap<String, Pos>,
}

impl Positions {
    pub fn parse(text: &str) -> Positions {
        let mut rx = Recorder::default();
        let mut parser = Parser::new_from_str(text);
        // Syntax errors are reported by serde_yaml with their own position; a
        // failed walk only means fewer positions here.
        let _ = parser.load(&mut rx, false);
        Positions { map: rx.map }
    }

    /// Position of the node at `path`, or of its nearest recorded ancestor.
    pub fn get(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.map.get(p) {
                return *pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.map.get("").copied().unwrap_or(Pos { line: 1, col: 1 }),
            }
        }
    }

    /// Position of the key of the mapping entry at `path`.
    pub fn key(&self, path: &str) -> Pos {
        self.map
            .get(&format!("{path}@key"))
            .copied()
            .unwrap_or_else(|| self.get(path))
    }
}

enum Frame {
    Seq { path: String, next: usize },
    Map { path: String, key: Option<String> },
}

#[derive(Default)]
struct Recorder {
    map: HashMap<String, Pos>,
    stack: Vec<Frame>,
}

impl Recorder {
    /// The path for the node that starts now, or None when the node is a
    /// mapping key (recorded separately).
    fn claim(&mut self, scalar: Option<&str>, mark: Marker) -> Option<String> {
        let pos = Pos {
            line: mark.line(),
            col: mark.col() + 1,
        };
        match self.stack.last_mut() {
            None => {
                self.map.entry(String::new()).or_insert(pos);
                Some(String::new())
            }
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                self.map.insert(p.clone(), pos);
                Some(p)
            }
            Some(Frame::Map { path, key }) => match key.take() {
                None => {
                    let k = scalar.unwrap_or("?").to_string();
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.map.insert(format!("{p}@key"), pos);
                    *key = Some(k);
                    None
                }
                Some(k) => {
                    let p = if path.is_empty() {
                        k
                    } else {
                        format!("{path}.{k}")
                    };
                    self.map.insert(p.clone(), pos);
                    Some(p)
                }
            },
        }
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(v, ..) => {
                self.claim(Some(&v), mark);
            }
            Event::Alias(_) => {
                self.claim(None, mark);
            }
            Event::SequenceStart(..) => {
                let path = self.claim(None, mark).unwrap_or_default();
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingStart(..) => {
                let path = self.claim(None, mark).unwrap_or_default();
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_nested_positions() {
        let text = "a: 1\nb:\n  - x\n  - {c: 2}\nd:\n  e: f\n";
        let p = Positions::parse(text);
        assert_eq!(p.get("a"), Pos { line: 1, col: 4 });
        assert_eq!(p.key("a"), Pos { line: 1, col: 1 });
        assert_eq!(p.get("b[0]"), Pos { line: 3, col: 5 });
        assert_eq!(p.get("b[1].c"), Pos { line: 4, col: 9 });
        assert_eq!(p.get("d.e"), Pos { line: 6, col: 6 });
        // Unknown paths fall back to the nearest ancestor.
        assert_eq!(p.get("d.e.zz"), Pos { line: 6, col: 6 });
    }
}
