use super::*;
use crate::matrix::Matrix;
use crate::platform::Platform;
use crate::wheel::{write_wheel, Entry, WheelSpec};

pub(crate) fn default_plan() -> Plan {
    let m = Matrix::parse("matrix.yaml", crate::testing::FIXTURE_MATRIX).unwrap();
    Plan::from_matrix(&m, Some(Platform::LinuxX86_64))
}

pub(crate) fn fixture_wheel(plan: &Plan, id: &str, dir: &Path) -> crate::wheel::WrittenWheel {
    let v = plan.find(id).unwrap();
    let spec = WheelSpec {
        filename: v.wheel.clone(),
        metadata: crate::wheel::metadata::CoreMetadata {
            name: plan.package.name.clone(),
            version: v.version.clone(),
            summary: plan.package.summary.clone(),
            license_expression: plan.package.license.clone(),
            license_files: vec![],
            requires_dist: v.requires_dist.clone(),
            requires_python: v.requires_python.clone(),
            project_urls: Default::default(),
            description: None,
        },
        generator: "test".into(),
        licenses: vec![],
    };
    let payload = vec![
        Entry::bytes("attnfarm/__init__.py", format!("VARIANT = {:?}\n", v.id)),
        Entry::bytes("attnfarm/_C.abi3.so", b"not really a library".to_vec()),
    ];
    write_wheel(&spec, &payload, dir, Some(1_700_000_000)).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attnfarm-index-{name}-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&d);
    fs_err::create_dir_all(&d).unwrap();
    d
}

fn mask(s: &str) -> String {
    // Wheel digests depend on the zip library's deflate output; mask them.
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("sha256") {
        let (a, b) = rest.split_at(i);
        out.push_str(a);
        let skip = b
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '=' || c == ' '))
            .unwrap_or(b.len());
        out.push_str("sha256=[digest]");
        rest = &b[skip..];
    }
    out.push_str(rest);
    out
}

#[test]
fn pages_snapshot() {
    let plan = default_plan();
    let dist = tmp("pages");
    fixture_wheel(&plan, "cu12-torch2.9-linux_x86_64", &dist.join("wheels"));
    fixture_wheel(
        &plan,
        "cu13-torchstable2.10-linux_x86_64",
        &dist.join("wheels"),
    );
    let report = write_index(&plan, &dist, BaseUrl::Release, None).unwrap();
    assert_eq!(report.variants.len(), 2);
    assert_eq!(report.missing.len(), 4);
    let read = |p: &str| fs_err::read_to_string(dist.join(p)).unwrap();
    insta::assert_snapshot!(
        "project_page_release",
        mask(&read(
            "index/cu12-torch2.9-linux_x86_64/simple/attnfarm/index.html"
        ))
    );
    insta::assert_snapshot!(
        "root_page",
        read("index/cu12-torch2.9-linux_x86_64/simple/index.html")
    );
    insta::assert_snapshot!("landing_page_release", mask(&read("index/index.html")));
    // Each index holds only its own variant.
    let cu13 = read("index/cu13-torchstable2.10-linux_x86_64/simple/attnfarm/index.html");
    assert!(cu13.contains("cu130torchstable2.10") && !cu13.contains("cu128torch2.9"));
    // SHA256SUMS covers wheels and metadata files and matches the bytes.
    let sums = read("SHA256SUMS");
    assert_eq!(sums.lines().count(), 4);
    for line in sums.lines() {
        let (hex, file) = line.split_once("  ").unwrap();
        assert_eq!(
            sha256_file(&dist.join("wheels").join(file)).unwrap().0,
            hex,
            "{file}"
        );
    }
}

#[test]
fn local_links_are_relative_and_resolve() {
    let plan = default_plan();
    let dist = tmp("local");
    let w = fixture_wheel(&plan, "cu12-torch2.9-linux_x86_64", &dist.join("wheels"));
    write_index(&plan, &dist, BaseUrl::Local, None).unwrap();
    let page_dir = dist.join("index/cu12-torch2.9-linux_x86_64/simple/attnfarm");
    let html = fs_err::read_to_string(page_dir.join("index.html")).unwrap();
    let href = hrefs(&html).remove(0);
    // <dist>/index/<id>/simple/<project>/ is four levels below <dist>.
    assert!(
        href.starts_with("../../../../wheels/attnfarm-2026.1.0%2Bcu128torch2.9-"),
        "{href}"
    );
    assert_eq!(
        resolve(&page_dir, &href),
        fs_err::canonicalize(&w.path).unwrap()
    );
    // The landing page and variants.json sit at the site root: one level.
    let landing = fs_err::read_to_string(dist.join("index/index.html")).unwrap();
    assert!(
        landing.contains("href=\"../wheels/attnfarm-2026.1.0%2Bcu128torch2.9-"),
        "{landing}"
    );
    assert!(!landing.contains("127.0.0.1"), "{landing}");
    assert!(
        landing.contains("--index-url cu12-torch2.9-linux_x86_64/simple/ attnfarm"),
        "{landing}"
    );
}

/// Every `href` of `html`, fragment cut, entities decoded.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| {
            let value = &rest[..rest.find('"').unwrap()];
            crate::fsx::html_unescape(value.split('#').next().unwrap())
        })
        .collect()
}

/// `href` (percent-encoded, relative) resolved against `dir` as a browser
/// or pip would against the page's URL; a directory means its
/// `index.html`. Panics if nothing exists there.
fn resolve(dir: &Path, href: &str) -> PathBuf {
    assert!(urls::is_relative(href), "a local link is absolute: {href}");
    let decoded = crate::fsx::percent_decode(href).unwrap();
    let mut p = dir.join(&decoded);
    if decoded.is_empty() || decoded.ends_with('/') {
        p.push("index.html");
    }
    fs_err::canonicalize(&p)
        .unwrap_or_else(|e| panic!("`{href}` from {} leads nowhere: {e}", dir.display()))
}

#[test]
fn every_local_link_resolves_to_a_file() {
    let plan = default_plan();
    let dist = tmp("hrefs");
    for id in [
        "cu12-torch2.9-linux_x86_64",
        "cu13-torchstable2.10-linux_x86_64",
    ] {
        fixture_wheel(&plan, id, &dist.join("wheels"));
    }
    let helper = dist.join("install.py");
    fs_err::write(&helper, "print('helper')\n").unwrap();
    write_index(&plan, &dist, BaseUrl::Local, Some(&helper)).unwrap();
    let root = fs_err::canonicalize(&dist).unwrap();
    let mut pages = vec![dist.join("index")];
    let mut checked = 0;
    while let Some(dir) = pages.pop() {
        for e in fs_err::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pages.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "html") {
                continue;
            }
            let html = fs_err::read_to_string(&p).unwrap();
            for href in hrefs(&html) {
                let target = resolve(&dir, &href);
                assert!(
                    target.starts_with(&root),
                    "{href} leaves {}",
                    root.display()
                );
                assert!(target.is_file(), "{href} from {}", p.display());
                checked += 1;
            }
        }
    }
    // 2 project pages + 2 root pages + the landing page (2 wheels, install.py, variants.json).
    assert_eq!(checked, 2 + 2 + 4);
    // variants.json's URLs are relative to where it lies, too.
    let site = dist.join("index");
    let json: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(site.join("variants.json")).unwrap()).unwrap();
    for v in json["variants"].as_array().unwrap() {
        let index = v["index_url"].as_str().unwrap();
        assert!(resolve(&site, index).is_file(), "{index}");
        assert!(
            resolve(&site, &format!("{index}attnfarm/")).is_file(),
            "{index}"
        );
        for w in v["wheels"].as_array().unwrap() {
            let url = w["url"].as_str().unwrap();
            assert!(
                resolve(&site, url).starts_with(root.join("wheels")),
                "{url}"
            );
        }
    }
}

#[test]
fn release_urls_encode_plus() {
    let plan = default_plan();
    assert_eq!(
        release_url(&plan, "attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-win_amd64.whl"),
        "https://github.com/attnfarm/attnfarm/releases/download/v2026.1.0/attnfarm-2026.1.0%2Bcu128torch2.9-cp39-abi3-win_amd64.whl"
    );
}

#[test]
fn stray_and_missing_wheels() {
    let plan = default_plan();
    let dist = tmp("stray");
    insta::assert_snapshot!(write_index(&plan, &dist, BaseUrl::Local, None).unwrap_err().to_string().replace(&dist.display().to_string(), "[dist]"), @"[dist]/wheels holds no wheels: run `cargo xtask build-matrix` first");
    let mut other = plan.clone();
    other.package.version = "2025.9.0".parse().unwrap();
    for v in &mut other.variants {
        v.version = v.version.replace("2026.1.0", "2025.9.0").parse().unwrap();
        v.wheel.version = v.version.clone();
    }
    fixture_wheel(&other, "cu12-torch2.9-linux_x86_64", &dist.join("wheels"));
    insta::assert_snapshot!(write_index(&plan, &dist, BaseUrl::Local, None).unwrap_err(), @"attnfarm-2025.9.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl matches no variant of the plan (version `2025.9.0+cu128torch2.9`, platform manylinux_2_28_x86_64); remove it or build it from this matrix");
}

#[test]
fn helper_gets_the_base_url() {
    let plan = default_plan();
    let dist = tmp("helper");
    fixture_wheel(&plan, "cu12-torch2.9-linux_x86_64", &dist.join("wheels"));
    let helper = dist.join("install.py");
    fs_err::write(&helper, format!("BASE = \"{HELPER_BASE_PLACEHOLDER}\"\n")).unwrap();
    write_index(&plan, &dist, BaseUrl::Release, Some(&helper)).unwrap();
    assert_eq!(
        fs_err::read_to_string(dist.join("index/install.py")).unwrap(),
        "BASE = \"https://attnfarm.github.io/attnfarm/\"\n"
    );
    assert!(fs_err::read_to_string(dist.join("index/index.html"))
        .unwrap()
        .contains("href=\"install.py\""));
}

#[test]
fn escapes_requires_python() {
    let html = render::project_page(
        "attnfarm",
        &[FileLink {
            file: "a-1-cp39-abi3-win_amd64.whl".into(),
            url: "u".into(),
            sha256: "00".into(),
            requires_python: Some(">=3.9,<4".into()),
            metadata_sha256: None,
        }],
    );
    assert!(
        html.contains("data-requires-python=\"&gt;=3.9,&lt;4\""),
        "{html}"
    );
}

#[test]
fn site_places_stable_and_dropped_variants_by_label() {
    use site::{entries, SiteWheel};
    let plan = default_plan();
    let wheel = |tag: &str, file: &str| SiteWheel {
        tag: tag.into(),
        link: FileLink {
            file: file.into(),
            url: format!("https://x/{file}"),
            sha256: "ab".repeat(32),
            requires_python: None,
            metadata_sha256: None,
        },
    };
    let (es, unplaced) = entries(
        &plan,
        &[
            wheel(
                "v2027.1.0",
                "attnfarm-2027.1.0+cu130torchstable2.10-cp39-abi3-manylinux_2_28_x86_64.whl",
            ),
            wheel(
                "v2025.1.0",
                "attnfarm-2025.1.0+cu126torch2.6-cp39-abi3-win_amd64.whl",
            ),
            wheel("v2025.1.0", "not-a-wheel.whl"),
        ],
        "https://o.github.io/r/",
    );
    assert_eq!(unplaced.len(), 1);
    let stable = es
        .iter()
        .find(|e| e.id == "cu13-torchstable2.10-linux_x86_64")
        .unwrap();
    assert_eq!(
        (stable.kind.as_str(), stable.torch.as_str()),
        ("stable", "2.10")
    );
    assert_eq!(stable.torch_requirement, "torch>=2.10");
    assert_eq!(stable.toolkit, "13.0");
    let old = es
        .iter()
        .find(|e| e.id == "cu12-torch2.6-win_amd64")
        .unwrap();
    assert_eq!(old.torch_requirement, "torch>=2.6,<2.7");
    assert_eq!(old.requires_python, None);
    assert!(old.arches.is_empty());
    // The selector offers a stable variant for every torch minor it serves.
    let mut e = stable.clone();
    e.torch_minors = vec!["2.10".into(), "2.11".into()];
    let html = render::landing_page("attnfarm", "2027.1.0", &[e], false);
    for t in ["2_10", "2_11"] {
        assert!(
            html.contains(&format!("body:has(#p-linux_x86_64:checked):has(#t-{t}:checked):has(#c-13:checked) #cmd-cu13-torchstable2_10-linux_x86_64{{display:block}}")),
            "{html}"
        );
    }
    assert!(html.contains("<td>2.10 and later</td>"), "{html}");
    // Default choice: the newest torch it serves.
    assert!(html.contains("id=\"t-2_11\" checked"), "{html}");
}

#[test]
fn versions_sort_numerically() {
    use std::cmp::Ordering::*;
    assert_eq!(site::cmp_versions("2026.10.0", "2026.9.1"), Greater);
    assert_eq!(
        site::cmp_versions("2026.1.0+cu128torch2.9", "2026.1.0"),
        Equal
    );
    assert_eq!(site::cmp_versions("2025.12.0", "2026.1.0"), Less);
}
