//! When to retry a GitHub request and how long to wait first, and the one
//! loop that does it ([`retry_loop`]). The clock is injected so tests run
//! the waits virtually.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::api::ApiError;
use super::PublishError;
use crate::progress::Progress;

/// Time as the retry loop sees it.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Seconds since the Unix epoch (compared with `x-ratelimit-reset`).
    fn now_unix(&self) -> u64;
    async fn sleep(&self, d: Duration);
}

/// The wall clock and tokio's timer.
pub struct RealClock;

impl Clock for RealClock {
    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }
}

/// How often and how long to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// First backoff; doubles each time.
    pub base: Duration,
    /// Largest exponential backoff.
    pub max_backoff: Duration,
    /// Largest wait the server may ask for (`retry-after`, rate-limit reset);
    /// a longer one fails the run instead of hanging it.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            max_wait: Duration::from_secs(3600),
        }
    }
}

/// Why a failed request may be retried, and the wait before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Do not retry.
    Fatal,
    /// Retry after this long.
    After(Duration, &'static str),
}

impl RetryPolicy {
    /// `attempt` counts from 1 (the attempt that just failed).
    pub fn verdict(&self, err: &ApiError, attempt: u32, now_unix: u64) -> Verdict {
        let backoff = self
            .base
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(self.max_backoff);
        let v = match err {
            ApiError::Transport { .. } => Verdict::After(backoff, "no answer"),
            ApiError::Status {
                status,
                retry_after,
                rate_limit_reset,
                message,
                ..
            } => {
                let rate_limited = *status == 429
                    || (*status == 403
                        && (retry_after.is_some()
                            || rate_limit_reset.is_some()
                            || message.to_ascii_lowercase().contains("rate limit")));
                if let Some(s) = retry_after.filter(|_| rate_limited || *status >= 500) {
                    Verdict::After(Duration::from_secs(s), "retry-after")
                } else if let Some(reset) = rate_limit_reset.filter(|_| rate_limited) {
                    // One extra second: the reset is inclusive.
                    Verdict::After(
                        Duration::from_secs(reset.saturating_sub(now_unix) + 1),
                        "rate limit reset",
                    )
                } else if rate_limited {
                    // Secondary limits without a hint: GitHub asks for at least a minute.
                    Verdict::After(backoff.max(Duration::from_secs(60)), "rate limited")
                } else if *status >= 500 {
                    Verdict::After(backoff, "server error")
                } else {
                    Verdict::Fatal
                }
            }
            ApiError::Decode { .. } | ApiError::File { .. } | ApiError::Other(_) => Verdict::Fatal,
        };
        match v {
            Verdict::After(d, _) if attempt >= self.attempts || d > self.max_wait => Verdict::Fatal,
            v => v,
        }
    }
}

/// How one attempt failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The request failed: the policy's [`Verdict`] says whether and when
    /// to try again.
    Api(ApiError),
    /// The request conflicts with what an earlier attempt left: try again
    /// at once (the next attempt looks first), while attempts are left.
    Conflict(ApiError),
    /// Stop the run.
    Fatal(PublishError),
}

/// Runs `f(attempt)` (from 1) until it succeeds or the policy gives up,
/// sleeping on `clock` between attempts and saying why on `progress`.
pub(crate) async fn retry_loop<T, F, Fut>(
    clock: &impl Clock,
    policy: &RetryPolicy,
    progress: &dyn Progress,
    what: &str,
    mut f: F,
) -> Result<T, PublishError>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    let mut attempt = 1;
    loop {
        let err = match f(attempt).await {
            Ok(v) => return Ok(v),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Conflict(e)) if attempt >= policy.attempts => {
                return Err(PublishError::Api {
                    what: what.to_string(),
                    source: Box::new(e),
                })
            }
            Err(Failure::Conflict(_)) => {
                attempt += 1;
                continue;
            }
            Err(Failure::Api(e)) => e,
        };
        match policy.verdict(&err, attempt, clock.now_unix()) {
            Verdict::Fatal => {
                return Err(PublishError::Api {
                    what: format!("{what} (attempt {attempt})"),
                    source: Box::new(err),
                })
            }
            Verdict::After(d, why) => {
                progress.note(&format!(
                    "{what}: {err}; {why}: retrying in {}s (attempt {}/{})",
                    d.as_secs(),
                    attempt + 1,
                    policy.attempts
                ));
                clock.sleep(d).await;
                attempt += 1;
            }
        }
    }
}

/// [`retry_loop`] for one request whose every failure the policy judges.
pub(crate) async fn with_retry<T, F, Fut>(
    clock: &impl Clock,
    policy: &RetryPolicy,
    progress: &dyn Progress,
    what: &str,
    mut f: F,
) -> Result<T, PublishError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    retry_loop(clock, policy, progress, what, |_| {
        let request = f();
        async move { request.await.map_err(Failure::Api) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, retry_after: Option<u64>, reset: Option<u64>, msg: &str) -> ApiError {
        ApiError::Status {
            method: "POST".into(),
            url: "u".into(),
            status,
            message: msg.into(),
            retry_after,
            rate_limit_reset: reset,
            already_exists: false,
        }
    }

    /// Records the waits instead of sleeping.
    #[derive(Default)]
    struct Virtual(std::cell::RefCell<Vec<u64>>);

    impl Clock for Virtual {
        fn now_unix(&self) -> u64 {
            1_000_000
        }
        async fn sleep(&self, d: Duration) {
            self.0.borrow_mut().push(d.as_secs());
        }
    }

    /// Runs `retry_loop` over a script of failures (then success) and
    /// returns (result, attempts made, waits).
    fn run_script(script: Vec<Failure>) -> (Result<u32, PublishError>, u32, Vec<u64>) {
        let clock = Virtual::default();
        let script = std::cell::RefCell::new(script.into_iter());
        let made = std::cell::Cell::new(0);
        let policy = RetryPolicy::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt.block_on(retry_loop(
            &clock,
            &policy,
            &crate::progress::Silent,
            "upload x",
            |attempt| {
                made.set(attempt);
                let next = script.borrow_mut().next();
                async move { next.map_or(Ok(attempt), Err) }
            },
        ));
        (r, made.get(), clock.0.into_inner())
    }

    #[test]
    fn one_loop_waits_on_failures_but_not_on_conflicts() {
        let conflict = || Failure::Conflict(status(422, None, None, "already_exists"));
        let (r, made, waits) = run_script(vec![
            Failure::Api(status(502, None, None, "")),
            conflict(),
            Failure::Api(status(429, Some(7), None, "")),
        ]);
        assert_eq!((r.unwrap(), made), (4, 4));
        // 2s backoff after attempt 1, none after the conflict, retry-after 7s.
        assert_eq!(waits, [2, 7]);

        let (r, made, waits) = run_script((0..6).map(|_| conflict()).collect());
        assert_eq!(
            (made, waits.len()),
            (6, 0),
            "bounded by the attempts, unwaited"
        );
        assert!(r.unwrap_err().to_string().starts_with("upload x: "));

        let (r, made, _) = run_script(vec![Failure::Api(status(404, None, None, "Not Found"))]);
        assert_eq!(made, 1);
        assert!(r
            .unwrap_err()
            .to_string()
            .starts_with("upload x (attempt 1): "));

        let (r, made, _) = run_script(vec![Failure::Fatal(PublishError::Renamed {
            sent: "a".into(),
            got: "b".into(),
        })]);
        assert_eq!(made, 1);
        assert!(matches!(r, Err(PublishError::Renamed { .. })));
    }

    #[test]
    fn verdicts() {
        let p = RetryPolicy::default();
        let s = Duration::from_secs;
        let table = [
            (
                status(502, None, None, ""),
                1,
                Verdict::After(s(2), "server error"),
            ),
            (
                status(502, None, None, ""),
                3,
                Verdict::After(s(8), "server error"),
            ),
            (status(502, None, None, ""), 6, Verdict::Fatal),
            (
                status(429, Some(7), None, ""),
                1,
                Verdict::After(s(7), "retry-after"),
            ),
            (
                status(
                    403,
                    Some(30),
                    None,
                    "You have exceeded a secondary rate limit",
                ),
                1,
                Verdict::After(s(30), "retry-after"),
            ),
            (
                status(403, None, Some(1_000_100), "API rate limit exceeded"),
                1,
                Verdict::After(s(101), "rate limit reset"),
            ),
            (
                status(403, None, None, "secondary rate limit"),
                1,
                Verdict::After(s(60), "rate limited"),
            ),
            (
                status(403, None, None, "Resource not accessible"),
                1,
                Verdict::Fatal,
            ),
            (status(404, None, None, "Not Found"), 1, Verdict::Fatal),
            (status(429, Some(7200), None, ""), 1, Verdict::Fatal),
        ];
        for (err, attempt, want) in table {
            assert_eq!(p.verdict(&err, attempt, 1_000_000), want, "{err}");
        }
    }
}
