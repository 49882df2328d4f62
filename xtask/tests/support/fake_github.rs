//! An in-process fake of the GitHub Releases REST API on 127.0.0.1, faithful
//! to the documented behaviour `publish` depends on:
//!
//! - `GET /repos/{o}/{r}/releases` lists drafts too (token holders);
//!   `GET /releases/tags/{tag}` does not see drafts (404).
//! - listings paginate (`per_page` ≤ a maximum, `page`) with `Link` headers.
//! - releases carry an `upload_url` template `…/assets{?name,label}`.
//! - uploads: `name` is percent-decoded (`+` is a space), characters GitHub
//!   does not keep become `.`; a name already present is 422
//!   `already_exists`; the answer carries `digest: "sha256:<hex>"`; a failed
//!   upload may leave a zero-byte asset in state `starter`.
//! - every request must carry `Authorization: Bearer <token>` (401 otherwise).
//! - releases carry `prerelease` and `body`; `PATCH` sets `draft` and `body`.
//!
//! Faults are queued per route and consumed by the first matching request.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    ListReleases,
    CreateRelease,
    PatchRelease,
    ListAssets,
    Upload,
    DeleteAsset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 502 and nothing changes.
    BadGateway,
    /// The upload is stored, then the answer is a 502 (the answer is lost).
    BadGatewayAfterStore,
    /// The body is read, a zero-byte `starter` asset is left, the
    /// connection is closed without an answer.
    ResetLeavingStarter,
    /// The connection is closed without an answer; nothing changes.
    Reset,
    /// 403 secondary rate limit with `retry-after`.
    SecondaryLimit { retry_after: u64 },
    /// 429 with `retry-after`.
    TooManyRequests { retry_after: u64 },
    /// 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`.
    PrimaryLimit { reset: u64 },
    /// No answer for longer than the client waits.
    Stall,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub name: String,
    pub draft: bool,
    /// `target_commitish` given at creation.
    pub target: Option<String>,
    pub prerelease: bool,
    /// The release notes.
    pub body: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Asset {
    pub id: u64,
    pub release_id: u64,
    pub name: String,
    pub bytes: Vec<u8>,
    pub state: String,
}

impl Asset {
    pub fn digest(&self) -> Option<String> {
        (self.state == "uploaded")
            .then(|| format!("sha256:{}", hex::encode(Sha256::digest(&self.bytes))))
    }
}

#[derive(Debug)]
pub struct State {
    pub owner: String,
    pub repo: String,
    pub token: String,
    pub releases: Vec<Release>,
    pub assets: Vec<Asset>,
    pub next_id: u64,
    /// The largest `per_page` honoured (GitHub: 100).
    pub max_per_page: usize,
    pub faults: VecDeque<(Route, Fault)>,
    /// `METHOD path?query` of every request, in order.
    pub log: Vec<String>,
    /// Scheme and host `upload_url` names instead of this server's
    /// (GitHub's uploads live on another host than its API).
    pub upload_host: Option<String>,
    /// GitHub Enterprise layout: the API under this path (`/api/v3`),
    /// uploads under `/uploads` (GHES: `/api/uploads`).
    pub api_prefix: Option<String>,
}

impl State {
    pub fn add_release(&mut self, tag: &str, draft: bool) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.releases.push(Release {
            id,
            tag_name: tag.into(),
            name: tag.into(),
            draft,
            target: None,
            prerelease: false,
            body: None,
        });
        id
    }

    /// A published release holding `files` (name, bytes), all uploaded.
    pub fn add_published(&mut self, tag: &str, files: &[(&str, &[u8])]) -> u64 {
        let id = self.add_release(tag, false);
        for (name, bytes) in files {
            self.add_asset(id, name, bytes, "uploaded");
        }
        id
    }

    pub fn add_asset(&mut self, release_id: u64, name: &str, bytes: &[u8], state: &str) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.assets.push(Asset {
            id,
            release_id,
            name: name.into(),
            bytes: bytes.to_vec(),
            state: state.into(),
        });
        id
    }

    pub fn release(&self, tag: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.tag_name == tag)
    }

    pub fn assets_of(&self, release_id: u64) -> Vec<&Asset> {
        self.assets
            .iter()
            .filter(|a| a.release_id == release_id)
            .collect()
    }
}

pub struct FakeGithub {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

struct Req {
    method: String,
    /// The path as sent (links are built from it).
    raw_path: String,
    /// The path with the API or upload prefix removed.
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn resp(status: u16, body: Value) -> Resp {
    Resp {
        status,
        headers: vec![],
        body: body.to_string().into_bytes(),
    }
}

/// Percent-decoding as a query string is decoded: `+` is a space.
pub fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match h.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// GitHub keeps letters, digits and `._+-`; anything else becomes `.`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect()
}

impl FakeGithub {
    pub fn start(owner: &str, repo: &str, token: &str) -> FakeGithub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            owner: owner.into(),
            repo: repo.into(),
            token: token.into(),
            releases: vec![],
            assets: vec![],
            next_id: 1000,
            max_per_page: 100,
            faults: VecDeque::new(),
            log: vec![],
            upload_host: None,
            api_prefix: None,
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, addr, &st);
                });
            }
        });
        FakeGithub { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn fault(&self, route: Route, fault: Fault) {
        self.state.lock().unwrap().faults.push_back((route, fault));
    }
}

fn read_req(conn: &mut BufReader<TcpStream>) -> std::io::Result<Option<Req>> {
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = vec![];
    loop {
        let mut h = String::new();
        conn.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let mut req = Req {
        method,
        raw_path: path.to_string(),
        path: path.to_string(),
        query,
        headers,
        body: vec![],
    };
    let len: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    conn.read_exact(&mut body)?;
    req.body = body;
    Ok(Some(req))
}

fn serve(conn: TcpStream, addr: SocketAddr, st: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    let Some(req) = read_req(&mut reader)? else {
        return Ok(());
    };
    let target = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!(
            "{}?{}",
            req.path,
            req.query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        )
    };
    let mut req = req;
    let mut state = st.lock().unwrap();
    if let Some(prefix) = &state.api_prefix {
        let upload = req.method == "POST" && req.path.ends_with("/assets");
        req.path = match (
            req.path.strip_prefix("/uploads"),
            req.path.strip_prefix(prefix.as_str()),
        ) {
            (Some(rest), _) if upload => rest.to_string(),
            (_, Some(rest)) if !upload => rest.to_string(),
            _ => "/wrong-prefix".to_string(),
        };
    }
    state.log.push(format!("{} {target}", req.method));
    let route = route_of(&req, &state);
    let fault = route.and_then(|r| {
        let i = state.faults.iter().position(|(fr, _)| *fr == r)?;
        state.faults.remove(i).map(|(_, f)| f)
    });
    let response = match fault {
        Some(Fault::Reset) => return Ok(()),
        Some(Fault::Stall) => {
            drop(state);
            std::thread::sleep(Duration::from_secs(3));
            return Ok(());
        }
        Some(Fault::ResetLeavingStarter) => {
            if let Some((rid, name)) = upload_target(&req, &state) {
                state.add_asset(rid, &name, b"", "starter");
            }
            return Ok(());
        }
        Some(Fault::BadGateway) => resp(502, json!({"message": "Bad Gateway"})),
        Some(Fault::BadGatewayAfterStore) => {
            let _ = handle(&req, &mut state, addr);
            resp(502, json!({"message": "Bad Gateway"}))
        }
        Some(Fault::SecondaryLimit { retry_after }) => {
            let mut r = resp(
                403,
                json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}),
            );
            r.headers
                .push(("retry-after".into(), retry_after.to_string()));
            r
        }
        Some(Fault::TooManyRequests { retry_after }) => {
            let mut r = resp(429, json!({"message": "Too Many Requests"}));
            r.headers
                .push(("retry-after".into(), retry_after.to_string()));
            r
        }
        Some(Fault::PrimaryLimit { reset }) => {
            let mut r = resp(403, json!({"message": "API rate limit exceeded for user."}));
            r.headers.push(("x-ratelimit-remaining".into(), "0".into()));
            r.headers
                .push(("x-ratelimit-reset".into(), reset.to_string()));
            r
        }
        None => handle(&req, &mut state, addr),
    };
    drop(state);
    let reason = match response.status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        _ => "Other",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.body.len()
    );
    for (k, v) in &response.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(&response.body)?;
    conn.flush()
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

fn route_of(req: &Req, st: &State) -> Option<Route> {
    let s = segments(&req.path);
    if s.len() < 4 || s[0] != "repos" || s[1] != st.owner || s[2] != st.repo || s[3] != "releases" {
        return None;
    }
    match (req.method.as_str(), &s[4..]) {
        ("GET", []) => Some(Route::ListReleases),
        ("POST", []) => Some(Route::CreateRelease),
        ("PATCH", [_]) => Some(Route::PatchRelease),
        ("GET", [_, "assets"]) => Some(Route::ListAssets),
        ("POST", [_, "assets"]) => Some(Route::Upload),
        ("DELETE", ["assets", _]) => Some(Route::DeleteAsset),
        _ => None,
    }
}

fn upload_target(req: &Req, st: &State) -> Option<(u64, String)> {
    let s = segments(&req.path);
    let rid: u64 = s.get(4)?.parse().ok()?;
    st.releases.iter().find(|r| r.id == rid)?;
    Some((rid, sanitize(&form_decode(req.q("name")?))))
}

fn release_json(r: &Release, st: &State, addr: SocketAddr) -> Value {
    json!({
        "id": r.id,
        "tag_name": r.tag_name,
        "name": r.name,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "body": r.body,
        "html_url": format!("http://{addr}/{}/{}/releases/tag/{}", st.owner, st.repo, r.tag_name),
        "upload_url": format!(
            "{}/repos/{}/{}/releases/{}/assets{{?name,label}}",
            st.upload_host.clone().unwrap_or_else(|| format!(
                "http://{addr}{}",
                if st.api_prefix.is_some() { "/uploads" } else { "" }
            )),
            st.owner,
            st.repo,
            r.id
        ),
        "assets": st.assets_of(r.id).iter().map(|a| asset_json(a, st, addr)).collect::<Vec<_>>(),
    })
}

fn asset_json(a: &Asset, st: &State, addr: SocketAddr) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "label": "",
        "state": a.state,
        "content_type": "application/octet-stream",
        "size": a.bytes.len(),
        "digest": a.digest(),
        "url": format!("http://{addr}/repos/{}/{}/releases/assets/{}", st.owner, st.repo, a.id),
    })
}

/// One page of `items` and its `Link` header.
fn paginate(req: &Req, st: &State, addr: SocketAddr, items: Vec<Value>) -> Resp {
    let per_page = req
        .q("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, st.max_per_page);
    let page = req
        .q("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let chunk: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut r = resp(200, Value::Array(chunk));
    let link = |p: usize, rel: &str| {
        format!(
            "<http://{addr}{}?per_page={per_page}&page={p}>; rel=\"{rel}\"",
            req.raw_path
        )
    };
    let mut links = vec![];
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    if !links.is_empty() {
        r.headers.push(("link".into(), links.join(", ")));
    }
    r
}

fn handle(req: &Req, st: &mut State, addr: SocketAddr) -> Resp {
    if req.header("authorization") != Some(&format!("Bearer {}", st.token)) {
        return resp(401, json!({"message": "Bad credentials"}));
    }
    let not_found = || resp(404, json!({"message": "Not Found"}));
    let s: Vec<String> = segments(&req.path).into_iter().map(String::from).collect();
    if s.len() < 4 || s[0] != "repos" || s[1] != st.owner || s[2] != st.repo || s[3] != "releases" {
        return not_found();
    }
    let rest: Vec<&str> = s[4..].iter().map(String::as_str).collect();
    match (req.method.as_str(), rest.as_slice()) {
        ("GET", []) => {
            let mut rs: Vec<&Release> = st.releases.iter().collect();
            rs.sort_by_key(|r| std::cmp::Reverse(r.id)); // newest first
            let items = rs.iter().map(|r| release_json(r, st, addr)).collect();
            paginate(req, st, addr, items)
        }
        ("GET", ["tags", tag]) => {
            let tag = form_decode(tag);
            match st.releases.iter().find(|r| r.tag_name == tag && !r.draft) {
                Some(r) => resp(200, release_json(r, st, addr)),
                None => not_found(),
            }
        }
        ("POST", []) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let Some(tag) = body.get("tag_name").and_then(|t| t.as_str()) else {
                return resp(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "Release", "code": "missing_field", "field": "tag_name"}]}),
                );
            };
            if st.release(tag).is_some() {
                return resp(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]}),
                );
            }
            let draft = body.get("draft").and_then(|d| d.as_bool()).unwrap_or(false);
            let id = st.add_release(tag, draft);
            let created = st.releases.last_mut().unwrap();
            if let Some(n) = body.get("name").and_then(|n| n.as_str()) {
                created.name = n.into();
            }
            created.body = body.get("body").and_then(|b| b.as_str()).map(String::from);
            created.target = body
                .get("target_commitish")
                .and_then(|t| t.as_str())
                .map(String::from);
            let r = st.releases.iter().find(|r| r.id == id).unwrap();
            resp(201, release_json(r, st, addr))
        }
        ("PATCH", [id]) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let Some(r) = st.releases.iter_mut().find(|r| r.id.to_string() == *id) else {
                return not_found();
            };
            if let Some(d) = body.get("draft").and_then(|d| d.as_bool()) {
                r.draft = d;
            }
            if let Some(b) = body.get("body").and_then(|b| b.as_str()) {
                r.body = Some(b.into());
            }
            let r = r.clone();
            resp(200, release_json(&r, st, addr))
        }
        ("GET", [id, "assets"]) => {
            let Some(r) = st.releases.iter().find(|r| r.id.to_string() == *id) else {
                return not_found();
            };
            let items = st
                .assets_of(r.id)
                .iter()
                .map(|a| asset_json(a, st, addr))
                .collect();
            paginate(req, st, addr, items)
        }
        ("POST", [_, "assets"]) => {
            let Some((rid, name)) = upload_target(req, st) else {
                return not_found();
            };
            let len: Option<usize> = req.header("content-length").and_then(|v| v.parse().ok());
            if len != Some(req.body.len()) {
                return resp(400, json!({"message": "Content-Length required"}));
            }
            if st.assets_of(rid).iter().any(|a| a.name == name) {
                return resp(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]}),
                );
            }
            let id = st.add_asset(rid, &name, &req.body, "uploaded");
            let a = st.assets.iter().find(|a| a.id == id).unwrap();
            resp(201, asset_json(a, st, addr))
        }
        ("DELETE", ["assets", id]) => {
            let before = st.assets.len();
            st.assets.retain(|a| a.id.to_string() != *id);
            if st.assets.len() == before {
                return not_found();
            }
            Resp {
                status: 204,
                headers: vec![],
                body: vec![],
            }
        }
        _ => not_found(),
    }
}
