//! `matrix.yaml` as written: the serde shapes. Strings stay strings here so
//! that a bad value is reported with its position by `validate`, not by serde.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatrix {
    pub schema: u32,
    pub package: RawPackage,
    #[serde(default)]
    pub indexes: BTreeMap<String, String>,
    pub platforms: BTreeMap<String, RawPlatform>,
    pub toolkits: Vec<RawToolkit>,
    pub torch: Vec<RawTorch>,
    pub stable: Option<RawStable>,
    #[serde(default)]
    pub exclude: Vec<RawExclude>,
    pub release: RawRelease,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStable {
    pub from: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPackage {
    pub name: String,
    pub version: String,
    pub summary: String,
    pub license: String,
    #[serde(default)]
    pub license_files: Vec<String>,
    pub readme: Option<String>,
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
    pub abi3: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform {
    pub manylinux: Option<String>,
    pub runner: String,
    pub container: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToolkit {
    pub cuda: String,
    /// Optional: a composite toolkit's front end (toolchain::composite).
    pub frontend: Option<String>,
    pub arches: Vec<String>,
    pub ptx: Option<String>,
    pub packages: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTorch {
    pub version: String,
    pub build: String,
    pub cuda: String,
    pub requires_python: String,
    pub source: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExclude {
    pub torch: Option<String>,
    pub cuda: Option<u32>,
    pub platform: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelease {
    pub github: String,
    pub tag: String,
    pub pages: String,
}
