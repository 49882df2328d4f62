//! The audit over real ELF files: tiny shared libraries compiled with the
//! host's C compiler in the test. Skipped (with a message) when there is no `cc`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmpdir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("attnfarm-audit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

/// The C compiler these tests build real ELF libraries with; a missing one
/// fails the test unless ATTNFARM_ALLOW_SKIP=1.
fn have_cc() -> bool {
    crate::testing::require_tool(
        "cc",
        &[],
        "the audit tests (they compile real ELF libraries)",
    )
}

/// Compiles `src` into `dir/name` as a shared library with extra args,
/// using `compiler` on a source file with extension `ext`.
fn compile(
    compiler: &str,
    ext: &str,
    dir: &Path,
    name: &str,
    src: &str,
    extra: &[&str],
) -> PathBuf {
    let c = dir.join(format!("{name}.{ext}"));
    std::fs::write(&c, src).unwrap();
    let out = dir.join(name);
    let o = Command::new(compiler)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(&c)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{compiler} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A C shared library.
fn cc(dir: &Path, name: &str, src: &str, extra: &[&str]) -> PathBuf {
    compile("cc", "c", dir, name, src, extra)
}

/// A C++ shared library.
fn cxx(dir: &Path, name: &str, src: &str, extra: &[&str]) -> PathBuf {
    compile("c++", "cpp", dir, name, src, extra)
}

fn allowed() -> Allowed {
    Allowed {
        torch_libs: vec!["libc10.so".into(), "libtorch.so".into()],
        cudart: "libcudart.so.13".into(),
        stable_abi: false,
    }
}

fn tag(s: &str) -> PlatformTag {
    s.parse().unwrap()
}

#[test]
fn version_names() {
    assert_eq!(
        parse_version("GLIBC_2.2.5"),
        Some((Family::Glibc, [2, 2, 5]))
    );
    assert_eq!(
        parse_version("GLIBCXX_3.4.29"),
        Some((Family::Glibcxx, [3, 4, 29]))
    );
    assert_eq!(
        parse_version("CXXABI_1.3.13"),
        Some((Family::Cxxabi, [1, 3, 13]))
    );
    assert_eq!(parse_version("GCC_7.0.0"), Some((Family::Gcc, [7, 0, 0])));
    assert_eq!(parse_version("CXXABI_FLOAT128"), None);
    assert_eq!(parse_version("GLIBC_PRIVATE"), None);
    assert_eq!(parse_version("libcudart.so.13"), None);
}

#[test]
fn clean_library_is_manylinux_2_17() {
    if !have_cc() {
        return;
    }
    let d = tmpdir("clean");
    let lib = cc(
        &d.0,
        "libclean.so",
        "#include <string.h>\nint f(char*a,const char*b){return (int)strlen(strcpy(a,b));}\n",
        &[],
    );
    let r = audit_file(&lib, &tag("manylinux_2_28_x86_64"), &allowed()).unwrap();
    assert!(r.ok(), "{r}");
    assert_eq!(r.needed, Some(tag("manylinux_2_17_x86_64")));
}

/// Every kind of violation in one library, reported together and sorted.
#[test]
fn every_violation_at_once() {
    if !have_cc() {
        return;
    }
    let d = tmpdir("bad");
    // A library with a soname the policy does not allow.
    cc(
        &d.0,
        "libfoo.so",
        "int foo(void){return 1;}\n",
        &["-Wl,-soname,libfoo.so.1"],
    );
    let src = r#"
#include <math.h>
extern char __libc_single_threaded;          /* GLIBC_2.32 */
extern void *PyLong_FromLong(long);          /* Python C API */
extern int foo(void);
int a(void) { return __libc_single_threaded; }
double b(double x) { return log(x); }        /* GLIBC_2.29 on glibc >= 2.29 */
void *c(void) { return PyLong_FromLong(1); }
int d(void) { return foo(); }
"#;
    let lib = cc(
        &d.0,
        "_C.abi3.so",
        src,
        &[
            "-L",
            d.0.to_str().unwrap(),
            "-lfoo",
            "-lm",
            "-Wl,--disable-new-dtags",
            "-Wl,-rpath,/opt/build-machine/lib:$ORIGIN/../torch/lib",
        ],
    );
    let facts = read_elf(&lib).unwrap();
    assert!(
        facts.needed.contains(&"libfoo.so.1".to_string()),
        "{facts:?}"
    );
    let r = audit_file(&lib, &tag("manylinux_2_28_x86_64"), &allowed()).unwrap();
    assert!(!r.ok());
    insta::assert_snapshot!(r.to_string(), @r"
    audit of _C.abi3.so: needs manylinux_2_32_x86_64 (planned manylinux_2_28_x86_64); highest versions: GLIBC_2.32 (__libc_single_threaded); 5 violation(s):
      - DT_NEEDED `libfoo.so.1` is neither one of torch's libraries, the CUDA runtime torch brings (`libcudart.so.13`), nor a manylinux system library; link it statically or drop the dependency
      - GLIBC_2.29 needed by `log` is above manylinux_2_28_x86_64 (allows up to GLIBC_2.28); build in the platform's manylinux container (matrix.yaml `container`) or avoid the symbol
      - GLIBC_2.32 needed by `__libc_single_threaded` is above manylinux_2_28_x86_64 (allows up to GLIBC_2.28); build in the platform's manylinux container (matrix.yaml `container`) or avoid the symbol
      - RPATH entry `/opt/build-machine/lib` is not $ORIGIN-relative; it points into the build machine. Drop it: `import torch` loads every library this one needs
      - undefined Python C-API symbol `PyLong_FromLong`: the library must not use the Python C API (abi3 wheels load into any CPython); register ops through TORCH_LIBRARY only
    ");
}

#[test]
fn runpath_origin_is_fine_and_allowed_libs_pass() {
    if !have_cc() {
        return;
    }
    let d = tmpdir("ok");
    cc(
        &d.0,
        "libc10.so",
        "int c10(void){return 1;}\n",
        &["-Wl,-soname,libc10.so"],
    );
    let lib = cc(
        &d.0,
        "_C.abi3.so",
        "extern int c10(void);\nint g(void){return c10();}\n",
        &["-L", d.0.to_str().unwrap(), "-lc10", "-Wl,-rpath,$ORIGIN"],
    );
    let r = audit_file(&lib, &tag("manylinux_2_28_x86_64"), &allowed()).unwrap();
    assert!(r.ok(), "{r}");
    assert_eq!(read_elf(&lib).unwrap().runpath, ["$ORIGIN"]);
}

#[test]
fn floors_and_policy_order() {
    let facts = ElfFacts {
        undefined: vec![
            (
                "_ZSt28__throw_bad_array_new_lengthv".into(),
                Some(("GLIBCXX_3.4.29".into(), "libstdc++.so.6".into())),
            ),
            (
                "memcpy".into(),
                Some(("GLIBC_2.14".into(), "libc.so.6".into())),
            ),
        ],
        ..Default::default()
    };
    let r = audit("x.so", &facts, &tag("manylinux_2_28_x86_64"), &allowed());
    assert_eq!(r.needed, Some(tag("manylinux_2_34_x86_64")));
    assert_eq!(
        r.violations,
        ["GLIBCXX_3.4.29 needed by `_ZSt28__throw_bad_array_new_lengthv` is above manylinux_2_28_x86_64 (allows up to GLIBCXX_3.4.24); build with an older libstdc++/gcc (the manylinux container's toolset) or avoid the symbol"]
    );
    // A floor between policies: glibc is checked directly, libstdc++ against
    // the newest policy at or below it (2_31 for 2_32).
    let r = audit("x.so", &facts, &tag("manylinux_2_32_x86_64"), &allowed());
    assert_eq!(r.violations.len(), 1, "{r}");
    assert!(
        r.violations[0].contains("allows up to GLIBCXX_3.4.28"),
        "{r}"
    );
}

#[test]
fn statically_linked_libstdcxx_is_refused() {
    if !have_cc() || !crate::testing::require_tool("c++", &[], "the static libstdc++ audit test") {
        return;
    }
    let d = tmpdir("static-cxx");
    let src = "#include <stdexcept>\nextern \"C\" int f(int x) { if (x < 0) throw std::runtime_error(\"neg\"); return x; }\n";
    let shared = cxx(&d.0, "libshared.so", src, &[]);
    let facts = read_elf(&shared).unwrap();
    assert!(
        facts.own_cxx_runtime.is_empty(),
        "{:?}",
        facts.own_cxx_runtime
    );
    let r = audit(
        "libshared.so",
        &facts,
        &tag("manylinux_2_28_x86_64"),
        &allowed(),
    );
    assert!(
        r.violations.iter().all(|v| !v.contains("statically")),
        "{r}"
    );

    let stat = cxx(
        &d.0,
        "libstatic.so",
        src,
        &["-static-libstdc++", "-static-libgcc"],
    );
    let facts = read_elf(&stat).unwrap();
    assert!(
        facts.own_cxx_runtime.contains(&"__cxa_throw".to_string()),
        "{facts:?}"
    );
    let r = audit(
        "libstatic.so",
        &facts,
        &tag("manylinux_2_39_x86_64"),
        &allowed(),
    );
    assert!(
        r.violations.iter().any(|v| v.starts_with(
            "the library defines `__cxa_allocate_exception`: libstdc++ is linked in statically"
        )),
        "{r}"
    );
}

#[test]
fn stable_abi_library_imports_no_torch_cxx_symbol() {
    let facts = ElfFacts {
        needed: vec!["libtorch.so".into(), "libstdc++.so.6".into(), "libc.so.6".into()],
        undefined: vec![
            ("aoti_torch_get_sizes".into(), None),
            (
                "_ZNSo3putEc".into(),
                Some(("GLIBCXX_3.4".into(), "libstdc++.so.6".into())),
            ),
            ("_ZN3c105ErrorC2ENS_14SourceLocationENSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE".into(), None),
            // std:: bound (unversioned) to torch's copy: harmless.
            ("_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE10_M_disposeEv".into(), None),
        ],
        ..ElfFacts::default()
    };
    let planned = tag("manylinux_2_28_x86_64");
    // Per-minor: torch's C++ API is what it links against.
    assert!(audit("_C.abi3.so", &facts, &planned, &allowed()).ok());
    let stable = Allowed {
        stable_abi: true,
        ..allowed()
    };
    let r = audit("_C.abi3.so", &facts, &planned, &stable);
    insta::assert_snapshot!(r.violations.join("\n"), @"stable-ABI library imports the C++ symbol `_ZN3c105ErrorC2ENS_14SourceLocationENSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE` (torch's or c10's C++ API): it would only resolve in the torch it was linked against; call torch through torch/csrc/stable and the aoti_torch_*/torch_* C shims only");
}

#[test]
fn torch_cxx_symbols() {
    for (sym, torch) in [
        ("_ZN3c105ErrorC2ENS_14SourceLocationESs", true),
        ("_ZNK2at10TensorBase5dtypeEv", true),
        ("_ZN5torch7Library4implEv", true),
        ("_ZTVN3c1011StorageImplE", true),
        (
            "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE10_M_disposeEv",
            false,
        ),
        ("_ZN22attention_helper_thingE", false),
        ("aoti_torch_get_sizes", false),
    ] {
        assert_eq!(is_torch_cxx_symbol(sym), torch, "{sym}");
    }
}
