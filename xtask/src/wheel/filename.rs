//! Wheel file names (binary distribution format). Pure.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use crate::names::{NameError, PackageName};
use crate::platform::PlatformTag;
use crate::versions::{PythonTag, Version, VersionError};

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
    InvalidName { file: String, source: NameError },
    #[error("wheel file name `{file}`: {source}")]
    Python { file: String, source: VersionError },
    #[error(
        "wheel file name `{file}`: ABI tag `{abi}` is not one this farm writes (expected `abi3`)"
    )]
    Abi { file: String, abi: String },
    #[error("wheel file name `{file}`: {source}")]
    Version { file: String, source: VersionError },
    #[error("wheel file name `{file}`: {source}")]
    Platform {
        file: String,
        source: crate::platform::PlatformError,
    },
}

/// An ABI tag this farm writes: only the CPython stable ABI. Ex) `abi3`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AbiTag {
    Abi3,
}

impl FromStr for AbiTag {
    type Err = String;
    /// Err: the input, for the caller to quote.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "abi3" => Ok(AbiTag::Abi3),
            _ => Err(s.to_string()),
        }
    }
}

impl fmt::Display for AbiTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbiTag::Abi3 => f.write_str("abi3"),
        }
    }
}

/// A wheel's file name. Ex) `attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl`
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WheelFilename {
    /// Distribution name; written in its file form
    /// ([`PackageName::file_form`]). Ex) `attnfarm`
    pub name: PackageName,
    /// Normalised version, local label kept with its `+`. Ex) `2026.1.0+cu128torch2.9`
    pub version: Version,
    /// Ex) `cp39`
    pub python: PythonTag,
    /// Ex) `abi3`
    pub abi: AbiTag,
    pub platform: PlatformTag,
}

/// The file-name form of a distribution name (see [`crate::names`]).
pub use crate::names::escape as escape_name;

impl WheelFilename {
    /// A stable-ABI wheel: `{python}-abi3-{platform}`.
    pub fn abi3(
        name: &PackageName,
        version: &Version,
        python: PythonTag,
        platform: PlatformTag,
    ) -> Self {
        WheelFilename {
            name: name.clone(),
            version: version.clone(),
            python,
            abi: AbiTag::Abi3,
            platform,
        }
    }

    /// The `Tag:` values of the WHEEL file. Ex) `cp39-abi3-win_amd64`
    pub fn tags(&self) -> Vec<String> {
        vec![format!("{}-{}-{}", self.python, self.abi, self.platform)]
    }

    /// The `.dist-info` directory inside the wheel.
    pub fn dist_info(&self) -> String {
        format!("{}-{}.dist-info", self.name.file_form(), self.version)
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
        let file = || s.to_string();
        let parsed = PackageName::new(name).map_err(|source| FilenameError::InvalidName {
            file: file(),
            source,
        })?;
        let expected = parsed.file_form();
        if expected != name {
            return Err(FilenameError::Name {
                file: file(),
                name: name.to_string(),
                expected,
            });
        }
        let version = version.parse().map_err(|source| FilenameError::Version {
            file: file(),
            source,
        })?;
        let python = python.parse().map_err(|source| FilenameError::Python {
            file: file(),
            source,
        })?;
        let abi = abi
            .parse()
            .map_err(|abi| FilenameError::Abi { file: file(), abi })?;
        let platform = platform.parse().map_err(|source| FilenameError::Platform {
            file: file(),
            source,
        })?;
        Ok(WheelFilename {
            name: parsed,
            version,
            python,
            abi,
            platform,
        })
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}-{}-{}.whl",
            self.name.file_form(),
            self.version,
            self.python,
            self.abi,
            self.platform
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
            assert_eq!(w.python.minor(), 9);
            assert_eq!(w.abi, AbiTag::Abi3);
        }
    }

    #[test]
    fn builds_names() {
        let w = WheelFilename::abi3(
            &"Attn-Farm".parse().unwrap(),
            &"2026.1.0+cu128torch2.9".parse().unwrap(),
            PythonTag::cpython3(9),
            "manylinux_2_28_x86_64".parse().unwrap(),
        );
        assert_eq!(
            w.to_string(),
            "attn_farm-2026.1.0+cu128torch2.9-cp39-abi3-manylinux_2_28_x86_64.whl"
        );
        assert_eq!(w.dist_info(), "attn_farm-2026.1.0+cu128torch2.9.dist-info");
        assert_eq!(w.tags(), ["cp39-abi3-manylinux_2_28_x86_64"]);
        assert_eq!(w.local_label(), Some("cu128torch2.9"));
        assert_eq!(w.name, "attn-farm");
        assert_eq!(w.to_string().parse::<WheelFilename>().unwrap(), w);
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
        insta::assert_snapshot!(
            "attn+x-1.0-cp39-abi3-win_amd64.whl".parse::<WheelFilename>().unwrap_err(),
            @"wheel file name `attn+x-1.0-cp39-abi3-win_amd64.whl`: invalid distribution name `attn+x`"
        );
        insta::assert_snapshot!(
            "_attn-1.0-cp39-abi3-win_amd64.whl".parse::<WheelFilename>().unwrap_err(),
            @"wheel file name `_attn-1.0-cp39-abi3-win_amd64.whl`: invalid distribution name `_attn`"
        );
        insta::assert_snapshot!(
            "attn-1.0-py3-abi3-win_amd64.whl".parse::<WheelFilename>().unwrap_err(),
            @"wheel file name `attn-1.0-py3-abi3-win_amd64.whl`: `py3` is not a CPython 3 tag (expected e.g. `cp39`)"
        );
        insta::assert_snapshot!(
            "attn-1.0-cp313t-abi3-win_amd64.whl".parse::<WheelFilename>().unwrap_err(),
            @"wheel file name `attn-1.0-cp313t-abi3-win_amd64.whl`: `cp313t` is not a CPython 3 tag (expected e.g. `cp39`)"
        );
        insta::assert_snapshot!(
            "attn-1.0-cp39-none-win_amd64.whl".parse::<WheelFilename>().unwrap_err(),
            @"wheel file name `attn-1.0-cp39-none-win_amd64.whl`: ABI tag `none` is not one this farm writes (expected `abi3`)"
        );
    }
}
