//! The site the pip indexes are served from, as data (pure): every wheel
//! that is (or is about to be) a release asset, grouped into variants,
//! newest first, and `variants.json`, the machine-readable list the install
//! helper and `publish` read instead of scraping HTML.
//!
//! The site is cumulative: `publish --site` feeds it the wheels of every
//! published release (GitHub's asset list, with digests) plus this run's,
//! so a release never drops older ones from the indexes, and re-releasing
//! an old version does not roll the landing page back (it shows the
//! highest version of each variant).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use super::render::FileLink;
use super::urls::{asset_url, variant_index};
use crate::plan::{Plan, Variant};
use crate::wheel::filename::WheelFilename;

/// `variants.json`'s schema version.
pub const VARIANTS_SCHEMA: u32 = 1;

/// One wheel on the site. Ex) file `attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-win_amd64.whl`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteWheel {
    /// The release it belongs to. Ex) `v2026.1.0`
    pub tag: String,
    pub link: FileLink,
}

/// A variant and its wheels, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariantEntry {
    /// Ex) `cu12-torch2.9-linux_x86_64`
    pub id: String,
    /// What the wheels are tied to: `per-minor` (one torch minor) or
    /// `stable` (LibTorch's stable ABI: `torch` and every later minor).
    pub kind: String,
    /// The torch line (`stable`: the floor). Ex) `2.9`
    pub torch: String,
    /// The torch minors the wheels are known to serve (the plan's load-test
    /// torches; a variant the matrix dropped: its own line). Ex) `["2.9"]`
    pub torch_minors: Vec<String>,
    /// The wheels' torch requirement. Ex) `torch>=2.9,<2.10`
    pub torch_requirement: String,
    pub cuda_major: u32,
    /// The toolkit the newest wheel was compiled with. Ex) `12.8`
    pub toolkit: String,
    /// Ex) `linux_x86_64`
    pub platform: String,
    /// Ex) `>=3.10`; absent for a variant the matrix no longer lists.
    pub requires_python: Option<String>,
    /// SASS arches (and PTX) per the matrix; empty for a variant it no longer lists.
    pub arches: Vec<String>,
    pub ptx: Option<String>,
    /// This variant's `simple/` root. Ex) `https://o.github.io/r/cu12-torch2.9-linux_x86_64/simple/`
    pub index_url: String,
    pub wheels: Vec<WheelEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WheelEntry {
    /// Ex) `2026.1.0+cu128torch2.9`
    pub version: String,
    pub release: String,
    pub file: String,
    pub url: String,
    pub sha256: String,
    /// sha256 of `<file>.metadata` (PEP 658), where that file exists.
    pub metadata_sha256: Option<String>,
    #[serde(skip)]
    pub requires_python: Option<String>,
}

impl VariantEntry {
    pub fn newest(&self) -> &WheelEntry {
        &self.wheels[0]
    }

    /// The project page links of every wheel, newest first.
    pub fn links(&self) -> Vec<FileLink> {
        self.wheels
            .iter()
            .map(|w| FileLink {
                file: w.file.clone(),
                url: w.url.clone(),
                sha256: w.sha256.clone(),
                requires_python: w.requires_python.clone(),
                metadata_sha256: w.metadata_sha256.clone(),
            })
            .collect()
    }
}

/// Kinds, as the plan names them (`plan::VariantKind::as_str`).
pub const PER_MINOR: &str = "per-minor";
pub const STABLE: &str = "stable";

/// The label's facts: `2026.1.0+cu128torch2.9` → (12, `12.8`, `2.9`,
/// per-minor); `2026.1.0+cu130torchstable2.10` → (13, `13.0`, `2.10`, stable).
fn parse_label(version: &str) -> Option<(u32, String, String, &'static str)> {
    let label = version.split_once('+')?.1;
    let rest = label.strip_prefix("cu")?;
    let (cuda, torch) = rest.split_once("torch")?;
    let (torch, kind) = match torch.strip_prefix("stable") {
        Some(floor) => (floor, STABLE),
        None => (torch, PER_MINOR),
    };
    if cuda.len() < 2 || !cuda.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (major, minor) = cuda.split_at(cuda.len() - 1);
    let mut parts = torch.split('.');
    let (m, n) = (parts.next()?, parts.next()?);
    if parts.next().is_some() || m.parse::<u32>().is_err() || n.parse::<u32>().is_err() {
        return None;
    }
    Some((
        major.parse().ok()?,
        format!("{major}.{minor}"),
        torch.to_string(),
        kind,
    ))
}

/// Orders public versions numerically, segment by segment (`2026.10.0` >
/// `2026.9.1`); a non-numeric segment sorts by text after numbers.
pub fn cmp_versions(a: &str, b: &str) -> Ordering {
    let key = |v: &str| -> Vec<(u64, String)> {
        v.split('+')
            .next()
            .unwrap_or(v)
            .split('.')
            .map(|s| match s.parse::<u64>() {
                Ok(n) => (n, String::new()),
                Err(_) => (u64::MAX, s.to_string()),
            })
            .collect()
    };
    key(a).cmp(&key(b))
}

/// The torch requirement of a plan variant. Ex) `torch>=2.9,<2.10`
fn torch_requirement(v: &Variant) -> String {
    v.requires_dist
        .iter()
        .find(|r| r.starts_with("torch"))
        .cloned()
        .unwrap_or_else(|| format!("torch=={}.*", v.torch))
}

/// Why a wheel could not be placed on the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaced {
    pub tag: String,
    pub file: String,
    pub why: String,
}

/// Groups `wheels` into variants (sorted like the plan, then by id), each
/// with its wheels newest first. A wheel is placed by its file name (local
/// label and platform tag); facts the name does not carry (Python floor,
/// arches) come from the plan for the variants it still has. `index_base`:
/// the URL the site is served from (empty: relative to the site root; see
/// [`super::urls::site_base`]).
pub fn entries(
    plan: &Plan,
    wheels: &[SiteWheel],
    index_base: &str,
) -> (Vec<VariantEntry>, Vec<Unplaced>) {
    let mut by_id: BTreeMap<String, VariantEntry> = BTreeMap::new();
    let mut unplaced = Vec::new();
    for w in wheels {
        let name: WheelFilename = match w.link.file.parse() {
            Ok(n) => n,
            Err(e) => {
                unplaced.push(Unplaced {
                    tag: w.tag.clone(),
                    file: w.link.file.clone(),
                    why: format!("{e}"),
                });
                continue;
            }
        };
        let Some((cuda_major, toolkit, torch, kind)) = parse_label(&name.version) else {
            unplaced.push(Unplaced {
                tag: w.tag.clone(),
                file: w.link.file.clone(),
                why: "its version has no `+cu<XY>torch<M>.<m>` label".into(),
            });
            continue;
        };
        let platform = name.platform.platform();
        let Ok(minor) = torch.parse::<crate::versions::TorchMinor>() else {
            continue;
        };
        // The plan's id scheme: `cu13-torch2.11-…`, `cu13-torchstable2.10-…`.
        let id = match kind {
            STABLE => crate::plan::stable_variant_id(cuda_major, minor, platform),
            _ => crate::plan::variant_id(cuda_major, minor, platform),
        }
        .to_string();
        let planned = plan.find(&id);
        let entry = by_id.entry(id.clone()).or_insert_with(|| VariantEntry {
            id: id.clone(),
            kind: kind.to_string(),
            torch: torch.clone(),
            torch_minors: match planned {
                Some(v) if !v.load_test.is_empty() => {
                    let mut m: Vec<String> = v
                        .load_test
                        .iter()
                        .map(|t| t.build.minor_line().to_string())
                        .collect();
                    m.dedup();
                    m
                }
                _ => vec![torch.clone()],
            },
            torch_requirement: planned.map(torch_requirement).unwrap_or_else(|| {
                if kind == STABLE {
                    return format!("torch>={torch}");
                }
                let (m, n) = torch.split_once('.').unwrap_or((&torch, "0"));
                let next: u32 = n.parse::<u32>().unwrap_or(0) + 1;
                format!("torch>={torch},<{m}.{next}")
            }),
            cuda_major,
            toolkit: toolkit.clone(),
            platform: platform.to_string(),
            requires_python: planned.map(|v| v.requires_python.to_string()),
            arches: planned
                .map(|v| v.arches.iter().map(|a| a.to_string()).collect())
                .unwrap_or_default(),
            ptx: planned.and_then(|v| v.ptx.map(|a| a.to_string())),
            index_url: variant_index(index_base, &id),
            wheels: Vec::new(),
        });
        if entry.wheels.iter().any(|e| e.file == w.link.file) {
            // The same file in two releases: keep the first (newest release).
            continue;
        }
        let requires_python = w.link.requires_python.clone().or_else(|| {
            planned
                .filter(|v| v.version == name.version)
                .map(|v| v.requires_python.to_string())
        });
        entry.wheels.push(WheelEntry {
            version: name.version.to_string(),
            release: w.tag.clone(),
            file: w.link.file.clone(),
            url: w.link.url.clone(),
            sha256: w.link.sha256.clone(),
            metadata_sha256: w.link.metadata_sha256.clone(),
            requires_python,
        });
    }
    let mut out: Vec<VariantEntry> = by_id.into_values().collect();
    for e in &mut out {
        e.wheels
            .sort_by(|a, b| cmp_versions(&b.version, &a.version).then(a.file.cmp(&b.file)));
        // The toolkit of the newest wheel, from its label.
        if let Some((_, t, _, _)) = parse_label(&e.wheels[0].version) {
            e.toolkit = t;
        }
    }
    let pos = |id: &str| {
        plan.variants
            .iter()
            .position(|v| v.id == id)
            .unwrap_or(usize::MAX)
    };
    out.sort_by(|a, b| pos(&a.id).cmp(&pos(&b.id)).then(a.id.cmp(&b.id)));
    (out, unplaced)
}

/// The highest public version on the site. Ex) `2026.1.0`
pub fn latest_version(entries: &[VariantEntry]) -> Option<String> {
    entries
        .iter()
        .flat_map(|e| e.wheels.iter())
        .map(|w| {
            w.version
                .split('+')
                .next()
                .unwrap_or(&w.version)
                .to_string()
        })
        .max_by(|a, b| cmp_versions(a, b))
}

#[derive(Serialize)]
struct VariantsJson<'a> {
    schema: u32,
    project: &'a str,
    latest: Option<String>,
    variants: &'a [VariantEntry],
}

/// `variants.json`: every variant with its index URL and wheels (URL,
/// sha256), newest first.
pub fn variants_json(project: &str, entries: &[VariantEntry]) -> String {
    let mut s = serde_json::to_string_pretty(&VariantsJson {
        schema: VARIANTS_SCHEMA,
        project,
        latest: latest_version(entries),
        variants: entries,
    })
    .expect("plain data serialises");
    s.push('\n');
    s
}

/// Every plan variant with a placeholder wheel (zero digest, this
/// release's URL): what the landing page will look like once all of them
/// are published (`cargo xtask index --preview`).
pub fn preview_entries(plan: &Plan) -> Vec<VariantEntry> {
    let tag = plan.release.tag_for(&plan.package.version);
    let wheels: Vec<SiteWheel> = plan
        .variants
        .iter()
        .map(|v| {
            let file = v.wheel.to_string();
            SiteWheel {
                tag: tag.clone(),
                link: FileLink {
                    url: asset_url(&plan.release.owner, &plan.release.repo, &tag, &file),
                    file,
                    sha256: "0".repeat(64),
                    requires_python: Some(v.requires_python.to_string()),
                    metadata_sha256: None,
                },
            }
        })
        .collect();
    entries(plan, &wheels, &plan.release.pages).0
}
