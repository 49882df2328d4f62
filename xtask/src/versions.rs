//! Version-like domain types: the package's PEP 440 version, torch releases,
//! CUDA toolkits, GPU architectures.
//!
//! Pure: parsing and formatting only. Every type's `FromStr` and `Display`
//! round-trip.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum VersionError {
    #[error("`{0}` is not a torch minor version (expected MAJOR.MINOR, e.g. `2.9`)")]
    TorchMinor(String),
    #[error("`{0}` is not a torch release (expected MAJOR.MINOR.PATCH, e.g. `2.9.1`)")]
    TorchRelease(String),
    #[error("`{0}` is not a CUDA version (expected MAJOR.MINOR, e.g. `12.8`)")]
    Cuda(String),
    #[error("`{0}` is not a GPU architecture (expected e.g. `sm_90`, `sm_90a`, `sm_100f`)")]
    Arch(String),
    #[error("`{0}` is not a normalised PEP 440 version (expected e.g. `2026.1.0`, `1.2rc1`, `1.2.post1`)")]
    Package(String),
    #[error("version `{0}` has a local label; the farm adds `+cu<XY>torch<M>.<m>` itself")]
    LocalLabel(String),
    #[error("`{0}` is not a normalised PEP 440 local version label (expected lower-case ASCII letters and digits in `.`-separated segments, e.g. `cu128torch2.9`)")]
    LocalLabelSyntax(String),
    #[error("`{0}` is not a CPython 3 tag (expected e.g. `cp39`)")]
    PythonTag(String),
}

fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// Whether `v` is a public PEP 440 version in normalised form
/// (`N(.N)*[{a|b|rc}N][.postN][.devN]`). Ex) `1.2rc1`
pub fn is_canonical_public_version(v: &str) -> bool {
    let bytes = v.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize| -> bool {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start && (bytes[start] != b'0' || *i - start == 1)
    };
    if !num(&mut i) {
        return false;
    }
    while i < bytes.len() && bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        if !num(&mut i) {
            return false;
        }
    }
    for pre in ["rc", "a", "b"] {
        if v[i..].starts_with(pre) {
            i += pre.len();
            if !num(&mut i) {
                return false;
            }
            break;
        }
    }
    for (tag, _) in [(".post", 0), (".dev", 1)] {
        if v[i..].starts_with(tag) {
            i += tag.len();
            if !num(&mut i) {
                return false;
            }
        }
    }
    i == bytes.len()
}

/// A package version: a normalised public PEP 440 version
/// (`N(.N)*[{a|b|rc}N][.postN][.devN]`), optionally with a [`LocalLabel`]
/// after a `+`. The matrix's `package.version` has no
/// label ([`Version::public`]); each variant adds one.
/// Ex) `2026.1.0`, `2026.1.0+cu128torch2.9`
///
/// Orders by text, not by PEP 440 precedence.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(String);

impl Version {
    /// A version without local label, as `matrix.yaml` writes it.
    pub fn public(s: &str) -> Result<Version, VersionError> {
        if s.contains('+') {
            return Err(VersionError::LocalLabel(s.to_string()));
        }
        s.parse()
    }

    /// This version with `label` as its local label (replacing any).
    /// Ex) `2026.1.0` + `cu128torch2.9` → `2026.1.0+cu128torch2.9`
    pub fn with_local(&self, label: &LocalLabel) -> Version {
        Version(format!("{}+{label}", self.public_part()))
    }

    /// The public part. Ex) `2026.1.0`
    pub fn public_part(&self) -> &str {
        self.0.split_once('+').map_or(&self.0, |(p, _)| p)
    }

    /// The local label, if any. Ex) `cu128torch2.9`
    pub fn local(&self) -> Option<&str> {
        self.0.split_once('+').map(|(_, l)| l)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_local_label(l: &str) -> bool {
    l.split('.').all(|seg| {
        !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (public, local) = match s.split_once('+') {
            Some((p, l)) => (p, Some(l)),
            None => (s, None),
        };
        if !is_canonical_public_version(public) {
            return Err(VersionError::Package(s.to_string()));
        }
        if let Some(l) = local {
            l.parse::<LocalLabel>()?;
        }
        Ok(Version(s.to_string()))
    }
}

/// A PEP 440 local version label in normalised form: segments of lower-case
/// ASCII letters and digits, separated by `.` (PEP 440 also reads `-` and `_`
/// as separators and upper case, but normalises them to these). The part of a
/// wheel's version after the `+`; the plan makes one per variant.
/// Ex) `cu128torch2.9`, `cu130torchstable2.10`
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalLabel(String);

impl FromStr for LocalLabel {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !is_local_label(s) {
            return Err(VersionError::LocalLabelSyntax(s.to_string()));
        }
        Ok(LocalLabel(s.to_string()))
    }
}

/// The string face of a newtype over `String` (`struct T(String)` whose text
/// is canonical): Display and Debug as the string (Debug as a `String` did,
/// quoted), `Deref<Target = str>`, `AsRef<str>`, and `==` with `str`, `&str`
/// and `String` (both ways for `String`).
macro_rules! string_newtype {
    ($t:ident) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl std::ops::Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$t> for String {
            fn eq(&self, other: &$t) -> bool {
                *self == other.0
            }
        }
    };
}
pub(crate) use string_newtype;

// Debug-prints as the string does (`"2026.1.0"`).
string_newtype!(Version);
string_newtype!(LocalLabel);

/// A torch minor release line, the unit a wheel variant is built for.
/// Ex) `2.9`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TorchMinor {
    pub major: u32,
    pub minor: u32,
}

impl TorchMinor {
    /// The `Requires-Dist` range that matches every patch (and local build) of
    /// this minor. Ex) `torch>=2.9,<2.10`
    pub fn requirement(&self) -> String {
        format!(
            "torch>={}.{},<{}.{}",
            self.major,
            self.minor,
            self.major,
            self.minor + 1
        )
    }
}

/// `M.m` as two numbers (each as [`parse_u32`] reads it). Ex) `12.8` -> (12, 8)
fn parse_major_minor(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('.')?;
    Some((parse_u32(a)?, parse_u32(b)?))
}

impl FromStr for TorchMinor {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (major, minor) =
            parse_major_minor(s).ok_or_else(|| VersionError::TorchMinor(s.to_string()))?;
        Ok(TorchMinor { major, minor })
    }
}

impl fmt::Display for TorchMinor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// An exact torch release whose headers and libraries a variant builds against.
/// Ex) `2.9.1`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TorchRelease {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl TorchRelease {
    pub fn minor_line(&self) -> TorchMinor {
        TorchMinor {
            major: self.major,
            minor: self.minor,
        }
    }
}

impl FromStr for TorchRelease {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VersionError::TorchRelease(s.to_string());
        let mut it = s.split('.');
        let (Some(a), Some(b), Some(c), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(err());
        };
        Ok(TorchRelease {
            major: parse_u32(a).ok_or_else(err)?,
            minor: parse_u32(b).ok_or_else(err)?,
            patch: parse_u32(c).ok_or_else(err)?,
        })
    }
}

impl fmt::Display for TorchRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A CUDA toolkit (or the CUDA build of a torch release).
/// Ex) `12.8`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CudaVersion {
    pub major: u32,
    pub minor: u32,
}

impl CudaVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        CudaVersion { major, minor }
    }
    /// The compact form used in local version labels. Ex) `128`
    pub fn compact(&self) -> String {
        format!("{}{}", self.major, self.minor)
    }
}

impl FromStr for CudaVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (major, minor) =
            parse_major_minor(s).ok_or_else(|| VersionError::Cuda(s.to_string()))?;
        Ok(CudaVersion { major, minor })
    }
}

impl fmt::Display for CudaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Which flavour of machine code an architecture names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArchFeature {
    /// Portable across later GPUs of the family rules (e.g. `sm_90`).
    Base,
    /// Arch-specific: runs only on exactly this arch, unlocks e.g. `wgmma` (`sm_90a`).
    Specific,
    /// Family-specific: runs on this arch's family (`sm_100f`, CUDA ≥ 12.9).
    Family,
}

/// A GPU architecture to emit SASS (or PTX) for.
/// Ex) `sm_90a`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SmArch {
    /// Compute capability times ten (major * 10 + minor). Ex) 90, 120
    pub number: u32,
    pub feature: ArchFeature,
}

impl SmArch {
    pub const fn base(number: u32) -> Self {
        SmArch {
            number,
            feature: ArchFeature::Base,
        }
    }

    fn suffix(&self) -> &'static str {
        match self.feature {
            ArchFeature::Base => "",
            ArchFeature::Specific => "a",
            ArchFeature::Family => "f",
        }
    }

    /// The virtual architecture name. Ex) `compute_90a`
    pub fn compute_name(&self) -> String {
        format!("compute_{}{}", self.number, self.suffix())
    }

    /// The oldest CUDA toolkit that can compile this arch.
    pub fn min_cuda(&self) -> CudaVersion {
        let base = match self.number {
            0..=79 => CudaVersion::new(10, 0),
            80 => CudaVersion::new(11, 0),
            86 => CudaVersion::new(11, 1),
            87 => CudaVersion::new(11, 4),
            89 | 90 => CudaVersion::new(11, 8),
            100 | 101 | 120 => CudaVersion::new(12, 8),
            103 | 121 => CudaVersion::new(12, 9),
            110 => CudaVersion::new(13, 0),
            _ => CudaVersion::new(u32::MAX, 0),
        };
        match self.feature {
            // Family-specific targets arrived with CUDA 12.9.
            ArchFeature::Family => base.max(CudaVersion::new(12, 9)),
            _ => base,
        }
    }

    /// The newest CUDA toolkit that can still compile this arch, if it was
    /// dropped. CUDA 13 removed everything below sm_75 (and renamed sm_101 to
    /// sm_110).
    pub fn max_cuda(&self) -> Option<CudaVersion> {
        if self.number < 75 || self.number == 101 {
            Some(CudaVersion::new(12, 9))
        } else {
            None
        }
    }

    /// Whether a toolkit can compile this arch.
    pub fn supported_by(&self, cuda: CudaVersion) -> bool {
        self.known() && cuda >= self.min_cuda() && self.max_cuda().is_none_or(|max| cuda <= max)
    }

    /// Whether this is an architecture NVIDIA has shipped.
    pub fn known(&self) -> bool {
        matches!(
            self.number,
            50 | 52
                | 53
                | 60
                | 61
                | 62
                | 70
                | 72
                | 75
                | 80
                | 86
                | 87
                | 89
                | 90
                | 100
                | 101
                | 103
                | 110
                | 120
                | 121
        ) && match self.feature {
            ArchFeature::Base => true,
            ArchFeature::Specific => self.number >= 90,
            ArchFeature::Family => self.number >= 100,
        }
    }

    /// Every arch the given toolkit can compile (base names only), for messages.
    pub fn supported_list(cuda: CudaVersion) -> Vec<u32> {
        [
            50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 103, 110, 120, 121,
        ]
        .into_iter()
        .filter(|n| SmArch::base(*n).supported_by(cuda))
        .collect()
    }
}

impl FromStr for SmArch {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VersionError::Arch(s.to_string());
        let rest = s.strip_prefix("sm_").ok_or_else(err)?;
        let (digits, feature) = match rest.as_bytes().last() {
            Some(b'a') => (&rest[..rest.len() - 1], ArchFeature::Specific),
            Some(b'f') => (&rest[..rest.len() - 1], ArchFeature::Family),
            _ => (rest, ArchFeature::Base),
        };
        let number = parse_u32(digits).ok_or_else(err)?;
        if !(10..1000).contains(&number) {
            return Err(err());
        }
        Ok(SmArch { number, feature })
    }
}

impl fmt::Display for SmArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sm_{}{}", self.number, self.suffix())
    }
}

/// A CPython 3 interpreter tag, as wheel file names and the matrix's
/// `package.abi3` (the stable-ABI floor) write it. Ex) `cp39`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonTag {
    minor: u32,
}

impl PythonTag {
    /// The tag of CPython `3.{minor}`.
    pub fn cpython3(minor: u32) -> PythonTag {
        PythonTag { minor }
    }

    /// The Python 3 minor version. Ex) `cp39` → 9
    pub fn minor(&self) -> u32 {
        self.minor
    }
}

impl FromStr for PythonTag {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix("cp3")
            .and_then(parse_u32)
            .map(PythonTag::cpython3)
            .ok_or_else(|| VersionError::PythonTag(s.to_string()))
    }
}

impl fmt::Display for PythonTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cp3{}", self.minor)
    }
}

/// A comparison operator of a version specifier (PEP 440).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecifierOp {
    /// `>=`
    AtLeast,
    /// `>`
    Above,
    /// `<=`
    AtMost,
    /// `<`
    Below,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `~=` (compatible release)
    Compatible,
}

impl SpecifierOp {
    /// Longest first, so that `>=` is not read as `>` then `=3.10`.
    const ALL: [SpecifierOp; 7] = [
        SpecifierOp::AtLeast,
        SpecifierOp::AtMost,
        SpecifierOp::Equal,
        SpecifierOp::NotEqual,
        SpecifierOp::Compatible,
        SpecifierOp::Above,
        SpecifierOp::Below,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SpecifierOp::AtLeast => ">=",
            SpecifierOp::Above => ">",
            SpecifierOp::AtMost => "<=",
            SpecifierOp::Below => "<",
            SpecifierOp::Equal => "==",
            SpecifierOp::NotEqual => "!=",
            SpecifierOp::Compatible => "~=",
        }
    }
}

/// One clause of a [`RequiresPython`]: an operator and a release version
/// (its numeric segments). Ex) `>=3.10` is (`AtLeast`, `[3, 10]`)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Specifier {
    pub op: SpecifierOp,
    pub release: Vec<u32>,
}

/// Compares two release versions the PEP 440 way: missing segments are 0
/// (`3.10` == `3.10.0`).
fn cmp_release(a: &[u32], b: &[u32]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    let at = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
    (0..n)
        .map(|i| at(a, i).cmp(&at(b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

impl Specifier {
    /// Whether the release version `v` (final releases only: the farm never
    /// asks about pre-releases) satisfies this clause.
    pub fn admits(&self, v: &[u32]) -> bool {
        use std::cmp::Ordering::*;
        let o = cmp_release(v, &self.release);
        match self.op {
            SpecifierOp::AtLeast => o != Less,
            SpecifierOp::Above => o == Greater,
            SpecifierOp::AtMost => o != Greater,
            SpecifierOp::Below => o == Less,
            SpecifierOp::Equal => o == Equal,
            SpecifierOp::NotEqual => o != Equal,
            SpecifierOp::Compatible => {
                // `~=3.10.2` is `>=3.10.2, ==3.10.*`.
                let prefix = &self.release[..self.release.len() - 1];
                o != Less && cmp_release(&v[..prefix.len().min(v.len())], prefix) == Equal
            }
        }
    }
}

/// Why a text is not a [`RequiresPython`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequiresPythonProblem {
    #[error("it is empty")]
    Empty,
    #[error("clause {0} is empty")]
    EmptyClause(usize),
    #[error("spaces are not allowed (write the clauses joined by `,` alone)")]
    Whitespace,
    #[error("clause `{0}`: unknown or missing operator (one of >=, >, <=, <, ==, !=, ~=)")]
    Operator(String),
    #[error("clause `{clause}`: `{version}` is not a release version (numbers joined by `.`, no leading zeros, e.g. `3.10`)")]
    Version { clause: String, version: String },
    #[error("clause `{0}`: `~=` needs at least two release segments (e.g. `~=3.10`)")]
    CompatibleSegments(String),
}

/// The text and the reason it is not a Requires-Python value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{text}` is not a Requires-Python specifier set: {problem} (expected e.g. `>=3.10`, `>=3.9,<4`)")]
pub struct RequiresPythonError {
    pub text: String,
    pub problem: RequiresPythonProblem,
}

/// A wheel's `Requires-Python`: a PEP 440 version specifier set of release
/// versions, clauses joined by `,` without spaces (the form the farm writes
/// into METADATA and the index's `data-requires-python`). Operators `>=`,
/// `>`, `<=`, `<`, `==`, `!=`, `~=`; no wildcards, no pre-releases.
/// Ex) `>=3.10`, `>=3.9,<4`
///
/// Displays and serialises as the text it was parsed from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequiresPython(String, Vec<Specifier>);

impl RequiresPython {
    /// `>=3.{minor}` of a CPython tag. Ex) `cp39` → `>=3.9`
    pub fn floor(tag: PythonTag) -> RequiresPython {
        RequiresPython(
            format!(">=3.{}", tag.minor()),
            vec![Specifier {
                op: SpecifierOp::AtLeast,
                release: vec![3, tag.minor()],
            }],
        )
    }

    pub fn specifiers(&self) -> &[Specifier] {
        &self.1
    }

    /// Whether release `v` satisfies every clause. Ex) `>=3.9,<4` admits `3.12`
    pub fn admits(&self, v: &[u32]) -> bool {
        self.1.iter().all(|s| s.admits(v))
    }

    /// Whether some CPython 3 release from `floor` (a stable-ABI floor) on is
    /// admitted: the minors `3.m` (m ≥ the floor's) and every version a
    /// clause names at or above the floor are tried.
    /// Ex) `>=3.10` admits one from `cp39` on; `<3.9` does not
    pub fn admits_cpython_from(&self, floor: PythonTag) -> bool {
        let start = [3, floor.minor()];
        let named = self
            .1
            .iter()
            .map(|s| s.release.clone())
            .filter(|r| r.first() == Some(&3) && cmp_release(r, &start).is_ge());
        (floor.minor()..=floor.minor() + 100)
            .map(|m| vec![3, m])
            .chain(named)
            .any(|v| self.admits(&v))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RequiresPython {
    type Err = RequiresPythonError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |problem| RequiresPythonError {
            text: s.to_string(),
            problem,
        };
        if s.is_empty() {
            return Err(err(RequiresPythonProblem::Empty));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(err(RequiresPythonProblem::Whitespace));
        }
        let mut specs = Vec::new();
        for (i, clause) in s.split(',').enumerate() {
            if clause.is_empty() {
                return Err(err(RequiresPythonProblem::EmptyClause(i + 1)));
            }
            let Some(op) = SpecifierOp::ALL
                .into_iter()
                .find(|op| clause.starts_with(op.as_str()))
            else {
                return Err(err(RequiresPythonProblem::Operator(clause.to_string())));
            };
            let version = &clause[op.as_str().len()..];
            let release: Option<Vec<u32>> = version.split('.').map(parse_u32).collect();
            let Some(release) = release else {
                // `===3.10`, `>==3.10`: an operator this set does not know.
                let problem = if version.starts_with(['=', '<', '>', '!', '~']) {
                    RequiresPythonProblem::Operator(clause.to_string())
                } else {
                    RequiresPythonProblem::Version {
                        clause: clause.to_string(),
                        version: version.to_string(),
                    }
                };
                return Err(err(problem));
            };
            if op == SpecifierOp::Compatible && release.len() < 2 {
                return Err(err(RequiresPythonProblem::CompatibleSegments(
                    clause.to_string(),
                )));
            }
            specs.push(Specifier { op, release });
        }
        Ok(RequiresPython(s.to_string(), specs))
    }
}

string_newtype!(RequiresPython);

/// Implements serde for a type through its `FromStr`/`Display` pair.
macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
pub(crate) use serde_via_str;

serde_via_str!(
    Version,
    LocalLabel,
    TorchMinor,
    TorchRelease,
    CudaVersion,
    SmArch,
    PythonTag,
    RequiresPython
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_python_parses_and_round_trips() {
        use SpecifierOp::*;
        type Clauses = &'static [(SpecifierOp, &'static [u32])];
        let table: [(&str, Clauses); 9] = [
            (">=3.10", &[(AtLeast, &[3, 10])]),
            (">=3.9,<4", &[(AtLeast, &[3, 9]), (Below, &[4])]),
            (">3.8", &[(Above, &[3, 8])]),
            ("<=3.13.1", &[(AtMost, &[3, 13, 1])]),
            ("==3.12", &[(Equal, &[3, 12])]),
            (
                "!=3.11.0,>=3.10",
                &[(NotEqual, &[3, 11, 0]), (AtLeast, &[3, 10])],
            ),
            ("~=3.10", &[(Compatible, &[3, 10])]),
            ("~=3.10.2", &[(Compatible, &[3, 10, 2])]),
            (">=3.0", &[(AtLeast, &[3, 0])]),
        ];
        for (text, specs) in table {
            let r: RequiresPython = text.parse().unwrap();
            let got: Vec<(SpecifierOp, &[u32])> = r
                .specifiers()
                .iter()
                .map(|s| (s.op, s.release.as_slice()))
                .collect();
            assert_eq!(got, specs, "{text}");
            assert_eq!(r.to_string(), text);
            assert_eq!(r, text);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<RequiresPython>(&json).unwrap(), r);
        }
        let floor = RequiresPython::floor(PythonTag::cpython3(9));
        assert_eq!(floor, ">=3.9");
        assert_eq!(floor, ">=3.9".parse::<RequiresPython>().unwrap());
    }

    #[test]
    fn requires_python_rejects() {
        let e = |s: &str| s.parse::<RequiresPython>().unwrap_err();
        use RequiresPythonProblem as P;
        let table = [
            ("", P::Empty),
            (">=3.9,", P::EmptyClause(2)),
            (",>=3.9", P::EmptyClause(1)),
            (">=3.9, <4", P::Whitespace),
            (" >=3.9", P::Whitespace),
            ("3.10", P::Operator("3.10".into())),
            ("=>3.10", P::Operator("=>3.10".into())),
            ("=3.10", P::Operator("=3.10".into())),
            ("===3.10", P::Operator("===3.10".into())),
            (">==3.10", P::Operator(">==3.10".into())),
            ("^3.10", P::Operator("^3.10".into())),
            (
                ">=3.x",
                P::Version {
                    clause: ">=3.x".into(),
                    version: "3.x".into(),
                },
            ),
            (
                ">=3.",
                P::Version {
                    clause: ">=3.".into(),
                    version: "3.".into(),
                },
            ),
            (
                ">=",
                P::Version {
                    clause: ">=".into(),
                    version: "".into(),
                },
            ),
            (
                ">=3.09",
                P::Version {
                    clause: ">=3.09".into(),
                    version: "3.09".into(),
                },
            ),
            (
                "==3.*",
                P::Version {
                    clause: "==3.*".into(),
                    version: "3.*".into(),
                },
            ),
            (
                ">=3.10rc1",
                P::Version {
                    clause: ">=3.10rc1".into(),
                    version: "3.10rc1".into(),
                },
            ),
            ("~=3", P::CompatibleSegments("~=3".into())),
        ];
        for (text, problem) in table {
            assert_eq!(
                e(text),
                RequiresPythonError {
                    text: text.into(),
                    problem
                },
                "{text:?}"
            );
        }
        insta::assert_snapshot!(e(""), @"`` is not a Requires-Python specifier set: it is empty (expected e.g. `>=3.10`, `>=3.9,<4`)");
        insta::assert_snapshot!(e("=>3.10"), @"`=>3.10` is not a Requires-Python specifier set: clause `=>3.10`: unknown or missing operator (one of >=, >, <=, <, ==, !=, ~=) (expected e.g. `>=3.10`, `>=3.9,<4`)");
        insta::assert_snapshot!(e(">=3.x"), @"`>=3.x` is not a Requires-Python specifier set: clause `>=3.x`: `3.x` is not a release version (numbers joined by `.`, no leading zeros, e.g. `3.10`) (expected e.g. `>=3.10`, `>=3.9,<4`)");
        insta::assert_snapshot!(e(">=3.9, <4"), @"`>=3.9, <4` is not a Requires-Python specifier set: spaces are not allowed (write the clauses joined by `,` alone) (expected e.g. `>=3.10`, `>=3.9,<4`)");
        assert!(serde_json::from_str::<RequiresPython>("\"3.10\"").is_err());
    }

    #[test]
    fn requires_python_admits() {
        let r = |s: &str| s.parse::<RequiresPython>().unwrap();
        let table: [(&str, &[u32], bool); 16] = [
            (">=3.10", &[3, 10], true),
            (">=3.10", &[3, 10, 0], true),
            (">=3.10", &[3, 9, 7], false),
            (">3.10", &[3, 10], false),
            (">3.10", &[3, 10, 1], true),
            ("<=3.10", &[3, 10], true),
            ("<4", &[3, 99], true),
            ("<4", &[4], false),
            ("==3.10", &[3, 10, 0], true),
            ("==3.10", &[3, 10, 1], false),
            ("!=3.10", &[3, 10], false),
            ("~=3.10", &[3, 13], true),
            ("~=3.10", &[4, 0], false),
            ("~=3.10.2", &[3, 10, 5], true),
            ("~=3.10.2", &[3, 11], false),
            (">=3.9,<4", &[3, 14], true),
        ];
        for (spec, v, ok) in table {
            assert_eq!(r(spec).admits(v), ok, "{spec} admits {v:?}");
        }
        let cp39 = PythonTag::cpython3(9);
        for (spec, ok) in [
            (">=3.10", true),
            (">=3.9,<4", true),
            ("==3.10.5", true),
            ("<3.9", false),
            (">=4", false),
            (">=3.12,<3.11", false),
        ] {
            assert_eq!(r(spec).admits_cpython_from(cp39), ok, "{spec}");
        }
    }

    #[test]
    fn python_tags() {
        for (s, minor) in [
            ("cp39", 9),
            ("cp32", 2),
            ("cp310", 10),
            ("cp314", 14),
            ("cp30", 0),
        ] {
            let t: PythonTag = s.parse().unwrap();
            assert_eq!(t.minor(), minor, "{s}");
            assert_eq!(t, PythonTag::cpython3(minor));
            assert_eq!(t.to_string(), s);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<PythonTag>(&json).unwrap(), t);
        }
        // Free-threaded, other interpreters, Python 2, signs and padding.
        for s in [
            "cp313t", "py3", "pp39", "cp27", "cp3", "cp3+9", "cp309", "CP39", " cp39", "abi3",
        ] {
            assert_eq!(
                s.parse::<PythonTag>(),
                Err(VersionError::PythonTag(s.to_string())),
                "{s}"
            );
        }
        insta::assert_snapshot!(
            "cp313t".parse::<PythonTag>().unwrap_err(),
            @"`cp313t` is not a CPython 3 tag (expected e.g. `cp39`)"
        );
    }

    #[test]
    fn round_trips() {
        for s in ["2.7", "2.10", "3.0"] {
            assert_eq!(s.parse::<TorchMinor>().unwrap().to_string(), s);
        }
        for s in ["2.7.1", "2.10.0", "2.15.12"] {
            assert_eq!(s.parse::<TorchRelease>().unwrap().to_string(), s);
        }
        for s in ["12.8", "13.0", "12.10"] {
            assert_eq!(s.parse::<CudaVersion>().unwrap().to_string(), s);
        }
        for s in ["sm_80", "sm_90a", "sm_100f", "sm_120", "sm_121a"] {
            assert_eq!(s.parse::<SmArch>().unwrap().to_string(), s);
        }
        for s in [
            "2026.1.0",
            "1.2rc1",
            "1.0a1.post2.dev3",
            "2026.1.0+cu128torch2.9",
            "2026.1.0+cu130torchstable2.10",
        ] {
            assert_eq!(s.parse::<Version>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn package_versions() {
        let v = Version::public("2026.1.0").unwrap();
        let w = v.with_local(&"cu128torch2.9".parse().unwrap());
        assert_eq!(w, "2026.1.0+cu128torch2.9");
        assert_eq!(w.public_part(), "2026.1.0");
        assert_eq!(w.local(), Some("cu128torch2.9"));
        assert_eq!(v.local(), None);
        assert_eq!(format!("{v:?}"), "\"2026.1.0\"");
        assert_eq!(
            w.with_local(&"cu130torch2.11".parse().unwrap()),
            "2026.1.0+cu130torch2.11"
        );
        for s in ["1.0+", "1.0+CU128", "1.0+a..b", "1.0+a-b", "1.0RC1", "v1"] {
            assert!(s.parse::<Version>().is_err(), "{s}");
        }
        insta::assert_snapshot!(Version::public("1.0+x").unwrap_err(), @"version `1.0+x` has a local label; the farm adds `+cu<XY>torch<M>.<m>` itself");
        insta::assert_snapshot!(Version::public("1.0-1").unwrap_err(), @"`1.0-1` is not a normalised PEP 440 version (expected e.g. `2026.1.0`, `1.2rc1`, `1.2.post1`)");
    }

    /// A wheel's version (public version + local label) displays and
    /// serialises as exactly the text it was made from: the bytes of METADATA,
    /// wheel file names and plan JSON.
    #[test]
    fn local_labels_round_trip() {
        for s in ["cu128torch2.9", "cu130torchstable2.10", "a", "1.x2.3"] {
            let l: LocalLabel = s.parse().unwrap();
            assert_eq!(l.to_string(), s);
            assert_eq!(format!("{l:?}"), format!("{s:?}"));
        }
        let v = Version::public("2026.1.0")
            .unwrap()
            .with_local(&"cu130torchstable2.10".parse().unwrap());
        assert_eq!(v.to_string(), "2026.1.0+cu130torchstable2.10");
        assert_eq!(
            v,
            "2026.1.0+cu130torchstable2.10".parse::<Version>().unwrap()
        );
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, "\"2026.1.0+cu130torchstable2.10\"");
        assert_eq!(serde_json::from_str::<Version>(&json).unwrap(), v);
    }

    #[test]
    fn local_labels_rejected() {
        for s in [
            "",
            "CU128",
            "a..b",
            "a-b",
            "a_b",
            ".a",
            "a.",
            "cu128+torch",
            "é",
        ] {
            assert!(s.parse::<LocalLabel>().is_err(), "{s}");
        }
        insta::assert_snapshot!("cu128-torch2.9".parse::<LocalLabel>().unwrap_err(), @"`cu128-torch2.9` is not a normalised PEP 440 local version label (expected lower-case ASCII letters and digits in `.`-separated segments, e.g. `cu128torch2.9`)");
        insta::assert_snapshot!("".parse::<LocalLabel>().unwrap_err(), @"`` is not a normalised PEP 440 local version label (expected lower-case ASCII letters and digits in `.`-separated segments, e.g. `cu128torch2.9`)");
        // A version's bad label is named on its own.
        insta::assert_snapshot!("1.0+Cu128".parse::<Version>().unwrap_err(), @"`Cu128` is not a normalised PEP 440 local version label (expected lower-case ASCII letters and digits in `.`-separated segments, e.g. `cu128torch2.9`)");
        assert!(serde_json::from_str::<LocalLabel>("\"a..b\"").is_err());
    }

    #[test]
    fn rejects_malformed() {
        for s in ["2", "2.x", "2.9.1", "", "02.9", "2..9", " 2.9"] {
            assert!(s.parse::<TorchMinor>().is_err(), "{s}");
        }
        for s in ["2.9", "2.9.1.1", "2.9.x", "2.9.1+cu128"] {
            assert!(s.parse::<TorchRelease>().is_err(), "{s}");
        }
        for s in ["12", "cu128", "12.8.1", "v12.8"] {
            assert!(s.parse::<CudaVersion>().is_err(), "{s}");
        }
        for s in [
            "90",
            "sm90",
            "sm_",
            "sm_9",
            "sm_90b",
            "compute_90",
            "sm_90af",
        ] {
            assert!(s.parse::<SmArch>().is_err(), "{s}");
        }
    }

    #[test]
    fn ordering_is_numeric() {
        let a: TorchMinor = "2.9".parse().unwrap();
        let b: TorchMinor = "2.10".parse().unwrap();
        assert!(a < b);
        let c: CudaVersion = "12.10".parse().unwrap();
        assert!(c > "12.9".parse().unwrap());
    }

    #[test]
    fn requirement_covers_the_minor() {
        let t: TorchMinor = "2.9".parse().unwrap();
        assert_eq!(t.requirement(), "torch>=2.9,<2.10");
    }

    #[test]
    fn toolkit_support_table() {
        let c = |s: &str| s.parse::<CudaVersion>().unwrap();
        let a = |s: &str| s.parse::<SmArch>().unwrap();
        // (arch, toolkit, compiles?)
        let table = [
            ("sm_80", "12.6", true),
            ("sm_90a", "12.6", true),
            ("sm_100", "12.6", false),
            ("sm_100", "12.8", true),
            ("sm_120", "12.8", true),
            ("sm_103", "12.8", false),
            ("sm_121", "12.9", true),
            ("sm_110", "12.9", false),
            ("sm_110", "13.0", true),
            ("sm_70", "12.8", true),
            ("sm_70", "13.0", false),
            ("sm_75", "13.0", true),
            ("sm_100f", "12.8", false),
            ("sm_100f", "12.9", true),
            ("sm_80a", "13.0", false),
            ("sm_99", "13.0", false),
        ];
        for (arch, cuda, ok) in table {
            assert_eq!(a(arch).supported_by(c(cuda)), ok, "{arch} on {cuda}");
        }
        assert_eq!(
            SmArch::supported_list(c("13.0")),
            vec![75, 80, 86, 87, 89, 90, 100, 103, 110, 120, 121]
        );
    }
}
