//! Real end to end, gated: `ATTNFARM_E2E=1 cargo test -p xtask --test e2e_stable`
//! (without it the build test is reported ignored).
//!
//! The stable-ABI twin of `e2e_hermetic.rs`: a hermetic build of
//! `cu13-torchstable2.10-linux_x86_64` (the stable binding, compiled with
//! TORCH_TARGET_VERSION against torch 2.10's headers) for sm_90 only (toolkit and torch wheels
//! downloaded into the farm's cache on first use, the repo's real kernels
//! and bindings), then checks the wheel with `inspect_wheel` and its build
//! record, then runs again and checks that nothing was compiled.
//! Needs network (first run), gcc/g++, ~3 GB in the cache.

#[path = "support/e2e.rs"]
mod e2e;

const VARIANT: &str = "cu13-torchstable2.10-linux_x86_64";

#[test]
#[cfg_attr(
    not(attnfarm_e2e),
    ignore = "real build (network, minutes): set ATTNFARM_E2E=1"
)]
fn hermetic_cu13_stable_sm90() {
    e2e::hermetic_sm90(
        VARIANT,
        "stable",
        "attnfarm-2026.1.0+cu130torchstable2.10-cp39-abi3-manylinux_2_28_x86_64.whl",
        "torch>=2.10",
        |wheel, text| {
            assert!(
                text.contains("TORCH_BUILT_WITH = \"2.10.0+cu128\"\n")
                    && text.contains("KIND = \"stable\"\n"),
                "{text}"
            );
            // The stable binding reached torch only through its C shims: the
            // library imports no C++ symbol of torch's (the audit enforces it; this
            // re-reads the library from the wheel to show it).
            let lib = e2e::wheel_file(wheel, "attnfarm/_C.abi3.so");
            let facts = xtask::audit::parse_elf(&lib).unwrap();
            let cxx: Vec<&String> = facts
                .undefined
                .iter()
                .filter(|(s, v)| v.is_none() && xtask::audit::is_torch_cxx_symbol(s))
                .map(|(s, _)| s)
                .collect();
            assert!(cxx.is_empty(), "torch C++ symbols imported: {cxx:?}");
            assert!(
                facts
                    .undefined
                    .iter()
                    .any(|(s, _)| s == "aoti_torch_get_current_cuda_stream"),
                "the current CUDA stream comes through the shim"
            );
            assert!(
                facts.needed.iter().any(|n| n == "libcudart.so.13"),
                "{:?}",
                facts.needed
            );
        },
    );
}
