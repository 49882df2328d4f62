//! The audit: facts read from the built library decide its honest platform
//! tag and whether it may ship. Nothing here trusts what the plan asserts.
//!
//! Checked on Linux (ELF, via `object`):
//! - the highest GLIBC / GLIBCXX / CXXABI / GCC symbol versions needed → the
//!   lowest manylinux policy that allows them all (PEP 600, the same tables
//!   auditwheel ships); above the planned floor is a violation that names
//!   the symbol that raised it;
//! - every DT_NEEDED is a torch library, the CUDA runtime torch brings, or a
//!   PEP 600 system library;
//! - no undefined Python C-API symbol (`Py*`, `_Py*`): the library is abi3
//!   because it uses no Python API at all;
//! - RPATH/RUNPATH absent or `$ORIGIN`-relative;
//! - libstdc++ not linked in statically (torch's exceptions would cross two
//!   C++ runtimes: seen as a segfault on the first TORCH_CHECK error).
//!
//! Every violation is collected, sorted and reported together.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use object::read::elf::{Dyn, FileHeader, Sym};
use thiserror::Error;

use crate::platform::{GlibcVersion, PlatformTag};

#[derive(Debug, Error)]
pub enum AuditError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{}: not a 64-bit ELF shared library the audit can read: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: object::read::Error,
    },
}

/// One manylinux policy: the highest symbol version of each family allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub glibc: GlibcVersion,
    pub glibcxx: [u32; 3],
    pub cxxabi: [u32; 3],
    pub gcc: [u32; 3],
}

/// PEP 600 policies as auditwheel 6.8 ships them (x86_64; aarch64 differs
/// only below 2_27 and in GCC_ of 2_34..2_38, which the farm does not target).
pub const POLICIES: &[Policy] = &[
    pol(GlibcVersion::new(2, 17), [3, 4, 19], [1, 3, 7], [4, 8, 0]),
    pol(GlibcVersion::new(2, 24), [3, 4, 22], [1, 3, 10], [4, 8, 0]),
    pol(GlibcVersion::new(2, 26), [3, 4, 22], [1, 3, 10], [4, 8, 0]),
    pol(GlibcVersion::new(2, 27), [3, 4, 24], [1, 3, 11], [7, 0, 0]),
    pol(GlibcVersion::new(2, 28), [3, 4, 24], [1, 3, 11], [7, 0, 0]),
    pol(GlibcVersion::new(2, 31), [3, 4, 28], [1, 3, 12], [7, 0, 0]),
    pol(GlibcVersion::new(2, 34), [3, 4, 29], [1, 3, 13], [7, 0, 0]),
    pol(GlibcVersion::new(2, 35), [3, 4, 30], [1, 3, 13], [12, 0, 0]),
    pol(GlibcVersion::new(2, 36), [3, 4, 30], [1, 3, 13], [12, 0, 0]),
    pol(GlibcVersion::new(2, 38), [3, 4, 30], [1, 3, 13], [12, 0, 0]),
    pol(GlibcVersion::new(2, 39), [3, 4, 33], [1, 3, 15], [14, 0, 0]),
    pol(GlibcVersion::new(2, 40), [3, 4, 33], [1, 3, 15], [14, 0, 0]),
    pol(GlibcVersion::new(2, 41), [3, 4, 33], [1, 3, 15], [14, 0, 0]),
];

const fn pol(glibc: GlibcVersion, glibcxx: [u32; 3], cxxabi: [u32; 3], gcc: [u32; 3]) -> Policy {
    Policy {
        glibc,
        glibcxx,
        cxxabi,
        gcc,
    }
}

/// System libraries PEP 600 policies allow (auditwheel's whitelist, plus
/// the dynamic loaders).
pub const SYSTEM_LIBS: &[&str] = &[
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libc.so.6",
    "libnsl.so.1",
    "libutil.so.1",
    "libpthread.so.0",
    "libresolv.so.2",
    "libanl.so.1",
    "libatomic.so.1",
    "libmvec.so.1",
    "libz.so.1",
    "libexpat.so.1",
    "libX11.so.6",
    "libXext.so.6",
    "libXrender.so.1",
    "libICE.so.6",
    "libSM.so.6",
    "libGL.so.1",
    "libgobject-2.0.so.0",
    "libgthread-2.0.so.0",
    "libglib-2.0.so.0",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
];

/// A symbol version family the policies cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Glibc,
    Glibcxx,
    Cxxabi,
    Gcc,
}

impl Family {
    fn prefix(self) -> &'static str {
        match self {
            Family::Glibc => "GLIBC",
            Family::Glibcxx => "GLIBCXX",
            Family::Cxxabi => "CXXABI",
            Family::Gcc => "GCC",
        }
    }

    fn cap(self, p: &Policy) -> [u32; 3] {
        match self {
            Family::Glibc => [p.glibc.major, p.glibc.minor, 0],
            Family::Glibcxx => p.glibcxx,
            Family::Cxxabi => p.cxxabi,
            Family::Gcc => p.gcc,
        }
    }
}

/// Parses `GLIBC_2.2.5`, `GLIBCXX_3.4.29`, `CXXABI_1.3.13`, `GCC_7.0.0`.
/// Non-numeric versions (`CXXABI_FLOAT128`, `GLIBC_PRIVATE`) give None.
pub fn parse_version(name: &str) -> Option<(Family, [u32; 3])> {
    let (prefix, rest) = name.split_once('_')?;
    let family = match prefix {
        "GLIBC" => Family::Glibc,
        "GLIBCXX" => Family::Glibcxx,
        "CXXABI" => Family::Cxxabi,
        "GCC" => Family::Gcc,
        _ => return None,
    };
    let mut v = [0u32; 3];
    for (n, part) in rest.split('.').enumerate() {
        *v.get_mut(n)? = part.parse().ok()?;
    }
    Some((family, v))
}

fn fmt_version(f: Family, v: [u32; 3]) -> String {
    match f {
        Family::Glibc if v[2] == 0 => format!("GLIBC_{}.{}", v[0], v[1]),
        _ => format!("{}_{}.{}.{}", f.prefix(), v[0], v[1], v[2]),
    }
}

/// What the ELF file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfFacts {
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// Undefined dynamic symbols and the version (name, file) each needs.
    pub undefined: Vec<(String, Option<(String, String)>)>,
    /// C++ runtime entry points the library defines itself (from `.symtab`
    /// and `.dynsym`): a sign libstdc++ was linked in statically.
    pub own_cxx_runtime: Vec<String>,
    /// The library has C++ exception tables (`.gcc_except_table`).
    pub cxx_exceptions: bool,
}

/// Symbols only a C++ runtime defines; a library that defines them carries
/// its own copy of libstdc++/libsupc++.
const CXX_RUNTIME_SYMBOLS: [&str; 3] = [
    "__cxa_throw",
    "__gxx_personality_v0",
    "__cxa_allocate_exception",
];

pub fn read_elf(path: &Path) -> Result<ElfFacts, AuditError> {
    let data = fs_err::read(path)?;
    parse_elf(&data).map_err(|source| AuditError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

pub fn parse_elf(data: &[u8]) -> Result<ElfFacts, object::read::Error> {
    let elf = object::elf::FileHeader64::<object::Endianness>::parse(data)?;
    let endian = elf.endian()?;
    let sections = elf.sections(endian, data)?;
    let mut facts = ElfFacts::default();
    if let Some((dyns, link)) = sections.dynamic(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        for d in dyns {
            let tag = d.tag(endian);
            let text = || -> Result<String, object::read::Error> {
                let s = d.string(endian, strings)?;
                Ok(String::from_utf8_lossy(s).into_owned())
            };
            match tag {
                object::elf::DT_NEEDED => facts.needed.push(text()?),
                object::elf::DT_RPATH => facts.rpath.extend(text()?.split(':').map(String::from)),
                object::elf::DT_RUNPATH => {
                    facts.runpath.extend(text()?.split(':').map(String::from))
                }
                _ => {}
            }
        }
    }
    let syms = sections.symbols(endian, data, object::elf::SHT_DYNSYM)?;
    let versions = sections.versions(endian, data)?;
    for (i, s) in syms.enumerate() {
        if !s.is_undefined(endian) || i.0 == 0 {
            continue;
        }
        let name = String::from_utf8_lossy(s.name(endian, syms.strings())?).into_owned();
        if name.is_empty() {
            continue;
        }
        let ver = match &versions {
            Some(vt) => {
                let vi = vt.version_index(endian, i);
                vt.version(vi.index())?.map(|v| {
                    (
                        String::from_utf8_lossy(v.name()).into_owned(),
                        v.file()
                            .map(|f| String::from_utf8_lossy(f).into_owned())
                            .unwrap_or_default(),
                    )
                })
            }
            None => None,
        };
        facts.undefined.push((name, ver));
    }
    facts.undefined.sort();
    for kind in [object::elf::SHT_SYMTAB, object::elf::SHT_DYNSYM] {
        let table = sections.symbols(endian, data, kind)?;
        for s in table.iter() {
            if s.is_undefined(endian) {
                continue;
            }
            let name = s.name(endian, table.strings())?;
            if let Some(n) = CXX_RUNTIME_SYMBOLS.iter().find(|n| n.as_bytes() == name) {
                facts.own_cxx_runtime.push(n.to_string());
            }
        }
    }
    facts.own_cxx_runtime.sort();
    facts.own_cxx_runtime.dedup();
    facts.cxx_exceptions = sections
        .section_by_name(endian, b".gcc_except_table")
        .is_some();
    Ok(facts)
}

/// What may be needed besides system libraries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// File names in torch's `lib/`. Ex) `libtorch_cuda.so`, `libc10.so`
    pub torch_libs: Vec<String>,
    /// The CUDA runtime torch brings. Ex) `libcudart.so.13`
    pub cudart: String,
    /// A stable-ABI library (`bindings/csrc/stable`): it may reach torch only
    /// through torch's C shims, so it must import no unversioned C++ symbol
    /// (libstdc++'s are versioned; torch's and c10's are not). One such
    /// import would tie the wheel to the torch release it was linked against.
    pub stable_abi: bool,
}

/// The outcome: the tag the binary really needs and every violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub file: String,
    /// The manylinux tag the symbol versions need: glibc from GLIBC_x.y,
    /// libstdc++/libgcc through the lowest policy that allows them; None if
    /// no known policy does.
    pub needed: Option<PlatformTag>,
    pub planned: PlatformTag,
    /// Highest version per family and the (first, sorted) symbol needing it.
    pub highest: BTreeMap<Family, (String, String)>,
    pub violations: Vec<String>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// One line per family. Ex) `GLIBC_2.28 (memcpy), GLIBCXX_3.4.21 (…)`
    pub fn highest_line(&self) -> String {
        self.highest
            .values()
            .map(|(v, s)| format!("{v} ({s})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needed = self
            .needed
            .as_ref()
            .map_or("no manylinux tag".to_string(), |t| t.to_string());
        write!(
            f,
            "audit of {}: needs {needed} (planned {}); highest versions: {}",
            self.file,
            self.planned,
            self.highest_line()
        )?;
        if self.violations.is_empty() {
            return write!(f, "; ok");
        }
        write!(f, "; {} violation(s):", self.violations.len())?;
        for v in &self.violations {
            write!(f, "\n  - {v}")?;
        }
        Ok(())
    }
}

/// A mangled C++ name from torch's own namespaces (`c10`, `at`, `torch`,
/// `caffe2`), e.g. `_ZN3c105ErrorC2…`. Unversioned `std::` names are not:
/// the linker may bind them to torch's copy of a libstdc++ instantiation, and
/// at run time any loaded libstdc++ satisfies them.
pub fn is_torch_cxx_symbol(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("_Z") else {
        return false;
    };
    let b = rest.as_bytes();
    ["3c10", "2at", "5torch", "6caffe2"].iter().any(|ns| {
        rest.match_indices(ns)
            .any(|(i, _)| i == 0 || !b[i - 1].is_ascii_digit())
    })
}

fn is_python_symbol(name: &str) -> bool {
    let n = name.strip_prefix('_').unwrap_or(name);
    n.starts_with("Py") && n[2..].starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
}

/// Audits ELF facts against the planned tag and the allowed libraries.
pub fn audit(
    file: &str,
    facts: &ElfFacts,
    planned: &PlatformTag,
    allowed: &Allowed,
) -> AuditReport {
    let platform = planned.platform();
    let mut violations = Vec::new();
    // Highest version per family, and every symbol per version.
    let mut by_version: BTreeMap<(Family, [u32; 3]), Vec<String>> = BTreeMap::new();
    for (sym, ver) in &facts.undefined {
        if let Some((vname, _)) = ver {
            if vname == "GLIBC_PRIVATE" {
                violations.push(format!(
                    "symbol `{sym}` needs GLIBC_PRIVATE, glibc's internal interface; no manylinux policy allows it"
                ));
            }
            if let Some(fv) = parse_version(vname) {
                by_version.entry(fv).or_default().push(sym.clone());
            }
        }
        if allowed.stable_abi && ver.is_none() && is_torch_cxx_symbol(sym) {
            violations.push(format!(
                "stable-ABI library imports the C++ symbol `{sym}` (torch's or c10's C++ API): \
                 it would only resolve in the torch it was linked against; call torch through \
                 torch/csrc/stable and the aoti_torch_*/torch_* C shims only"
            ));
        }
        if is_python_symbol(sym) {
            violations.push(format!(
                "undefined Python C-API symbol `{sym}`: the library must not use the Python C API \
                 (abi3 wheels load into any CPython); register ops through TORCH_LIBRARY only"
            ));
        }
    }
    // A stripped library shows no own symbols; C++ exception tables without
    // a libstdc++ dependency tell the same story.
    let static_cxx = facts.own_cxx_runtime.first().cloned().or_else(|| {
        (facts.cxx_exceptions && !facts.needed.iter().any(|n| n.starts_with("libstdc++.so")))
            .then(|| "C++ exception tables but no libstdc++.so dependency".to_string())
    });
    if let Some(sym) = static_cxx {
        violations.push(format!(
            "the library defines `{sym}`: libstdc++ is linked in statically, so C++ exceptions \
             (every TORCH_CHECK error) cross between two C++ runtimes and crash the process; \
             link libstdc++ dynamically (a compiler or wrapper that adds -static-libstdc++ does \
             this: point CXX at the system g++)"
        ));
    }
    let mut highest: BTreeMap<Family, ([u32; 3], String)> = BTreeMap::new();
    for ((fam, v), syms) in &by_version {
        // BTreeMap order: the last entry per family is the highest.
        highest.insert(*fam, (*v, syms[0].clone()));
    }
    // The glibc a tag needs: GLIBC_x.y directly; the other families through
    // the lowest policy whose caps allow them.
    let needed_glibc = highest
        .iter()
        .try_fold(GlibcVersion::new(2, 17), |acc, (f, (v, _))| {
            let g = match f {
                Family::Glibc => Some(GlibcVersion::new(v[0], v[1])),
                _ => POLICIES.iter().find(|p| *v <= f.cap(p)).map(|p| p.glibc),
            }?;
            Some(acc.max(g))
        });
    let needed = needed_glibc.map(|g| PlatformTag::manylinux(platform, g));
    if let Some(floor) = planned.glibc() {
        // Caps of the floor: glibc itself, and the newest policy at or below it
        // for libstdc++/libgcc.
        let floor_policy = POLICIES.iter().rev().find(|p| p.glibc <= floor);
        for ((fam, v), syms) in &by_version {
            let cap = match (fam, floor_policy) {
                (Family::Glibc, _) => [floor.major, floor.minor, 0],
                (_, Some(fp)) => fam.cap(fp),
                (_, None) => [0, 0, 0],
            };
            if *v > cap {
                let shown: Vec<String> = syms.iter().take(3).map(|s| format!("`{s}`")).collect();
                let more = if syms.len() > 3 {
                    format!(" and {} more", syms.len() - 3)
                } else {
                    String::new()
                };
                violations.push(format!(
                    "{} needed by {}{more} is above {planned} (allows up to {}); {}",
                    fmt_version(*fam, *v),
                    shown.join(", "),
                    fmt_version(*fam, cap),
                    match fam {
                        Family::Glibc => "build in the platform's manylinux container (matrix.yaml `container`) or avoid the symbol",
                        _ => "build with an older libstdc++/gcc (the manylinux container's toolset) or avoid the symbol",
                    }
                ));
            }
        }
    }
    for lib in &facts.needed {
        let ok = SYSTEM_LIBS.contains(&lib.as_str())
            || allowed.torch_libs.iter().any(|t| t == lib)
            || *lib == allowed.cudart;
        if !ok {
            violations.push(format!(
                "DT_NEEDED `{lib}` is neither one of torch's libraries, the CUDA runtime torch brings \
                 (`{}`), nor a manylinux system library; link it statically or drop the dependency",
                allowed.cudart
            ));
        }
    }
    for (kind, list) in [("RPATH", &facts.rpath), ("RUNPATH", &facts.runpath)] {
        for entry in list {
            if !(entry.starts_with("$ORIGIN") || entry.starts_with("${ORIGIN}")) {
                violations.push(format!(
                    "{kind} entry `{entry}` is not $ORIGIN-relative; it points into the build machine. \
                     Drop it: `import torch` loads every library this one needs"
                ));
            }
        }
    }
    violations.sort();
    violations.dedup();
    AuditReport {
        file: file.to_string(),
        needed,
        planned: planned.clone(),
        highest: highest
            .into_iter()
            .map(|(f, (v, s))| (f, (fmt_version(f, v), s)))
            .collect(),
        violations,
    }
}

/// Reads and audits a built library. Windows `.pyd` files are not audited
/// here (no glibc tags; the MSVC runtime is the platform's).
pub fn audit_file(
    path: &Path,
    planned: &PlatformTag,
    allowed: &Allowed,
) -> Result<AuditReport, AuditError> {
    let facts = read_elf(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(audit(&name, &facts, planned, allowed))
}

#[cfg(test)]
mod tests;
