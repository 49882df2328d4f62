//! The GitHub Releases endpoints `publish` uses, behind [`ReleaseApi`], and
//! their implementation over octocrab's HTTP client ([`GithubApi`]).
//!
//! octocrab sends the requests (rustls, timeouts); we build them ourselves so
//! that we see the status and rate-limit headers of every response, stream
//! uploads from disk and percent-encode asset names (its `upload_asset` does
//! neither). No retries here: [`super::retry`] decides.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use octocrab::{OctoBody, Octocrab};
use serde::Deserialize;
use thiserror::Error;
use tokio::io::{AsyncRead, ReadBuf};

/// A GitHub token. Never shown: `Debug` and `Display` print `***`, and the
/// request header carrying it is marked sensitive.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(s: impl Into<String>) -> Token {
        Token(s.into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// A release as far as publish cares.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReleaseInfo {
    pub id: u64,
    pub tag_name: String,
    pub draft: bool,
    /// RFC 6570 template. Ex) `https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}`
    pub upload_url: String,
    #[serde(default)]
    pub html_url: String,
    /// A pre-release is not served from the indexes (only its own run's
    /// site shows it).
    #[serde(default)]
    pub prerelease: bool,
    /// The release notes.
    #[serde(default)]
    pub body: Option<String>,
}

/// A release asset. `digest` is `sha256:<hex>` (absent on very old assets).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AssetInfo {
    pub id: u64,
    pub name: String,
    pub size: u64,
    /// `uploaded`, or `starter` for the leftover of a failed upload.
    pub state: String,
    #[serde(default)]
    pub digest: Option<String>,
}

impl AssetInfo {
    /// The lower-case hex sha256 GitHub reports, if any.
    pub fn sha256(&self) -> Option<&str> {
        self.digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
    }

    /// A zero-byte or `starter` asset: what a failed upload leaves behind.
    pub fn is_leftover(&self) -> bool {
        self.state != "uploaded" || self.size == 0
    }
}

/// One page of a listing and the URL of the next (from the `Link` header).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// What a failed request tells the retry loop.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{method} {url}: HTTP {status}: {message}")]
    Status {
        method: String,
        /// The request URL without its query.
        url: String,
        status: u16,
        message: String,
        /// `retry-after`, in seconds.
        retry_after: Option<u64>,
        /// `x-ratelimit-remaining` was 0: the epoch second of `x-ratelimit-reset`.
        rate_limit_reset: Option<u64>,
        /// A 422 whose errors carry `code: already_exists`.
        already_exists: bool,
    },
    /// No answer: connection refused or reset, timeout, TLS failure.
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    /// An answer we could not read.
    #[error("{method} {url}: unexpected response: {message}")]
    Decode {
        method: String,
        url: String,
        message: String,
    },
    #[error("reading {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Anything else a [`ReleaseApi`] implementation wants to stop the run with.
    #[error("{0}")]
    Other(String),
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The endpoints publish uses. Implementations do not retry.
#[allow(async_fn_in_trait)] // used on one thread; no `Send` bound needed
pub trait ReleaseApi {
    /// One page of the repository's releases, drafts included (the
    /// get-by-tag endpoint does not see drafts). `next`: None for the first.
    async fn list_releases(&self, next: Option<&str>) -> Result<Page<ReleaseInfo>, ApiError>;
    /// Creates a draft release for `tag`; a tag that does not exist yet is
    /// created at `target` (a commit SHA or branch) when the release is published.
    async fn create_draft(
        &self,
        tag: &str,
        name: &str,
        target: Option<&str>,
    ) -> Result<ReleaseInfo, ApiError>;
    /// One page of a release's assets (100 per page).
    async fn list_assets(
        &self,
        release_id: u64,
        next: Option<&str>,
    ) -> Result<Page<AssetInfo>, ApiError>;
    /// Streams `path` to the release's upload URL as asset `name`.
    async fn upload_asset(
        &self,
        release: &ReleaseInfo,
        name: &str,
        path: &Path,
        size: u64,
    ) -> Result<AssetInfo, ApiError>;
    async fn delete_asset(&self, asset_id: u64) -> Result<(), ApiError>;
    /// Sets `draft: false`.
    async fn publish_release(&self, release_id: u64) -> Result<ReleaseInfo, ApiError>;
    /// Replaces the release notes.
    async fn set_notes(&self, release_id: u64, body: &str) -> Result<ReleaseInfo, ApiError> {
        let _ = (release_id, body);
        Err(ApiError::Other(
            "this client cannot set release notes".into(),
        ))
    }
}

/// Where the API lives. Ex) `https://api.github.com`, `http://127.0.0.1:4000`
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub api: String,
    /// Replaces the scheme and host of the release's `upload_url` when set.
    pub uploads: Option<String>,
}

/// [`ReleaseApi`] over octocrab's client.
pub struct GithubApi {
    client: Octocrab,
    token: Option<Token>,
    owner: String,
    repo: String,
    endpoints: Endpoints,
    timeout: Duration,
}

impl fmt::Debug for GithubApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubApi")
            .field("token", &self.token)
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// An octocrab client (no auth of its own: we set the header) with timeouts.
/// Every request carries an absolute URL; octocrab's base is only the
/// origin, because it would prefix a base *path* (GitHub Enterprise's
/// `/api/v3`) to upload URLs on another path.
fn client(endpoints: &Endpoints, connect: Duration, read: Duration) -> Result<Octocrab, ApiError> {
    let origin = match endpoints.api.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}/", rest.split('/').next().unwrap_or(rest)),
        None => endpoints.api.clone(),
    };
    Octocrab::builder()
        .base_uri(origin.as_str())
        .and_then(|b| {
            b.set_connect_timeout(Some(connect))
                .set_read_timeout(Some(read))
                .build()
        })
        .map_err(|e| {
            ApiError::Other(format!(
                "cannot set up the GitHub client for `{}`: {e}",
                endpoints.api
            ))
        })
}

impl GithubApi {
    /// `timeout` bounds connecting and each read of a response. Call inside
    /// the tokio runtime that will drive the requests (octocrab spawns its
    /// worker there).
    pub fn new(
        owner: &str,
        repo: &str,
        token: Option<Token>,
        endpoints: Endpoints,
        timeout: Duration,
    ) -> Result<GithubApi, ApiError> {
        Ok(GithubApi {
            client: client(&endpoints, timeout, timeout)?,
            token,
            owner: owner.to_string(),
            repo: repo.to_string(),
            endpoints,
            timeout,
        })
    }

    fn repo_url(&self, rest: &str) -> String {
        format!(
            "{}/repos/{}/{}/{rest}",
            self.endpoints.api.trim_end_matches('/'),
            self.owner,
            self.repo
        )
    }

    fn upload_url(&self, release: &ReleaseInfo, name: &str) -> String {
        let template = release.upload_url.as_str();
        let base = template.split('{').next().unwrap_or(template);
        let base = match &self.endpoints.uploads {
            Some(over) => {
                let path = base
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                    .unwrap_or("");
                format!("{}{path}", over.trim_end_matches('/'))
            }
            None => base.to_string(),
        };
        format!("{base}?name={}", percent_encode(name))
    }

    async fn send(
        &self,
        client: &Octocrab,
        method: Method,
        url: &str,
        body: OctoBody,
        extra: &[(header::HeaderName, HeaderValue)],
    ) -> Result<(HeaderMap, Bytes), ApiError> {
        let shown = url.split('?').next().unwrap_or(url).to_string();
        let transport = |message: String| ApiError::Transport {
            method: method.to_string(),
            url: shown.clone(),
            message,
        };
        let mut req = Request::builder()
            .method(method.clone())
            .uri(url)
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header(header::USER_AGENT, "attnfarm-xtask");
        if let Some(Token(t)) = &self.token {
            let mut v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                ApiError::Other("GITHUB_TOKEN holds characters a header cannot carry".into())
            })?;
            v.set_sensitive(true);
            req = req.header(header::AUTHORIZATION, v);
        }
        for (k, v) in extra {
            req = req.header(k, v);
        }
        let req = req
            .body(body)
            .map_err(|e| ApiError::Other(format!("bad request URL `{shown}`: {e}")))?;
        let resp = client
            .execute(req)
            .await
            .map_err(|e| transport(error_chain(&e)))?;
        let (parts, body) = resp.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| transport(error_chain(&e)))?
            .to_bytes();
        if parts.status.is_success() {
            return Ok((parts.headers, bytes));
        }
        Err(status_error(
            &method,
            &shown,
            parts.status,
            &parts.headers,
            &bytes,
        ))
    }

    /// One page of a listing: `next` (a Link header's URL) or the first page.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        next: Option<&str>,
        first: impl FnOnce() -> String,
    ) -> Result<Page<T>, ApiError> {
        let url = next.map_or_else(first, String::from);
        let (headers, items) = self.json(Method::GET, &url, None).await?;
        Ok(Page {
            items,
            next: next_link(&headers),
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(HeaderMap, T), ApiError> {
        let (body, extra) = match body {
            Some(v) => (
                OctoBody::from(v.to_string()),
                vec![(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
            ),
            None => (OctoBody::empty(), vec![]),
        };
        let (headers, bytes) = self
            .send(&self.client, method.clone(), url, body, &extra)
            .await?;
        let value = serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            method: method.to_string(),
            url: url.split('?').next().unwrap_or(url).to_string(),
            message: e.to_string(),
        })?;
        Ok((headers, value))
    }
}

impl ReleaseApi for GithubApi {
    async fn list_releases(&self, next: Option<&str>) -> Result<Page<ReleaseInfo>, ApiError> {
        self.page(next, || self.repo_url("releases?per_page=100"))
            .await
    }

    async fn create_draft(
        &self,
        tag: &str,
        name: &str,
        target: Option<&str>,
    ) -> Result<ReleaseInfo, ApiError> {
        let mut body = serde_json::json!({"tag_name": tag, "name": name, "draft": true});
        if let Some(t) = target {
            body["target_commitish"] = t.into();
        }
        let (_, r) = self
            .json(Method::POST, &self.repo_url("releases"), Some(body))
            .await?;
        Ok(r)
    }

    async fn list_assets(
        &self,
        release_id: u64,
        next: Option<&str>,
    ) -> Result<Page<AssetInfo>, ApiError> {
        self.page(next, || {
            self.repo_url(&format!("releases/{release_id}/assets?per_page=100"))
        })
        .await
    }

    async fn upload_asset(
        &self,
        release: &ReleaseInfo,
        name: &str,
        path: &Path,
        size: u64,
    ) -> Result<AssetInfo, ApiError> {
        let url = self.upload_url(release, name);
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| ApiError::File {
                path: path.to_path_buf(),
                source,
            })?;
        let body = OctoBody::new(FileBody {
            file,
            path: path.to_path_buf(),
            remaining: size,
            buf: vec![0; 1 << 16].into_boxed_slice(),
        });
        let extra = [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(name)),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(size)),
        ];
        // The read timeout also runs while the body goes out (the client
        // watches for an early answer): allow 1 MiB/s on top of the base.
        let slow = client(
            &self.endpoints,
            self.timeout,
            self.timeout + Duration::from_secs(size >> 20),
        )?;
        let (_, bytes) = self.send(&slow, Method::POST, &url, body, &extra).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            method: "POST".into(),
            url: url.split('?').next().unwrap_or(&url).to_string(),
            message: e.to_string(),
        })
    }

    async fn delete_asset(&self, asset_id: u64) -> Result<(), ApiError> {
        let url = self.repo_url(&format!("releases/assets/{asset_id}"));
        self.send(&self.client, Method::DELETE, &url, OctoBody::empty(), &[])
            .await
            .map(|_| ())
    }

    async fn publish_release(&self, release_id: u64) -> Result<ReleaseInfo, ApiError> {
        self.patch_release(release_id, serde_json::json!({"draft": false}))
            .await
    }

    async fn set_notes(&self, release_id: u64, body: &str) -> Result<ReleaseInfo, ApiError> {
        self.patch_release(release_id, serde_json::json!({"body": body}))
            .await
    }
}

impl GithubApi {
    async fn patch_release(
        &self,
        release_id: u64,
        body: serde_json::Value,
    ) -> Result<ReleaseInfo, ApiError> {
        let (_, r) = self
            .json(
                Method::PATCH,
                &self.repo_url(&format!("releases/{release_id}")),
                Some(body),
            )
            .await?;
        Ok(r)
    }
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".whl") {
        "application/zip"
    } else {
        "text/plain"
    }
}

/// The message of an error and its sources, joined.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

fn status_error(
    method: &Method,
    url: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiError {
    let num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = json
        .as_ref()
        .and_then(|j| j.get("message"))
        .and_then(|m| m.as_str())
        .map(String::from)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let already_exists = json
        .as_ref()
        .and_then(|j| j.get("errors"))
        .and_then(|e| e.as_array())
        .is_some_and(|errs| {
            errs.iter()
                .any(|e| e.get("code").and_then(|c| c.as_str()) == Some("already_exists"))
        });
    ApiError::Status {
        method: method.to_string(),
        url: url.to_string(),
        status: status.as_u16(),
        message,
        retry_after: num("retry-after"),
        rate_limit_reset: (num("x-ratelimit-remaining") == Some(0))
            .then(|| num("x-ratelimit-reset"))
            .flatten(),
        already_exists,
    }
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

pub use crate::fsx::percent_encode;

/// An upload body read from disk in 64 KiB pieces.
struct FileBody {
    file: tokio::fs::File,
    path: PathBuf,
    remaining: u64,
    buf: Box<[u8]>,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = (this.buf.len() as u64).min(this.remaining) as usize;
        let mut rb = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(std::io::Error::new(
                e.kind(),
                format!("reading {}: {e}", this.path.display()),
            )))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("{} shrank while uploading", this.path.display()),
                    ))));
                }
                this.remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(
                    &this.buf[..n],
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_plus() {
        assert_eq!(
            percent_encode("attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-win_amd64.whl"),
            "attnfarm-2026.1.0%2Bcu128torch2.9-cp39-abi3-win_amd64.whl"
        );
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::LINK,
            HeaderValue::from_static(
                "<http://x/r?page=2>; rel=\"next\", <http://x/r?page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(next_link(&h).as_deref(), Some("http://x/r?page=2"));
        h.insert(
            header::LINK,
            HeaderValue::from_static("<http://x/r?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn token_is_hidden() {
        let t = Token::new("ghp_secret");
        assert_eq!(format!("{t:?}"), "Token(***)");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let api = GithubApi::new(
            "o",
            "r",
            Some(t),
            Endpoints {
                api: "http://127.0.0.1:9".into(),
                uploads: None,
            },
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(!format!("{api:?}").contains("ghp_secret"));
    }
}
