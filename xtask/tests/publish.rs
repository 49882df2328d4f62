//! `publish` against the in-process fake GitHub (loopback only), with
//! injected faults. Waits run on a virtual clock; the only real waiting is
//! the client timeout of the stall test (a fraction of a second).

mod support;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::fake_github::{FakeGithub, Fault, Route};
use xtask::progress::Silent;
use xtask::publish::api::{
    ApiError, AssetInfo, Endpoints, GithubApi, Page, ReleaseApi, ReleaseInfo, Token,
};
use xtask::publish::retry::{Clock, RetryPolicy};
use xtask::publish::{collect_local, publish, Action, Options, PublishError, Report};
use xtask::testing::wheel_spec;
use xtask::wheel::inspect::inspect_wheel;
use xtask::wheel::{sha256_file, write_wheel, Entry};

const TOKEN: &str = "ghs_test_token_0123456789";
const TAG: &str = "v2026.1.0";
const NOW: u64 = 1_800_000_000;

/// Time that passes only when slept.
struct VirtualClock {
    now: Cell<u64>,
    slept: RefCell<Vec<Duration>>,
}

impl VirtualClock {
    fn new() -> VirtualClock {
        VirtualClock {
            now: Cell::new(NOW),
            slept: RefCell::new(vec![]),
        }
    }
}

impl Clock for VirtualClock {
    fn now_unix(&self) -> u64 {
        self.now.get()
    }
    async fn sleep(&self, d: Duration) {
        self.slept.borrow_mut().push(d);
        self.now.set(self.now.get() + d.as_secs());
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attnfarm-publish-{name}-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&d);
    fs_err::create_dir_all(&d).unwrap();
    d
}

/// A `dist/` as `build-matrix` + `index` leave it: real wheels, their
/// `.metadata` files, an index page that references them, `SHA256SUMS`.
fn make_dist(name: &str) -> PathBuf {
    let dist = tmp(name).join("dist");
    let wheels = dist.join("wheels");
    let specs = [
        wheel_spec("cu128torch2.9", "manylinux_2_28_x86_64", "torch>=2.9,<2.10"),
        wheel_spec("cu130torchstable2.10", "win_amd64", "torch>=2.10"),
        wheel_spec(
            "cu130torchstable2.10",
            "manylinux_2_28_x86_64",
            "torch>=2.10",
        ),
    ];
    let mut sums = BTreeMap::new();
    let mut listed = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let payload = vec![
            Entry::bytes("attnfarm/__init__.py", format!("VARIANT = {i}\n")),
            Entry::bytes("attnfarm/_C.abi3.so", vec![0x7f, b'E', b'L', b'F', i as u8]),
        ];
        let w = write_wheel(spec, &payload, &wheels, Some(1_700_000_000)).unwrap();
        let file = w.path.file_name().unwrap().to_string_lossy().into_owned();
        let meta = inspect_wheel(&w.path).unwrap().metadata;
        let meta_name = format!("{file}.metadata");
        fs_err::write(wheels.join(&meta_name), &meta).unwrap();
        let (meta_sha, _) = sha256_file(&wheels.join(&meta_name)).unwrap();
        listed.push(
            serde_json::json!({"file": file, "sha256": w.sha256, "metadata_sha256": meta_sha}),
        );
        sums.insert(file, w.sha256);
        sums.insert(meta_name, meta_sha);
    }
    // What `index` writes beside the landing page (publish reads it).
    fs_err::create_dir_all(dist.join("index")).unwrap();
    fs_err::write(
        dist.join("index/variants.json"),
        serde_json::json!({"schema": 1, "variants": [{"id": "all", "wheels": listed}]}).to_string(),
    )
    .unwrap();
    let text: String = sums.iter().map(|(f, h)| format!("{h}  {f}\n")).collect();
    fs_err::write(dist.join("SHA256SUMS"), text).unwrap();
    dist
}

fn api(fake: &FakeGithub, token: &str) -> GithubApi {
    api_at(
        Endpoints {
            api: fake.url(),
            uploads: None,
        },
        token,
    )
}

fn api_at(endpoints: Endpoints, token: &str) -> GithubApi {
    GithubApi::new(
        "attnfarm",
        "attnfarm",
        Some(Token::new(token)),
        endpoints,
        Duration::from_millis(400),
    )
    .unwrap()
}

/// One publish run of `dist` through `endpoints`, which must converge.
fn publish_through(fake: &FakeGithub, dist: &Path, endpoints: Endpoints) {
    let rt = runtime();
    let _guard = rt.enter();
    let api = api_at(endpoints, TOKEN);
    rt.block_on(publish(&api, &VirtualClock::new(), &opts(dist), &Silent))
        .unwrap();
    assert_converged(fake, dist, &[]);
}

fn opts(dist: &Path) -> Options {
    Options {
        tag: TAG.into(),
        title: "attnfarm 2026.1.0".into(),
        dist: dist.to_path_buf(),
        target: Some("0123456789abcdef0123456789abcdef01234567".into()),
        dry_run: false,
        replace: false,
        retry: RetryPolicy::default(),
        notes: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Publishes through the real client, built inside the runtime that drives it.
fn run_as(
    fake: &FakeGithub,
    token: &str,
    clock: &VirtualClock,
    o: &Options,
) -> Result<Report, PublishError> {
    let rt = runtime();
    let _guard = rt.enter();
    let api = api(fake, token);
    rt.block_on(publish(&api, clock, o, &Silent))
}

fn run(fake: &FakeGithub, clock: &VirtualClock, o: &Options) -> Result<Report, PublishError> {
    run_as(fake, TOKEN, clock, o)
}

/// A fake with unrelated history: 120 older releases (so ours is not on
/// the first page of a 100-per-page listing), and asset pages of 2.
fn fake_with_history() -> FakeGithub {
    let fake = FakeGithub::start("attnfarm", "attnfarm", TOKEN);
    let mut st = fake.state.lock().unwrap();
    st.max_per_page = 2;
    for i in 0..120 {
        let id = st.add_release(&format!("v2025.{i}.0"), false);
        if i == 0 {
            st.add_asset(id, "old.whl", b"old bytes", "uploaded");
        }
    }
    drop(st);
    fake
}

/// Every local asset exactly once, complete, with our digest; the release
/// published; nothing outside it changed.
fn assert_converged(fake: &FakeGithub, dist: &Path, extra_in_release: &[&str]) {
    let local = collect_local(dist).unwrap();
    let st = fake.state.lock().unwrap();
    let rel = st.release(TAG).expect("release exists");
    assert!(!rel.draft, "release still a draft");
    assert_eq!(st.releases.iter().filter(|r| r.tag_name == TAG).count(), 1);
    let assets = st.assets_of(rel.id);
    let mut names: Vec<&str> = assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    let mut want: Vec<&str> = local
        .iter()
        .map(|a| a.name.as_str())
        .chain(extra_in_release.iter().copied())
        .collect();
    want.sort();
    assert_eq!(names, want);
    for a in &local {
        let r = assets.iter().find(|r| r.name == a.name).unwrap();
        assert_eq!(r.state, "uploaded");
        assert_eq!(
            r.digest(),
            Some(format!("sha256:{}", a.sha256)),
            "{}",
            a.name
        );
    }
    assert!(local.iter().any(|a| a.name.contains('+')), "names keep `+`");
    // The unrelated history is untouched.
    assert_eq!(st.releases.len(), 121);
    assert!(st
        .releases
        .iter()
        .filter(|r| r.tag_name != TAG)
        .all(|r| !r.draft));
    let old = st.release("v2025.0.0").unwrap().id;
    assert_eq!(st.assets_of(old).len(), 1);
}

fn uploads(fake: &FakeGithub) -> usize {
    fake.state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|l| l.starts_with("POST") && l.contains("/assets?name="))
        .count()
}

#[test]
fn fresh_release_then_noop_rerun() {
    let fake = fake_with_history();
    let dist = make_dist("fresh");
    let clock = VirtualClock::new();
    let report = run(&fake, &clock, &opts(&dist)).unwrap();
    assert_eq!(report.actions[0], Action::CreateDraft { tag: TAG.into() });
    assert_eq!(
        report.actions.last(),
        Some(&Action::Publish { tag: TAG.into() })
    );
    assert_converged(&fake, &dist, &[]);
    assert_eq!(uploads(&fake), 7);
    assert_eq!(
        fake.state
            .lock()
            .unwrap()
            .release(TAG)
            .unwrap()
            .target
            .as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    // Names went out percent-encoded.
    assert!(fake
        .state
        .lock()
        .unwrap()
        .log
        .iter()
        .any(|l| l.contains("name=attnfarm-2026.1.0%2Bcu128torch2.9")));
    assert!(clock.slept.borrow().is_empty());

    // A second run changes nothing.
    let before = fake.state.lock().unwrap().log.len();
    let report = run(&fake, &clock, &opts(&dist)).unwrap();
    assert!(report
        .actions
        .iter()
        .all(|a| matches!(a, Action::Skip { .. })));
    let st = fake.state.lock().unwrap();
    assert!(
        st.log[before..].iter().all(|l| l.starts_with("GET")),
        "{:?}",
        &st.log[before..]
    );
}

#[test]
fn finds_draft_invisible_to_get_by_tag_and_cleans_leftovers() {
    let fake = fake_with_history();
    let dist = make_dist("draft");
    let local = collect_local(&dist).unwrap();
    {
        let mut st = fake.state.lock().unwrap();
        let id = st.add_release(TAG, true);
        let first = &local[0];
        st.add_asset(
            id,
            &first.name,
            &fs_err::read(&first.path).unwrap(),
            "uploaded",
        );
        st.add_asset(id, &local[1].name, b"", "starter");
        st.add_asset(id, "notes.txt", b"release notes", "uploaded");
    }
    let clock = VirtualClock::new();
    let report = run(&fake, &clock, &opts(&dist)).unwrap();
    assert!(report
        .actions
        .iter()
        .any(|a| matches!(a, Action::DeleteLeftover { state, .. } if state == "starter")));
    assert!(!report
        .actions
        .iter()
        .any(|a| matches!(a, Action::CreateDraft { .. })));
    assert_eq!(uploads(&fake), local.len() - 1);
    assert_converged(&fake, &dist, &["notes.txt"]);
}

#[test]
fn get_by_tag_does_not_see_drafts() {
    // The fake's own fidelity: the endpoint publish must not rely on.
    let fake = FakeGithub::start("attnfarm", "attnfarm", TOKEN);
    fake.state.lock().unwrap().add_release(TAG, true);
    let rt = runtime();
    let _guard = rt.enter();
    let api = api(&fake, TOKEN);
    let found = rt.block_on(api.list_releases(None)).unwrap();
    assert_eq!(found.items.len(), 1);
    assert!(found.items[0].draft);
    let mut s = std::net::TcpStream::connect(fake.addr).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET /repos/attnfarm/attnfarm/releases/tags/{TAG} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
}

/// A first run hit by `fault`, then a re-run: every asset exactly once with
/// the right digest, nothing else touched.
fn fault_then_rerun(
    name: &str,
    route: Route,
    fault: Fault,
) -> (Result<Report, PublishError>, Vec<Duration>) {
    let fake = fake_with_history();
    let dist = make_dist(name);
    fake.fault(route, fault);
    let clock = VirtualClock::new();
    let first = run(&fake, &clock, &opts(&dist));
    let slept = clock.slept.borrow().clone();
    let clock = VirtualClock::new();
    run(&fake, &clock, &opts(&dist)).unwrap();
    assert_converged(&fake, &dist, &[]);
    (first, slept)
}

#[test]
fn upload_502_is_retried() {
    let (first, slept) = fault_then_rerun("502", Route::Upload, Fault::BadGateway);
    first.unwrap();
    assert_eq!(slept, [Duration::from_secs(2)]);
}

#[test]
fn upload_502_after_store_resolves_by_digest() {
    let (first, slept) = fault_then_rerun("502stored", Route::Upload, Fault::BadGatewayAfterStore);
    first.unwrap();
    assert_eq!(slept.len(), 1);
}

#[test]
fn connection_reset_leaving_starter() {
    let (first, _) = fault_then_rerun("reset", Route::Upload, Fault::ResetLeavingStarter);
    first.unwrap();
}

#[test]
fn connection_reset_while_listing() {
    let (first, _) = fault_then_rerun("reset-list", Route::ListAssets, Fault::Reset);
    first.unwrap();
}

#[test]
fn secondary_rate_limit_honours_retry_after() {
    let (first, slept) = fault_then_rerun(
        "403",
        Route::Upload,
        Fault::SecondaryLimit { retry_after: 42 },
    );
    first.unwrap();
    assert_eq!(slept, [Duration::from_secs(42)]);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let (first, slept) = fault_then_rerun(
        "429",
        Route::CreateRelease,
        Fault::TooManyRequests { retry_after: 7 },
    );
    first.unwrap();
    assert_eq!(slept, [Duration::from_secs(7)]);
}

#[test]
fn primary_rate_limit_waits_for_reset() {
    let (first, slept) = fault_then_rerun(
        "reset-limit",
        Route::ListReleases,
        Fault::PrimaryLimit { reset: NOW + 300 },
    );
    first.unwrap();
    assert_eq!(slept, [Duration::from_secs(301)]);
}

#[test]
fn timeout_is_retried() {
    let (first, slept) = fault_then_rerun("timeout", Route::Upload, Fault::Stall);
    first.unwrap();
    assert_eq!(slept, [Duration::from_secs(2)]);
}

#[test]
fn persistent_failure_gives_up_then_rerun_converges() {
    let fake = fake_with_history();
    let dist = make_dist("persistent");
    for _ in 0..6 {
        fake.fault(Route::Upload, Fault::BadGateway);
    }
    let clock = VirtualClock::new();
    let err = run(&fake, &clock, &opts(&dist)).unwrap_err();
    assert!(err.to_string().contains("HTTP 502"), "{err}");
    assert_eq!(clock.slept.borrow().len(), 5, "bounded: 6 attempts");
    assert!(fake.state.lock().unwrap().release(TAG).unwrap().draft);
    run(&fake, &VirtualClock::new(), &opts(&dist)).unwrap();
    assert_converged(&fake, &dist, &[]);
}

/// The `ReleaseApi` methods a fault-injecting wrapper passes straight to
/// its `inner` client unchanged.
macro_rules! forward_to_inner {
    () => {
        async fn list_releases(&self, next: Option<&str>) -> Result<Page<ReleaseInfo>, ApiError> {
            self.inner.list_releases(next).await
        }
        async fn create_draft(
            &self,
            tag: &str,
            name: &str,
            target: Option<&str>,
        ) -> Result<ReleaseInfo, ApiError> {
            self.inner.create_draft(tag, name, target).await
        }
        async fn list_assets(
            &self,
            id: u64,
            next: Option<&str>,
        ) -> Result<Page<AssetInfo>, ApiError> {
            self.inner.list_assets(id, next).await
        }
        async fn delete_asset(&self, id: u64) -> Result<(), ApiError> {
            self.inner.delete_asset(id).await
        }
    };
}

/// Delegates to the real client; the process "dies" after `after` uploads.
struct Crashing<'a> {
    inner: &'a GithubApi,
    after: usize,
    done: Cell<usize>,
}

impl ReleaseApi for Crashing<'_> {
    forward_to_inner!();
    async fn upload_asset(
        &self,
        release: &ReleaseInfo,
        name: &str,
        path: &Path,
        size: u64,
    ) -> Result<AssetInfo, ApiError> {
        if self.done.get() == self.after {
            return Err(ApiError::Other("simulated crash".into()));
        }
        self.done.set(self.done.get() + 1);
        self.inner.upload_asset(release, name, path, size).await
    }
    async fn publish_release(&self, id: u64) -> Result<ReleaseInfo, ApiError> {
        if self.done.get() >= self.after {
            return Err(ApiError::Other("simulated crash".into()));
        }
        self.inner.publish_release(id).await
    }
}

#[test]
fn crash_between_uploads_and_publish_then_rerun() {
    for after in [0, 3, 7] {
        let fake = fake_with_history();
        let dist = make_dist(&format!("crash{after}"));
        let rt = runtime();
        let _guard = rt.enter();
        let real = api(&fake, TOKEN);
        let crashing = Crashing {
            inner: &real,
            after,
            done: Cell::new(0),
        };
        let err = rt
            .block_on(publish(
                &crashing,
                &VirtualClock::new(),
                &opts(&dist),
                &Silent,
            ))
            .unwrap_err();
        assert!(err.to_string().contains("simulated crash"), "{err}");
        {
            let st = fake.state.lock().unwrap();
            let rel = st.release(TAG).unwrap();
            assert!(rel.draft, "not published after a crash");
            assert_eq!(st.assets_of(rel.id).len(), after);
        }
        run(&fake, &VirtualClock::new(), &opts(&dist)).unwrap();
        assert_converged(&fake, &dist, &[]);
        assert_eq!(uploads(&fake), 7, "nothing uploaded twice (after {after})");
    }
}

#[test]
fn differing_asset_fails_with_both_hashes_unless_replace() {
    let fake = fake_with_history();
    let dist = make_dist("mismatch");
    let local = collect_local(&dist).unwrap();
    let wheel = local.iter().find(|a| a.name.ends_with(".whl")).unwrap();
    let theirs = {
        let mut st = fake.state.lock().unwrap();
        let id = st.add_release(TAG, true);
        st.add_asset(id, &wheel.name, b"other bytes", "uploaded");
        st.assets.last().unwrap().digest().unwrap()
    };
    let err = run(&fake, &VirtualClock::new(), &opts(&dist)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&theirs) && msg.contains(&wheel.sha256),
        "{msg}"
    );
    assert!(msg.contains("--replace"), "{msg}");
    assert_eq!(uploads(&fake), 0, "refused before uploading");

    let mut o = opts(&dist);
    o.replace = true;
    let report = run(&fake, &VirtualClock::new(), &o).unwrap();
    assert!(report
        .actions
        .iter()
        .any(|a| matches!(a, Action::Replace { .. })));
    assert_converged(&fake, &dist, &[]);
}

#[test]
fn dry_run_reads_only() {
    let fake = fake_with_history();
    let dist = make_dist("dry");
    let mut o = opts(&dist);
    o.dry_run = true;
    let report = run(&fake, &VirtualClock::new(), &o).unwrap();
    let lines: Vec<String> = report.actions.iter().map(|a| a.to_string()).collect();
    assert_eq!(lines[0], format!("create draft release {TAG}"));
    assert_eq!(lines.iter().filter(|l| l.starts_with("upload ")).count(), 7);
    assert_eq!(
        lines.last().unwrap(),
        &format!("publish release {TAG} (draft -> false)")
    );
    let st = fake.state.lock().unwrap();
    assert!(st.log.iter().all(|l| l.starts_with("GET")));
    assert!(st.release(TAG).is_none());
}

#[test]
fn refuses_bad_wheel_before_any_request() {
    let fake = fake_with_history();
    let dist = make_dist("badwheel");
    // A wheel whose name does not match its contents.
    let wheels = dist.join("wheels");
    let good = fs_err::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .unwrap();
    let bad = wheels.join("attnfarm-2026.1.0+cu999torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl");
    fs_err::copy(&good, &bad).unwrap();
    let err = run(&fake, &VirtualClock::new(), &opts(&dist)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("expected exactly one dist-info"), "{msg}");
    assert!(msg.contains("not in SHA256SUMS"), "{msg}");
    assert!(fake.state.lock().unwrap().log.is_empty());
}

#[test]
fn refuses_too_many_assets() {
    let fake = fake_with_history();
    let dist = make_dist("toomany");
    {
        let mut st = fake.state.lock().unwrap();
        st.max_per_page = 100;
        let id = st.add_release(TAG, true);
        for i in 0..995 {
            st.add_asset(id, &format!("other-{i}.txt"), b"x", "uploaded");
        }
    }
    let err = run(&fake, &VirtualClock::new(), &opts(&dist)).unwrap_err();
    assert!(err.to_string().contains("would hold 1002 assets"), "{err}");
    assert_eq!(uploads(&fake), 0);
}

#[test]
fn refuses_assets_of_2_gib() {
    let dist = make_dist("huge");
    let wheels = dist.join("wheels");
    let big = wheels.join("big.bin");
    let f = fs_err::File::create(&big).unwrap();
    f.set_len(2 << 30).unwrap(); // sparse
    let mut sums = fs_err::read_to_string(dist.join("SHA256SUMS")).unwrap();
    sums.push_str(&format!("{}  big.bin\n", "0".repeat(64)));
    fs_err::write(dist.join("SHA256SUMS"), sums).unwrap();
    let err = collect_local(&dist).unwrap_err().to_string();
    assert!(err.contains("big.bin is 2147483648 bytes"), "{err}");
}

#[test]
fn bad_token_never_shown() {
    let fake = fake_with_history();
    let dist = make_dist("token");
    let secret = "ghp_wrong_secret_value";
    let err = run_as(&fake, secret, &VirtualClock::new(), &opts(&dist)).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("401"), "{shown}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(!shown.contains(TOKEN));
}

/// The CLI end to end: `--dry-run` prints the plan of actions and changes
/// nothing; a real run converges; the token appears in no output.
#[test]
fn cli_dry_run_then_publish() {
    let fake = fake_with_history();
    let dist = make_dist("cli");
    let matrix = xtask::testing::FIXTURE_MATRIX_PATH;
    let xtask = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([
                "publish",
                "--matrix",
                matrix,
                "--tag",
                TAG,
                "--timeout",
                "5",
            ])
            .arg("--dist")
            .arg(&dist)
            .args(["--api-url", &fake.url()])
            .args(extra)
            .env("GITHUB_TOKEN", TOKEN)
            .env_remove("GITHUB_API_URL")
            .env_remove("ATTNFARM_UPLOAD_URL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
        assert!(out.status.success(), "{stdout}\n{stderr}");
        stdout
    };
    let dry = xtask(&["--dry-run"]);
    let lines: Vec<&str> = dry.lines().collect();
    assert_eq!(lines[0], format!("would create draft release {TAG}"));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("would upload attnfarm-"))
            .count(),
        6
    );
    assert!(lines
        .iter()
        .any(|l| l.starts_with("would upload SHA256SUMS (")));
    assert!(fake.state.lock().unwrap().release(TAG).is_none());
    let real = xtask(&[]);
    assert!(real.contains(&format!("publish release {TAG}")), "{real}");
    assert!(real.contains("release: http://"), "{real}");
    assert_converged(&fake, &dist, &[]);
}

/// `upload_url` on another host: `Endpoints::uploads` redirects it (here to
/// the fake itself, which names an unreachable upload host).
#[test]
fn upload_host_override() {
    let fake = fake_with_history();
    fake.state.lock().unwrap().upload_host = Some("http://uploads.invalid:9".into());
    let dist = make_dist("uphost");
    publish_through(
        &fake,
        &dist,
        Endpoints {
            api: fake.url(),
            uploads: Some(fake.url()),
        },
    );
}

/// Another run uploads the same file between our listing and our upload:
/// GitHub answers 422 `already_exists`, resolved by comparing digests.
struct Racing<'a> {
    inner: &'a GithubApi,
    raced: Cell<bool>,
}

impl ReleaseApi for Racing<'_> {
    forward_to_inner!();
    async fn upload_asset(
        &self,
        release: &ReleaseInfo,
        name: &str,
        path: &Path,
        size: u64,
    ) -> Result<AssetInfo, ApiError> {
        if !self.raced.replace(true) {
            self.inner.upload_asset(release, name, path, size).await?;
        }
        self.inner.upload_asset(release, name, path, size).await
    }
    async fn publish_release(&self, id: u64) -> Result<ReleaseInfo, ApiError> {
        self.inner.publish_release(id).await
    }
}

#[test]
fn already_exists_is_resolved_by_digest() {
    let fake = fake_with_history();
    let dist = make_dist("race");
    let rt = runtime();
    let _guard = rt.enter();
    let real = api(&fake, TOKEN);
    let racing = Racing {
        inner: &real,
        raced: Cell::new(false),
    };
    let clock = VirtualClock::new();
    rt.block_on(publish(&racing, &clock, &opts(&dist), &Silent))
        .unwrap();
    assert!(clock.slept.borrow().is_empty(), "a 422 is not waited on");
    assert_eq!(uploads(&fake), 8, "7 assets plus the one that raced");
    assert_converged(&fake, &dist, &[]);
}

/// What `cargo xtask index` writes is what publish uploads: every wheel,
/// every `.metadata` file the index references, and `SHA256SUMS`.
#[test]
fn publishes_what_the_index_writer_references() {
    let from = make_dist("indexed");
    let dist = tmp("indexed-real").join("dist");
    fs_err::create_dir_all(dist.join("wheels")).unwrap();
    for e in fs_err::read_dir(from.join("wheels")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "whl") {
            fs_err::copy(&p, dist.join("wheels").join(p.file_name().unwrap())).unwrap();
        }
    }
    let matrix = xtask::testing::FIXTURE_MATRIX_PATH;
    let m = xtask::matrix::Matrix::load(Path::new(matrix)).unwrap();
    let plan = xtask::plan::Plan::from_matrix(&m, None);
    xtask::index::write_index(&plan, &dist, xtask::index::BaseUrl::Release, None).unwrap();
    let names: Vec<String> = collect_local(&dist)
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
    assert_eq!(
        names
            .iter()
            .filter(|n| n.ends_with(".whl.metadata"))
            .count(),
        3
    );
    assert!(names.contains(&"SHA256SUMS".to_string()));
    // A metadata file the index references but that is gone: refused.
    let meta = names.iter().find(|n| n.ends_with(".metadata")).unwrap();
    fs_err::remove_file(dist.join("wheels").join(meta)).unwrap();
    let err = collect_local(&dist).unwrap_err().to_string();
    assert!(
        err.contains(&format!("SHA256SUMS lists {meta}, which is not in")),
        "{err}"
    );
}

#[test]
fn publish_step_502_is_retried() {
    let (first, slept) = fault_then_rerun("patch502", Route::PatchRelease, Fault::BadGateway);
    first.unwrap();
    assert_eq!(slept, [Duration::from_secs(2)]);
}

#[test]
fn delete_of_leftover_retried_after_reset() {
    let fake = fake_with_history();
    let dist = make_dist("delete-reset");
    let local = collect_local(&dist).unwrap();
    {
        let mut st = fake.state.lock().unwrap();
        let id = st.add_release(TAG, true);
        st.add_asset(id, &local[2].name, b"", "starter");
    }
    fake.fault(Route::DeleteAsset, Fault::Reset);
    let clock = VirtualClock::new();
    run(&fake, &clock, &opts(&dist)).unwrap();
    assert_eq!(clock.slept.borrow().len(), 1);
    assert_converged(&fake, &dist, &[]);
}

/// GitHub Enterprise layout: the API under `/api/v3`, uploads elsewhere.
/// octocrab would prefix the API path to the upload URL; we must not.
#[test]
fn enterprise_api_path() {
    let fake = fake_with_history();
    fake.state.lock().unwrap().api_prefix = Some("/api/v3".into());
    let dist = make_dist("ghes");
    publish_through(
        &fake,
        &dist,
        Endpoints {
            api: format!("{}/api/v3", fake.url()),
            uploads: None,
        },
    );
    let st = fake.state.lock().unwrap();
    assert!(st.log.iter().any(|l| l.starts_with("POST /uploads/repos/")));
}

// ---------------------------------------------------------------------------
// The cumulative site: every published release's wheels, from GitHub's
// paged asset lists (digests), plus this run's.

fn full_plan() -> xtask::plan::Plan {
    let matrix = xtask::testing::FIXTURE_MATRIX_PATH;
    let m = xtask::matrix::Matrix::load(Path::new(matrix)).unwrap();
    xtask::plan::Plan::from_matrix(&m, None)
}

/// What `publish --site` does after publishing: list, group, write.
fn site(
    fake: &FakeGithub,
    o: &Options,
    dir: &Path,
) -> (Vec<xtask::index::site::VariantEntry>, serde_json::Value) {
    let rt = runtime();
    let _guard = rt.enter();
    let api = api(fake, TOKEN);
    let local = collect_local(&o.dist).unwrap();
    let wheels = rt
        .block_on(xtask::publish::site::site_wheels(
            &api,
            &VirtualClock::new(),
            o,
            &Silent,
            ("attnfarm", "attnfarm"),
            &local,
        ))
        .unwrap();
    let plan = full_plan();
    let (entries, unplaced) =
        xtask::index::site::entries(&plan, &wheels, "https://attnfarm.github.io/attnfarm/");
    // The history's `old.whl` is no wheel name: reported, left out.
    let names: Vec<&str> = unplaced.iter().map(|u| u.file.as_str()).collect();
    assert_eq!(names, ["old.whl"], "{unplaced:?}");
    xtask::index::write_tree(&plan, dir, &entries, None).unwrap();
    let json =
        serde_json::from_str(&fs_err::read_to_string(dir.join("variants.json")).unwrap()).unwrap();
    (entries, json)
}

fn old_wheel(version: &str, label: &str) -> String {
    format!("attnfarm-{version}+{label}-cp39-abi3-manylinux_2_28_x86_64.whl")
}

fn variant<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    json["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in variants.json"))
}

#[test]
fn site_keeps_every_published_release_across_pages() {
    // Pages of 2: both the release list and each asset list span pages.
    let fake = fake_with_history();
    let older = old_wheel("2025.12.0", "cu128torch2.9");
    let gone = old_wheel("2025.11.0", "cu126torch2.7");
    {
        let mut st = fake.state.lock().unwrap();
        let meta = format!("{older}.metadata");
        st.add_published(
            "v2025.12.0",
            &[
                (older.as_str(), b"wheel of december"),
                (meta.as_str(), b"Metadata-Version: 2.4\n"),
                ("SHA256SUMS", b"x"),
                ("notes.txt", b"x"),
            ],
        );
        // A variant the matrix no longer lists (torch 2.7 built with CUDA 12.6).
        st.add_published("v2025.11.0", &[(gone.as_str(), b"wheel of november")]);
        // Not served: a draft, a pre-release, a failed upload's leftover.
        let draft = st.add_release("v2026.9.0", true);
        st.add_asset(
            draft,
            &old_wheel("2026.9.0", "cu128torch2.9"),
            b"draft",
            "uploaded",
        );
        let pre = st.add_published(
            "v2026.8.0rc1",
            &[(old_wheel("2026.8.0rc1", "cu128torch2.9").as_str(), b"rc")],
        );
        st.releases
            .iter_mut()
            .find(|r| r.id == pre)
            .unwrap()
            .prerelease = true;
        let broken = st.add_release("v2025.10.0", false);
        st.add_asset(
            broken,
            &old_wheel("2025.10.0", "cu128torch2.9"),
            b"",
            "starter",
        );
    }
    let dist = make_dist("site-cumulative");
    let o = opts(&dist);
    run(&fake, &VirtualClock::new(), &o).unwrap();
    let dir = tmp("site-cumulative-out").join("site");
    let (entries, json) = site(&fake, &o, &dir);
    assert_eq!(json["latest"], "2026.1.0");
    let cu12 = variant(&json, "cu12-torch2.9-linux_x86_64");
    let files: Vec<&str> = cu12["wheels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl",
            older.as_str()
        ],
        "newest first; drafts, pre-releases and leftovers left out"
    );
    let december = &cu12["wheels"][1];
    assert_eq!(
        december["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"wheel of december"))
    );
    assert_eq!(
        december["url"],
        "https://github.com/attnfarm/attnfarm/releases/download/v2025.12.0/attnfarm-2025.12.0%2Bcu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl"
    );
    assert_eq!(december["release"], "v2025.12.0");
    assert!(december["metadata_sha256"].is_string());
    assert_eq!(cu12["kind"], "per-minor");
    assert_eq!(cu12["torch_minors"][0], "2.9");
    assert_eq!(cu12["torch_requirement"], "torch>=2.9,<2.10");
    assert_eq!(cu12["cuda_major"], 12);
    assert_eq!(cu12["requires_python"], ">=3.10");
    assert_eq!(cu12["arches"][0], "sm_80");
    assert_eq!(
        cu12["index_url"],
        "https://attnfarm.github.io/attnfarm/cu12-torch2.9-linux_x86_64/simple/"
    );
    // The variant the matrix dropped stays installable.
    let old = variant(&json, "cu12-torch2.7-linux_x86_64");
    assert_eq!(old["wheels"][0]["file"], gone.as_str());
    // Its project page links both wheels; pip picks the newest.
    let page =
        fs_err::read_to_string(dir.join("cu12-torch2.9-linux_x86_64/simple/attnfarm/index.html"))
            .unwrap();
    assert!(page.contains(&format!(">{older}</a>")), "{page}");
    assert!(page.contains("2026.1.0%2Bcu128torch2.9"), "{page}");
    assert_eq!(entries.len(), json["variants"].as_array().unwrap().len());
    // The listings really were paged (2 per page).
    let log = fake.state.lock().unwrap().log.clone();
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /repos/attnfarm/attnfarm/releases?per_page=2&page=")),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.contains("/assets?per_page=2&page=2")),
        "{log:?}"
    );
}

#[test]
fn re_releasing_an_old_version_does_not_roll_the_site_back() {
    let fake = fake_with_history();
    let newer = old_wheel("2026.2.0", "cu128torch2.9");
    fake.state
        .lock()
        .unwrap()
        .add_published("v2026.2.0", &[(newer.as_str(), b"wheel of february")]);
    // Re-run the 2026.1.0 release after 2026.2.0 is out.
    let dist = make_dist("site-rerelease");
    let o = opts(&dist);
    run(&fake, &VirtualClock::new(), &o).unwrap();
    let dir = tmp("site-rerelease-out").join("site");
    let (_, json) = site(&fake, &o, &dir);
    assert_eq!(json["latest"], "2026.2.0");
    let cu12 = variant(&json, "cu12-torch2.9-linux_x86_64");
    assert_eq!(cu12["wheels"][0]["file"], newer.as_str());
    assert_eq!(cu12["wheels"][1]["release"], TAG);
    let landing = fs_err::read_to_string(dir.join("index.html")).unwrap();
    assert!(landing.contains("<h1>attnfarm 2026.2.0</h1>"), "{landing}");
    // The variant only the re-released version has is still there.
    assert_eq!(
        variant(&json, "cu13-torchstable2.10-linux_x86_64")["wheels"][0]["release"],
        TAG
    );
}

#[test]
fn dry_run_site_adds_this_runs_wheels_and_changes_nothing() {
    let fake = fake_with_history();
    let older = old_wheel("2025.12.0", "cu128torch2.9");
    fake.state
        .lock()
        .unwrap()
        .add_published("v2025.12.0", &[(older.as_str(), b"wheel of december")]);
    let dist = make_dist("site-dry");
    let mut o = opts(&dist);
    o.dry_run = true;
    o.notes = Some("## notes\n".into());
    let report = run(&fake, &VirtualClock::new(), &o).unwrap();
    assert!(report
        .actions
        .iter()
        .any(|a| matches!(a, Action::SetNotes { .. })));
    assert!(fake.state.lock().unwrap().release(TAG).is_none());
    let dir = tmp("site-dry-out").join("site");
    let (_, json) = site(&fake, &o, &dir);
    let cu12 = variant(&json, "cu12-torch2.9-linux_x86_64");
    assert_eq!(cu12["wheels"][0]["release"], TAG);
    assert_eq!(cu12["wheels"][1]["file"], older.as_str());
    let local = collect_local(&dist).unwrap();
    let ours = local
        .iter()
        .find(|a| a.name == cu12["wheels"][0]["file"])
        .unwrap();
    assert_eq!(cu12["wheels"][0]["sha256"], ours.sha256.as_str());
}

#[test]
fn release_notes_are_set_and_kept_current() {
    let fake = fake_with_history();
    let dist = make_dist("notes");
    let mut o = opts(&dist);
    o.notes = Some("## attnfarm 2026.1.0\n\nfirst\n".into());
    run(&fake, &VirtualClock::new(), &o).unwrap();
    let body = |f: &FakeGithub| f.state.lock().unwrap().release(TAG).unwrap().body.clone();
    assert_eq!(body(&fake).as_deref(), o.notes.as_deref());
    // A re-run with other notes (e.g. a partial release completed) updates them.
    o.notes = Some("## attnfarm 2026.1.0\n\nsecond\n".into());
    run(&fake, &VirtualClock::new(), &o).unwrap();
    assert_eq!(body(&fake).as_deref(), o.notes.as_deref());
    assert_converged(&fake, &dist, &[]);
}

#[test]
fn an_index_without_variants_json_is_refused() {
    let dist = make_dist("no-variants-json");
    fs_err::remove_file(dist.join("index/variants.json")).unwrap();
    let err = collect_local(&dist).unwrap_err().to_string();
    assert!(err.contains("variants.json: missing"), "{err}");
    assert!(err.contains("run `cargo xtask index` again"), "{err}");
}

/// The `attnfarm-farm` release files the workflow puts in `dist/farm/`
/// (dist's archives, installers, checksums) go to the same release as the
/// wheels, digest-checked like them; a name that collides with a wheel-side
/// asset is refused.
#[test]
fn farm_binaries_and_installers_join_the_wheels() {
    let fake = fake_with_history();
    let dist = make_dist("farm");
    let farm = dist.join(xtask::publish::FARM_DIR);
    fs_err::create_dir_all(&farm).unwrap();
    let files = [
        "attnfarm-farm-x86_64-unknown-linux-gnu.tar.xz",
        "attnfarm-farm-x86_64-unknown-linux-gnu.tar.xz.sha256",
        "attnfarm-farm-x86_64-pc-windows-msvc.zip",
        "attnfarm-farm-installer.sh",
        "attnfarm-farm-installer.ps1",
        "sha256.sum",
    ];
    for f in files {
        fs_err::write(farm.join(f), format!("contents of {f}\n")).unwrap();
    }
    let local = collect_local(&dist).unwrap();
    for f in files {
        assert!(local.iter().any(|a| a.name == f), "{f} not collected");
    }
    let clock = VirtualClock::new();
    run(&fake, &clock, &opts(&dist)).unwrap();
    assert_converged(&fake, &dist, &[]);
    assert_eq!(uploads(&fake), 7 + files.len());

    fs_err::write(farm.join("SHA256SUMS"), "not ours").unwrap();
    let err = collect_local(&dist).unwrap_err().to_string();
    assert!(
        err.contains("has the same name as a wheel-side asset"),
        "{err}"
    );
}
