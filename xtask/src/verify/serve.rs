//! A static file server on loopback for the farm's own index: pip installs
//! from it exactly as it would from GitHub Pages (HTML pages, wheel files,
//! PEP 658 `.metadata` files). GET and HEAD only, files under one root, no
//! path escapes; a directory serves its `index.html`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A running server; stops when dropped.
pub struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `root` on `127.0.0.1` at a free port.
    pub fn start(root: &Path) -> std::io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let root = root.clone();
                        std::thread::spawn(move || {
                            let _ = handle(conn, &root);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Server {
            port,
            stop,
            thread: Some(thread),
        })
    }

    /// Ex) `http://127.0.0.1:41234/`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `/a/b%2Bc/` → `a/b+c`, refusing `..`, absolute parts and NULs.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let decoded = percent_decode(path)?;
    let mut out = root.to_path_buf();
    for c in Path::new(decoded.trim_start_matches('/')).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    Some(out)
}

/// Percent-decoded, refusing NULs.
fn percent_decode(s: &str) -> Option<String> {
    crate::fsx::percent_decode(s).filter(|s| !s.contains('\0'))
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("whl") => "application/zip",
        Some("py" | "metadata" | "txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn handle(conn: TcpStream, root: &Path) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Headers are read and ignored (no keep-alive: every answer closes).
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut w = conn;
    let reply = |w: &mut TcpStream, status: &str, ctype: &str, body: &[u8], head: bool| {
        let hdr = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        w.write_all(hdr.as_bytes())?;
        if !head {
            w.write_all(body)?;
        }
        w.flush()
    };
    if method != "GET" && method != "HEAD" {
        reply(
            &mut w,
            "405 Method Not Allowed",
            "text/plain",
            b"GET only\n",
            false,
        )?;
    } else {
        match resolve(root, target).filter(|p| p.is_file()) {
            Some(p) => {
                let mut body = Vec::new();
                std::fs::File::open(&p)?.read_to_end(&mut body)?;
                reply(&mut w, "200 OK", content_type(&p), &body, method == "HEAD")?;
            }
            None => reply(&mut w, "404 Not Found", "text/plain", b"not found\n", false)?,
        }
    }
    let _ = w.shutdown(Shutdown::Both);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str, path: &str) -> (String, Vec<u8>) {
        let addr = url.trim_start_matches("http://").trim_end_matches('/');
        let mut c = TcpStream::connect(addr).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&all[..split]).to_string();
        (head, all[split + 4..].to_vec())
    }

    #[test]
    fn serves_files_and_directory_indexes_and_nothing_outside() {
        let dir = std::env::temp_dir().join(format!("af-serve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/simple/attnfarm")).unwrap();
        std::fs::write(dir.join("root/simple/attnfarm/index.html"), "<a>x</a>").unwrap();
        std::fs::write(dir.join("root/a+b.whl"), [1u8, 2, 3]).unwrap();
        std::fs::write(dir.join("secret"), "no").unwrap();
        let s = Server::start(&dir.join("root")).unwrap();
        let (h, b) = get(&s.url(), "/simple/attnfarm/");
        assert!(
            h.starts_with("HTTP/1.1 200") && h.contains("text/html"),
            "{h}"
        );
        assert_eq!(b, b"<a>x</a>");
        let (h, b) = get(&s.url(), "/a%2Bb.whl");
        assert!(h.starts_with("HTTP/1.1 200"), "{h}");
        assert_eq!(b, [1, 2, 3]);
        for bad in ["/../secret", "/%2e%2e/secret", "/missing", "/simple/%ZZ"] {
            let (h, _) = get(&s.url(), bad);
            assert!(h.starts_with("HTTP/1.1 404"), "{bad}: {h}");
        }
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
