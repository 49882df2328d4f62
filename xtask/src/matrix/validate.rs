//! Raw shapes → the validated model. Every problem is collected with the
//! position of the value it is about; `Matrix::parse` sorts and reports them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::locate::{Pos, Positions};
use super::model::*;
use super::raw::*;
use super::{Problem, SCHEMA, STABLE_ABI_MIN};
use crate::names::PackageName;
use crate::platform::{GlibcVersion, Platform};
use crate::versions::{
    CudaVersion, PythonTag, RequiresPython, SmArch, TorchMinor, TorchRelease, Version,
};

/// Checks a parsed file; on success the matrix, else every problem found
/// (unsorted).
pub(super) fn validate(
    file: &str,
    raw: RawMatrix,
    positions: &Positions,
) -> Result<Matrix, Vec<Problem>> {
    let mut v = Validator {
        pos: positions,
        problems: Vec::new(),
    };
    let matrix = v.matrix(file, raw);
    if v.problems.is_empty() {
        Ok(matrix.expect("no problems means a matrix"))
    } else {
        Err(v.problems)
    }
}

struct Validator<'a> {
    pos: &'a Positions,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            pos,
            message: message.into(),
        });
    }

    fn at(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.pos.get(path);
        self.err(pos, format!("{path}: {}", message.into()));
    }

    fn at_key(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.pos.key(path);
        self.err(pos, format!("{path}: {}", message.into()));
    }

    fn parse<T: std::str::FromStr>(&mut self, path: &str, s: &str) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        match s.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.at(path, e.to_string());
                None
            }
        }
    }

    fn platform_key(&mut self, path: &str, s: &str) -> Option<Platform> {
        match s.parse::<Platform>() {
            Ok(p) => Some(p),
            Err(e) => {
                self.at_key(path, e.to_string());
                None
            }
        }
    }

    fn matrix(&mut self, file: &str, raw: RawMatrix) -> Option<Matrix> {
        if raw.schema != SCHEMA {
            self.at(
                "schema",
                format!(
                    "unsupported schema `{}` (this farm reads schema {SCHEMA})",
                    raw.schema
                ),
            );
        }
        let package = self.package(raw.package);
        let indexes = self.indexes(&raw.indexes);
        let platforms = self.platforms(&raw.platforms);
        let toolkits = self.toolkits(&raw.toolkits, &platforms);
        let abi3 = package.as_ref().map(|p| p.abi3);
        let torch = self.torch(&raw.torch, &toolkits, &platforms, &indexes, abi3);
        let stable = raw.stable.as_ref().and_then(|s| self.stable(s, &torch));
        let exclude = self.excludes(&raw.exclude);
        let release = self.release(&raw.release);

        // Excludes must each remove something, and something must remain.
        let draft = Matrix {
            file: file.to_string(),
            package: package.clone()?,
            platforms: platforms.clone(),
            toolkits: toolkits.clone(),
            torch: torch.clone(),
            stable,
            exclude: exclude.clone(),
            release: release.clone()?,
        };
        let mut remaining = 0;
        let mut used = vec![false; exclude.len()];
        let mut composite_reported = BTreeSet::new();
        for (sel, major, p) in draft.candidates() {
            let hit = exclude
                .iter()
                .enumerate()
                .filter(|(_, e)| e.matches(sel, major, p))
                .map(|(i, _)| i)
                .collect::<Vec<_>>();
            if hit.is_empty() {
                remaining += 1;
                let composite = toolkits
                    .iter()
                    .find(|k| k.cuda.major == major && k.frontend.is_some());
                if let (Some(k), crate::platform::Os::Windows) = (composite, p.os()) {
                    if composite_reported.insert((major, p)) {
                        self.at(
                            "exclude",
                            format!(
                                "CUDA {major} variants on {p} would use the composite CUDA {} toolkit (front end {}), which is Linux-only: add `{{cuda: {major}, platform: {p}}}` to exclude (see docs/toolchains.md)",
                                k.cuda,
                                k.frontend.map(|f| f.to_string()).unwrap_or_default(),
                            ),
                        );
                    }
                }
            }
            for i in hit {
                used[i] = true;
            }
        }
        if self.problems.is_empty() {
            for (i, u) in used.iter().enumerate() {
                if !u {
                    self.at(
                        &format!("exclude[{i}]"),
                        "this exclude matches no variant (remove it, or fix its torch/cuda/platform)",
                    );
                }
            }
            if remaining == 0 {
                self.at(
                    "exclude",
                    "the matrix is empty after excludes: no variant is left to build",
                );
            }
        }
        Some(draft)
    }

    fn stable(&mut self, raw: &RawStable, torch: &[TorchEntry]) -> Option<Stable> {
        let from = self.parse::<TorchMinor>("stable.from", &raw.from)?;
        if from < STABLE_ABI_MIN {
            self.at(
                "stable.from",
                format!(
                    "the stable binding needs torch {STABLE_ABI_MIN} or newer (its LibTorch stable ABI first offers what the op uses; see bindings/csrc/stable/attention.cpp), got `{from}`"
                ),
            );
            return None;
        }
        if !torch.iter().any(|t| t.version == from) {
            let listed = torch
                .iter()
                .map(|t| t.version.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            self.at(
                "stable.from",
                format!("torch `{from}` is not listed under `torch` (the stable wheels are compiled against the floor's entry; listed: {listed})"),
            );
            return None;
        }
        Some(Stable { from })
    }

    fn package(&mut self, raw: RawPackage) -> Option<Package> {
        let name = PackageName::new(&raw.name)
            .map_err(|e| self.at("package.name", e.to_string()))
            .ok();
        let version = Version::public(&raw.version)
            .map_err(|e| self.at("package.version", e.to_string()))
            .ok();
        // abi3 exists from CPython 3.2 on.
        let abi3 = raw
            .abi3
            .parse::<PythonTag>()
            .ok()
            .filter(|t| t.minor() >= 2);
        if abi3.is_none() {
            self.at(
                "package.abi3",
                format!(
                    "`{}` is not a stable-ABI floor (expected e.g. `cp39`)",
                    raw.abi3
                ),
            );
        }
        let mut ok = true;
        for (label, url) in &raw.urls {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                self.at(
                    &format!("package.urls.{label}"),
                    format!("`{url}` is not an http(s) URL"),
                );
                ok = false;
            }
        }
        if raw.summary.contains('\n') {
            self.at("package.summary", "the summary must be one line");
            ok = false;
        }
        let (name, version, abi3) = (name?, version?, abi3?);
        ok.then_some(Package {
            name,
            version,
            summary: raw.summary,
            license: raw.license,
            license_files: raw.license_files,
            readme: raw.readme,
            urls: raw.urls,
            abi3,
        })
    }

    fn indexes(&mut self, raw: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (name, url) in raw {
            let path = format!("indexes.{name}");
            if name == "default" {
                self.at_key(
                    &path,
                    "`default` names the installer's own default index and cannot be redefined",
                );
            } else if !(url.starts_with("https://")
                || url.starts_with("http://")
                || url.starts_with("file://"))
            {
                self.at(
                    &path,
                    format!("index `{name}` has URL `{url}`, which is not http(s):// or file://"),
                );
            } else {
                out.insert(name.clone(), url.trim_end_matches('/').to_string());
            }
        }
        out
    }

    fn platforms(&mut self, raw: &BTreeMap<String, RawPlatform>) -> Vec<PlatformSettings> {
        let mut out = Vec::new();
        if raw.is_empty() {
            self.at("platforms", "no platforms are listed");
        }
        for (name, settings) in raw {
            let path = format!("platforms.{name}");
            let Some(platform) = self.platform_key(&path, name) else {
                continue;
            };
            let manylinux = match (&settings.manylinux, platform.os()) {
                (Some(m), crate::platform::Os::Linux) => {
                    match GlibcVersion::from_manylinux_floor(m) {
                        Some(v) => Some(v),
                        None => {
                            self.at(
                            &format!("{path}.manylinux"),
                            format!("`{m}` is not a manylinux glibc floor (expected e.g. \"2_28\", at least \"2_17\")"),
                        );
                            None
                        }
                    }
                }
                (None, crate::platform::Os::Linux) => {
                    self.at(
                        &path,
                        format!("{name} needs a `manylinux` floor (e.g. \"2_28\")"),
                    );
                    None
                }
                (Some(_), crate::platform::Os::Windows) => {
                    self.at(
                        &format!("{path}.manylinux"),
                        format!("`manylinux` does not apply to {name}"),
                    );
                    None
                }
                (None, crate::platform::Os::Windows) => None,
            };
            if settings.runner.trim().is_empty() {
                self.at(&format!("{path}.runner"), "the runner label is empty");
            }
            out.push(PlatformSettings {
                platform,
                manylinux,
                runner: settings.runner.clone(),
                container: settings.container.clone(),
            });
        }
        out
    }

    fn toolkits(&mut self, raw: &[RawToolkit], platforms: &[PlatformSettings]) -> Vec<Toolkit> {
        let mut out: Vec<Toolkit> = Vec::new();
        if raw.is_empty() {
            self.at("toolkits", "no CUDA toolkits are listed");
        }
        for (i, t) in raw.iter().enumerate() {
            let path = format!("toolkits[{i}]");
            let Some(cuda) = self.parse::<CudaVersion>(&format!("{path}.cuda"), &t.cuda) else {
                continue;
            };
            if let Some(prev) = out.iter().find(|o| o.cuda.major == cuda.major) {
                self.at(
                    &format!("{path}.cuda"),
                    format!(
                        "a second toolkit for CUDA major {} (`{cuda}`; `{}` is already listed): variants are keyed by CUDA major, list one toolkit per major",
                        cuda.major, prev.cuda
                    ),
                );
                continue;
            }
            let frontend = t.frontend.as_ref().and_then(|f| {
                let fpath = format!("{path}.frontend");
                let fe = self.parse::<CudaVersion>(&fpath, f)?;
                // Which pairs have a known PTX ISA mapping is checked when the
                // toolkit is provisioned (toolchain::composite::Recipe).
                if fe.major <= cuda.major {
                    self.at(
                        &fpath,
                        format!("front end CUDA {fe} is not a newer major than the toolkit's CUDA {cuda}: a composite toolkit pairs CUDA {cuda}'s back end with a newer compiler front end"),
                    );
                    return None;
                }
                for (j, a) in t.arches.iter().enumerate() {
                    if let Ok(arch) = a.parse::<SmArch>() {
                        if arch.supported_by(cuda) && !arch.supported_by(fe) {
                            self.at(
                                &format!("{path}.arches[{j}]"),
                                format!(
                                    "arch `{arch}` is not supported by the front end CUDA {fe}"
                                ),
                            );
                        }
                    }
                }
                Some(fe)
            });
            let mut arches = Vec::new();
            if t.arches.is_empty() {
                self.at(
                    &format!("{path}.arches"),
                    format!("toolkit CUDA {cuda} lists no arches"),
                );
            }
            for (j, a) in t.arches.iter().enumerate() {
                let apath = format!("{path}.arches[{j}]");
                let Some(arch) = self.parse::<SmArch>(&apath, a) else {
                    continue;
                };
                if !arch.supported_by(cuda) {
                    self.unsupported_arch(&apath, arch, cuda);
                } else if arches.contains(&arch) {
                    self.at(&apath, format!("arch `{arch}` is listed twice"));
                } else {
                    arches.push(arch);
                }
            }
            arches.sort();
            let ptx = t.ptx.as_ref().and_then(|p| {
                let ppath = format!("{path}.ptx");
                let arch = self.parse::<SmArch>(&ppath, p)?;
                if !arch.supported_by(cuda) {
                    self.unsupported_arch(&ppath, arch, cuda);
                    return None;
                }
                Some(arch)
            });
            let mut packages = BTreeMap::new();
            for (pname, list) in &t.packages {
                let ppath = format!("{path}.packages.{pname}");
                let Some(p) = self.platform_key(&ppath, pname) else {
                    continue;
                };
                if list.is_empty() {
                    self.at(&ppath, format!("no packages listed for CUDA {cuda} on {p}"));
                }
                for (k, req) in list.iter().enumerate() {
                    if !req.contains("==") {
                        self.at(
                            &format!("{ppath}[{k}]"),
                            format!("`{req}` is not pinned: write `name==version` so builds are reproducible"),
                        );
                    }
                }
                packages.insert(p, list.clone());
            }
            for s in platforms {
                // A composite toolkit is Linux-only (its front end is driven
                // through Linux paths and NVIDIA's CUDA 12 Windows runtime
                // wheel has no import library): it lists no Windows packages,
                // and every Windows variant of its major must be excluded
                // (checked with the excludes below).
                if t.frontend.is_some() && s.platform.os() == crate::platform::Os::Windows {
                    if packages.contains_key(&s.platform) {
                        self.at(
                            &format!("{path}.packages.{}", s.platform),
                            format!(
                                "toolkit CUDA {cuda} is a composite (front end {}), which is Linux-only: remove its {} packages and exclude {{cuda: {}, platform: {}}}",
                                frontend.map(|f| f.to_string()).unwrap_or_default(),
                                s.platform,
                                cuda.major,
                                s.platform
                            ),
                        );
                    }
                    continue;
                }
                if !packages.contains_key(&s.platform) {
                    self.at(
                        &format!("{path}.packages"),
                        format!(
                            "toolkit CUDA {cuda} has no packages for platform {}",
                            s.platform
                        ),
                    );
                }
            }
            out.push(Toolkit {
                cuda,
                frontend,
                arches,
                ptx,
                packages,
            });
        }
        out
    }

    fn unsupported_arch(&mut self, path: &str, arch: SmArch, cuda: CudaVersion) {
        let list = SmArch::supported_list(cuda)
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        self.at(
            path,
            format!("unknown arch `{arch}` for CUDA {cuda} (supported: {list})"),
        );
    }

    fn torch(
        &mut self,
        raw: &[RawTorch],
        toolkits: &[Toolkit],
        platforms: &[PlatformSettings],
        indexes: &BTreeMap<String, String>,
        abi3: Option<PythonTag>,
    ) -> Vec<TorchEntry> {
        let mut out: Vec<TorchEntry> = Vec::new();
        let mut seen = BTreeSet::new();
        if raw.is_empty() {
            self.at("torch", "no torch releases are listed");
        }
        for (i, t) in raw.iter().enumerate() {
            let path = format!("torch[{i}]");
            let version = self.parse::<TorchMinor>(&format!("{path}.version"), &t.version);
            let build = self.parse::<TorchRelease>(&format!("{path}.build"), &t.build);
            let cuda = self.parse::<CudaVersion>(&format!("{path}.cuda"), &t.cuda);
            let rp_path = format!("{path}.requires_python");
            let requires_python = self.parse::<RequiresPython>(&rp_path, &t.requires_python);
            // The wheels are tagged `cp3X-abi3`: a Requires-Python that admits
            // no CPython from that floor on makes them uninstallable.
            if let (Some(rp), Some(abi3)) = (&requires_python, abi3) {
                if !rp.admits_cpython_from(abi3) {
                    self.at(
                        &rp_path,
                        format!(
                            "`{rp}` admits no CPython 3.{} or later, and the wheels are tagged `{abi3}-abi3` (package.abi3)",
                            abi3.minor()
                        ),
                    );
                }
            }
            let (Some(version), Some(build), Some(cuda)) = (version, build, cuda) else {
                continue;
            };
            if build.minor_line() != version {
                self.at(
                    &format!("{path}.build"),
                    format!("build `{build}` is not a release of torch {version}"),
                );
            }
            if !toolkits.iter().any(|tk| tk.cuda.major == cuda.major) {
                let have = toolkits
                    .iter()
                    .map(|tk| tk.cuda.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                self.at(
                    &format!("{path}.cuda"),
                    format!("torch {version} is built for CUDA {cuda} but no toolkit serves CUDA major {} (toolkits: {have})", cuda.major),
                );
            }
            if !seen.insert((version, cuda.major)) {
                self.at(
                    &format!("{path}.version"),
                    format!(
                        "duplicate variant: torch {version} with CUDA {} is listed twice",
                        cuda.major
                    ),
                );
                continue;
            }
            let mut source = BTreeMap::new();
            for (pname, idx) in &t.source {
                let spath = format!("{path}.source.{pname}");
                let Some(p) = self.platform_key(&spath, pname) else {
                    continue;
                };
                if idx == "default" {
                    source.insert(p, IndexSource::Default);
                } else if let Some(url) = indexes.get(idx) {
                    source.insert(
                        p,
                        IndexSource::Named {
                            name: idx.clone(),
                            url: url.clone(),
                        },
                    );
                } else {
                    let names = std::iter::once("default".to_string())
                        .chain(indexes.keys().cloned())
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.at(&spath, format!("unknown index `{idx}` (defined: {names})"));
                }
            }
            for s in platforms {
                if !t.source.contains_key(s.platform.as_str()) {
                    self.at(
                        &format!("{path}.source"),
                        format!(
                            "torch {version} has no source for platform {} (add one, or exclude {{torch: \"{version}\", platform: {}}})",
                            s.platform, s.platform
                        ),
                    );
                }
            }
            let Some(requires_python) = requires_python else {
                continue;
            };
            out.push(TorchEntry {
                version,
                build,
                cuda,
                requires_python,
                source,
            });
        }
        out
    }

    fn excludes(&mut self, raw: &[RawExclude]) -> Vec<Exclude> {
        let mut out = Vec::new();
        for (i, e) in raw.iter().enumerate() {
            let path = format!("exclude[{i}]");
            if e.torch.is_none() && e.cuda.is_none() && e.platform.is_none() {
                self.at(
                    &path,
                    "an exclude needs at least one of torch, cuda, platform",
                );
                continue;
            }
            let torch = match &e.torch {
                Some(t) if t == "stable" => Some(TorchSel::Stable),
                Some(t) => match self.parse::<TorchMinor>(&format!("{path}.torch"), t) {
                    Some(v) => Some(TorchSel::Minor(v)),
                    None => continue,
                },
                None => None,
            };
            let platform = match &e.platform {
                Some(p) => match p.parse::<Platform>() {
                    Ok(v) => Some(v),
                    Err(err) => {
                        self.at(&format!("{path}.platform"), err.to_string());
                        continue;
                    }
                },
                None => None,
            };
            out.push(Exclude {
                torch,
                cuda: e.cuda,
                platform,
            });
        }
        out
    }

    fn release(&mut self, raw: &RawRelease) -> Option<Release> {
        let mut ok = true;
        let parts: Vec<&str> = raw.github.split('/').collect();
        let valid_part = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if parts.len() != 2 || !parts.iter().all(|p| valid_part(p)) {
            self.at(
                "release.github",
                format!("`{}` is not OWNER/REPO", raw.github),
            );
            ok = false;
        }
        if raw.tag.is_empty() || raw.tag.contains(char::is_whitespace) {
            self.at(
                "release.tag",
                format!("`{}` is not a usable tag pattern", raw.tag),
            );
            ok = false;
        }
        if !(raw.pages.starts_with("https://") || raw.pages.starts_with("http://")) {
            self.at(
                "release.pages",
                format!("`{}` is not an http(s) URL", raw.pages),
            );
            ok = false;
        }
        let pages = if raw.pages.ends_with('/') {
            raw.pages.clone()
        } else {
            format!("{}/", raw.pages)
        };
        ok.then(|| Release {
            owner: parts[0].to_string(),
            repo: parts[1].to_string(),
            tag: raw.tag.clone(),
            pages,
        })
    }
}
