//! Progress reporting: the library reports through [`Progress`]; the CLI
//! renders it on stderr (stdout stays data).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

/// What long-running stages tell their caller.
pub trait Progress: Send + Sync {
    /// A variant (or other unit) moved to a new step. Ex) ("cu12-torch2.9-linux_x86_64", "compile bindings")
    fn step(&self, unit: &str, step: &str);
    /// A unit finished; `ok` false means it failed.
    fn done(&self, unit: &str, ok: bool);
    /// Free-form line (warnings, notes).
    fn note(&self, line: &str);
}

/// Discards everything (tests).
pub struct Silent;

impl Progress for Silent {
    fn step(&self, _: &str, _: &str) {}
    fn done(&self, _: &str, _: bool) {}
    fn note(&self, _: &str) {}
}

/// Line-oriented stderr renderer: `[done/total elapsed] unit: step`.
/// Colour only on a terminal and when `NO_COLOR` is unset.
pub struct Stderr {
    total: usize,
    state: Mutex<(usize, usize)>,
    start: Instant,
    color: bool,
}

impl Stderr {
    pub fn new(total: usize) -> Stderr {
        Stderr {
            total,
            state: Mutex::new((0, 0)),
            start: Instant::now(),
            color: std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn prefix(&self) -> String {
        let (done, _) = *self.state.lock().unwrap();
        let s = self.start.elapsed().as_secs();
        format!("[{done}/{} {:>2}:{:02}]", self.total, s / 60, s % 60)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

impl Progress for Stderr {
    fn step(&self, unit: &str, step: &str) {
        let _ = writeln!(std::io::stderr(), "{} {unit}: {step}", self.prefix());
    }
    fn done(&self, unit: &str, ok: bool) {
        {
            let mut st = self.state.lock().unwrap();
            st.0 += 1;
            if !ok {
                st.1 += 1;
            }
        }
        let word = if ok {
            self.paint("32", "ok")
        } else {
            self.paint("31", "FAILED")
        };
        let _ = writeln!(std::io::stderr(), "{} {unit}: {word}", self.prefix());
    }
    fn note(&self, line: &str) {
        let _ = writeln!(std::io::stderr(), "{} {line}", self.prefix());
    }
}
