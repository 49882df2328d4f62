//! Wheel file names (binary distribution format). Pure.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use crate::platform::PlatformTag;
use crate::versions::{Version, VersionError};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FilenameError {
    #[error("`{0}` is not a wheel file name (expected NAME-VERSION-PY-ABI-PLATFORM.whl)")]
    Shape(String),
    #[error("`{name}` in wheel file name `{file}` is not normalised (expected `{expected}`)")]
    Name {
        file: String,
        name: String,
        expected: String,
    },
    #[error("wheel file name `{file}`: {source}")]
    Version { file: String, source: VersionError },
    #[error("wheel file name `{file}`: {source}")]
    Platform {
        file: String,
        source: crate::platform::PlatformError,
    },
}

/// A wheel's file name. Ex) `attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WheelFilename {
    /// Distribution name with `-` `.` folded to `_`, lower case. Ex) `attnfarm`
    pub name: String,
    /// Normalised version, local label kept with its `+`. Ex) `2026.1.0+cu128torch2.9`
    pub version: Version,
    /// Ex) `cp39`
    pub python: String,
    /// Ex) `abi3`
    pub abi: String,
    pub platform: PlatformTag,
}

/// The file-name form of a distribution name (see [`crate::names`]).
pub use crate::names::escape as escape_name;

impl WheelFilename {
    /// A stable-ABI wheel: `{python}-abi3-{platform}`.
    pub fn abi3(name: &str, version: &Version, python: &str, platform: PlatformTag) -> Self {
        WheelFilename {
            name: escape_name(name),
            version: version.clone(),
            python: python.to_string(),
            abi: "abi3".to_string(),
            platform,
        }
    }

    /// The `Tag:` values of the WHEEL file. Ex) `cp39-abi3-win_amd64`
    pub fn tags(&self) -> Vec<String> {
        vec![format!("{}-{}-{}", self.python, self.abi, self.platform)]
    }

    /// The `.dist-info` directory inside the wheel.
    pub fn dist_info(&self) -> String {
        format!("{}-{}.dist-info", self.name, self.version)
    }

    /// The local version label, if any. Ex) `cu128torch2.9`
    pub fn local_label(&self) -> Option<&str> {
        self.version.local()
    }
}

impl FromStr for WheelFilename {
    type Err = FilenameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape = || FilenameError::Shape(s.to_string());
        let stem = s.strip_suffix(".whl").ok_or_else(shape)?;
        let parts: Vec<&str> = stem.split('-').collect();
        // No build tag support: the farm never writes one.
        let [name, version, python, abi, platform] = parts[..] else {
            return Err(shape());
        };
        if [name, version, python, abi, platform]
            .iter()
            .any(|p| p.is_empty())
        {
            return Err(shape());
        }
        let expected = escape_name(name);
        if expected != name {
            return Err(FilenameError::Name {
                file: s.to_string(),
                name: name.to_string(),
                expected,
            });
        }
        let version = version.parse().map_err(|source| FilenameError::Version {
            file: s.to_string(),
            source,
        })?;
        let platform = platform.parse().map_err(|source| FilenameError::Platform {
            file: s.to_string(),
            source,
        })?;
        Ok(WheelFilename {
            name: name.to_string(),
            version,
            python: python.to_string(),
            abi: abi.to_string(),
            platform,
        })
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}-{}-{}.whl",
            self.name, self.version, self.python, self.abi, self.platform
        )
    }
}

impl Serialize for WheelFilename {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl",
            "attnfarm-2026.1.0+cu130torch2.11-cp39-abi3-win_amd64.whl",
            "attn_farm-1.0rc1-cp39-abi3-manylinux_2_34_aarch64.whl",
        ] {
            let w: WheelFilename = s.parse().unwrap();
            assert_eq!(w.to_string(), s);
        }
    }

    #[test]
    fn builds_names() {
        let w = WheelFilename::abi3(
            "Attn-Farm",
            &"2026.1.0+cu128torch2.9".parse().unwrap(),
            "cp39",
            "manylinux_2_28_x86_64".parse().unwrap(),
        );
        assert_eq!(
            w.to_string(),
            "attn_farm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl"
        );
        assert_eq!(w.dist_info(), "attn_farm-2026.1.0+cu128torch2.9.dist-info");
        assert_eq!(w.tags(), ["cp39-abi3-manylinux_2_28_x86_64"]);
        assert_eq!(w.local_label(), Some("cu128torch2.9"));
    }

    #[test]
    fn rejects() {
        insta::assert_snapshot!(
            "x-1.0-cp39-abi3-manylinux_2_28_x86_64.zip".parse::<WheelFilename>().unwrap_err(),
            @"`x-1.0-cp39-abi3-manylinux_2_28_x86_64.zip` is not a wheel file name (expected NAME-VERSION-PY-ABI-PLATFORM.whl)"
        );
        insta::assert_snapshot!(
            "Attn-1.0-cp39-abi3-win_amd64.whl".parse::<WheelFilename>().unwrap_err(),
            @"`Attn` in wheel file name `Attn-1.0-cp39-abi3-win_amd64.whl` is not normalised (expected `attn`)"
        );
        insta::assert_snapshot!(
            "attn-1.0-1-cp39-abi3-win_amd64.whl".parse::<WheelFilename>().unwrap_err(),
            @"`attn-1.0-1-cp39-abi3-win_amd64.whl` is not a wheel file name (expected NAME-VERSION-PY-ABI-PLATFORM.whl)"
        );
        insta::assert_snapshot!(
            "attn-1.0-cp39-abi3-linux_x86_64.whl".parse::<WheelFilename>().unwrap_err(),
            @"wheel file name `attn-1.0-cp39-abi3-linux_x86_64.whl`: `linux_x86_64` is not a platform tag this farm writes (expected e.g. `manylinux_2_28_x86_64`, `win_amd64`)"
        );
        insta::assert_snapshot!(
            "attn-1.0RC1-cp39-abi3-win_amd64.whl".parse::<WheelFilename>().unwrap_err(),
            @"wheel file name `attn-1.0RC1-cp39-abi3-win_amd64.whl`: `1.0RC1` is not a normalised PEP 440 version (expected e.g. `2026.1.0`, `1.2rc1`, `1.2.post1`)"
        );
    }
}
