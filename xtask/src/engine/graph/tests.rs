//! The graph on an in-memory fixture: no compiler, no files.

use std::path::PathBuf;

use super::*;
use crate::matrix::Matrix;
use crate::plan::Plan;
use crate::platform::Platform;
use crate::toolchain::layout::{CudaLayout, CxxAbi, CxxStd, FatbinCompression, TorchLayout};
use crate::toolchain::Cache;

fn opts(object_cache: bool) -> Options {
    Options {
        repo: "/repo".into(),
        out: "/dist".into(),
        cache: Cache {
            root: "/cache".into(),
        },
        objects: "/cache/objects".into(),
        jobs: 2,
        object_cache,
        epoch: 0,
        revision: "test".into(),
        cxx: "g++".into(),
        cc: "gcc".into(),
        link_exe: "link.exe".into(),
    }
}

fn file(path: &str, size: usize) -> (PathBuf, Vec<u8>) {
    (PathBuf::from(path), vec![b'x'; size])
}

/// Three kernels (sorted as `Sources::read` sorts them), one binding of each kind.
fn sources() -> Sources {
    Sources {
        kernels: vec![
            file("/repo/kernels/src/api.cu", 10),
            file("/repo/kernels/src/attn_fp8_sm90a.cu", 200),
            file("/repo/kernels/src/attn_int8.cu", 500),
        ],
        kernel_headers: "kh".into(),
        bindings: vec![file("/repo/bindings/csrc/attention.cpp", 300)],
        stable_bindings: vec![file("/repo/bindings/csrc/stable/attention_stable.cpp", 250)],
        binding_headers: "bh".into(),
    }
}

/// The default matrix's Linux variants, by id.
fn variants(ids: &[&str]) -> Vec<Variant> {
    let m = Matrix::parse("matrix.yaml", include_str!("../../../../matrix.yaml")).unwrap();
    let plan = Plan::from_matrix(&m, Some(Platform::LinuxX86_64));
    ids.iter()
        .map(|id| plan.find(id).unwrap_or_else(|| panic!("{id}")).clone())
        .collect()
}

/// A toolchain whose cache keys follow the variant's toolkit and torch build.
fn toolchain(v: &Variant) -> Toolchain {
    Toolchain {
        cuda: CudaLayout {
            root: "/cache/cuda".into(),
            version: v.toolkit,
            nvcc: "/cache/cuda/bin/nvcc".into(),
            include_dirs: vec!["/cache/cuda/include".into()],
            lib_dir: "/cache/cuda/lib".into(),
            cudart: "libcudart.so.12".into(),
            compression: FatbinCompression::CompressMode,
        },
        torch: TorchLayout {
            root: "/cache/torch".into(),
            version: v.torch_build.to_string(),
            cuda: None,
            abi: CxxAbi {
                cxx11: Some(true),
                source: "fixture".into(),
            },
            cxx_std: CxxStd {
                year: 17,
                source: "fixture".into(),
            },
            include_dirs: vec!["/cache/torch/include".into()],
            lib_dir: "/cache/torch/lib".into(),
            libs: vec![],
        },
        cuda_id: format!("cuda-{}", v.toolkit),
        torch_id: format!("torch-{}", v.torch_build),
    }
}

/// The graph of `vs` (in order) and what each variant links.
fn graph_of(vs: &[Variant], object_cache: bool) -> (Graph, Vec<VariantJob>) {
    let opts = opts(object_cache);
    let sources = sources();
    let cx = GraphContext {
        opts: &opts,
        sources: &sources,
        cxx_id: "g++: fixture".into(),
        cc_id: "gcc: fixture".into(),
    };
    let mut g = Graph::new();
    let jobs = vs
        .iter()
        .enumerate()
        .map(|(i, v)| g.add_variant(&cx, i, v, &toolchain(v)).unwrap())
        .collect();
    (g, jobs)
}

fn count(g: &Graph, kind: ObjectKind) -> usize {
    g.jobs.iter().filter(|j| j.kind == kind).count()
}

fn of_kind(g: &Graph, vj: &VariantJob, kind: ObjectKind) -> Vec<usize> {
    vj.objects
        .iter()
        .copied()
        .filter(|&j| g.jobs[j].kind == kind)
        .collect()
}

const CU12: [&str; 3] = [
    "cu12-torch2.8-linux_x86_64",
    "cu12-torch2.9-linux_x86_64",
    "cu12-torchstable2.10-linux_x86_64",
];

#[test]
fn kernels_compile_once_per_toolkit_and_bindings_once_per_torch() {
    let mut ids = CU12.to_vec();
    ids.push("cu13-torchstable2.10-linux_x86_64");
    let (g, vjs) = graph_of(&variants(&ids), true);
    // 3 kernel sources × 2 toolkits; one binding per variant; one compat unit.
    assert_eq!(count(&g, ObjectKind::Kernel), 6);
    assert_eq!(count(&g, ObjectKind::Binding), 4);
    assert_eq!(count(&g, ObjectKind::Compat), 1);
    // The cu12 variants share the kernels the first one owns.
    let k0 = of_kind(&g, &vjs[0], ObjectKind::Kernel);
    for vj in &vjs[1..3] {
        assert_eq!(of_kind(&g, vj, ObjectKind::Kernel), k0);
    }
    assert!(k0.iter().all(|&j| g.jobs[j].owner == 0));
    let k3 = of_kind(&g, &vjs[3], ObjectKind::Kernel);
    assert!(k3.iter().all(|&j| g.jobs[j].owner == 3 && !k0.contains(&j)));
    // Every variant links kernels, its binding and the compat unit, in that order.
    for vj in &vjs {
        let kinds: Vec<ObjectKind> = vj.objects.iter().map(|&j| g.jobs[j].kind).collect();
        assert_eq!(
            kinds,
            [
                ObjectKind::Kernel,
                ObjectKind::Kernel,
                ObjectKind::Kernel,
                ObjectKind::Binding,
                ObjectKind::Compat
            ]
        );
    }
    // Cached objects live under the key. Ex) /cache/objects/ab/ab….o
    let j = &g.jobs[k0[0]];
    assert_eq!(
        j.out,
        PathBuf::from(format!("/cache/objects/{}/{}.o", &j.key[..2], j.key))
    );
}

#[test]
fn the_same_torch_twice_shares_its_binding_too() {
    let vs = variants(&CU12[..1]);
    let twice = [vs[0].clone(), vs[0].clone()];
    let (g, vjs) = graph_of(&twice, true);
    assert_eq!(vjs[0].objects, vjs[1].objects);
    assert_eq!(g.jobs.len(), 5);
}

#[test]
fn stable_and_per_minor_variants_compile_their_own_binding() {
    let (g, vjs) = graph_of(&variants(&CU12), true);
    let label = |vj: &VariantJob| {
        g.jobs[of_kind(&g, vj, ObjectKind::Binding)[0]]
            .label
            .clone()
    };
    assert_eq!(label(&vjs[0]), "bindings/csrc/attention.cpp");
    assert_eq!(label(&vjs[2]), "bindings/csrc/stable/attention_stable.cpp");
    let stable = &g.jobs[of_kind(&g, &vjs[2], ObjectKind::Binding)[0]];
    assert!(stable
        .template
        .contains(&"-DTORCH_TARGET_VERSION=0x020a000000000000ULL".to_string()));
}

#[test]
fn an_arch_set_is_part_of_the_kernel_key() {
    let mut vs = variants(&CU12[..2]);
    vs[1].arches = vec!["sm_90".parse().unwrap()];
    vs[1].ptx = None;
    let (g, vjs) = graph_of(&vs, true);
    // api.cu and attn_int8.cu compile again for the sm_90-only variant; the
    // `*_sm90a.cu` source is sm_90a alone in both, so its object is shared.
    assert_eq!(count(&g, ObjectKind::Kernel), 5);
    for &j in &of_kind(&g, &vjs[1], ObjectKind::Kernel) {
        let shared = g.jobs[j].label == "kernels/src/attn_fp8_sm90a.cu";
        assert_eq!(
            g.jobs[j].owner,
            if shared { 0 } else { 1 },
            "{}",
            g.jobs[j].label
        );
    }
}

fn gencodes(job: &ObjectJob) -> Vec<&str> {
    job.template
        .iter()
        .filter(|a| a.starts_with("arch="))
        .map(String::as_str)
        .collect()
}

#[test]
fn sm90a_sources_compile_for_sm_90a_alone() {
    let mut vs = variants(&CU12[..1]);
    let mut no90 = vs[0].clone();
    no90.arches = vec!["sm_80".parse().unwrap()];
    no90.ptx = None;
    vs.push(no90);
    let (g, vjs) = graph_of(&vs, true);
    let by_label = |vj: &VariantJob, label: &str| {
        vj.objects
            .iter()
            .map(|&j| &g.jobs[j])
            .find(|j| j.label == label)
            .unwrap()
            .clone()
    };
    // The variant targets sm_90: the Hopper-only source gets sm_90a SASS, no PTX.
    let hop = by_label(&vjs[0], "kernels/src/attn_fp8_sm90a.cu");
    assert_eq!(gencodes(&hop), ["arch=compute_90a,code=sm_90a"]);
    // Every other source: the variant's arches and PTX.
    let int8 = by_label(&vjs[0], "kernels/src/attn_int8.cu");
    assert_eq!(
        gencodes(&int8),
        [
            "arch=compute_80,code=sm_80",
            "arch=compute_86,code=sm_86",
            "arch=compute_89,code=sm_89",
            "arch=compute_90,code=sm_90",
            "arch=compute_100,code=sm_100",
            "arch=compute_120,code=sm_120",
            "arch=compute_120,code=compute_120",
        ]
    );
    // Without sm_90 the source keeps the variant's arches.
    let hop80 = by_label(&vjs[1], "kernels/src/attn_fp8_sm90a.cu");
    assert_eq!(gencodes(&hop80), ["arch=compute_80,code=sm_80"]);
}

#[test]
fn order_is_longest_first() {
    let (g, _) = graph_of(&variants(&CU12[..2]), true);
    let labels: Vec<&str> = g
        .order()
        .iter()
        .map(|&j| g.jobs[j].label.as_str())
        .collect();
    assert_eq!(
        labels,
        [
            "kernels/src/attn_int8.cu",
            "kernels/src/attn_fp8_sm90a.cu",
            "kernels/src/api.cu",
            "bindings/csrc/attention.cpp",
            "bindings/csrc/attention.cpp",
            "glibc_compat.c",
        ]
    );
    assert!(g
        .jobs
        .iter()
        .all(|j| j.nvcc_threads() == (j.kind == ObjectKind::Kernel)));
    assert!(g.needs_compat());
}

#[test]
fn without_the_object_cache_nothing_is_shared() {
    let (g, vjs) = graph_of(&variants(&CU12[..2]), false);
    assert_eq!(g.jobs.len(), 10);
    assert!(vjs[0].objects.iter().all(|j| !vjs[1].objects.contains(j)));
    let api = &g.jobs[vjs[1].objects[0]];
    assert_eq!(
        api.out,
        PathBuf::from("/dist/build/cu12-torch2.9-linux_x86_64/obj/kernels_src_api_cu.o")
    );
    assert_eq!(api.owner, 1);
}

#[test]
fn a_kind_without_sources_is_named() {
    let opts = opts(true);
    let mut sources = sources();
    sources.stable_bindings.clear();
    let cx = GraphContext {
        opts: &opts,
        sources: &sources,
        cxx_id: String::new(),
        cc_id: String::new(),
    };
    let v = &variants(&CU12[2..])[0];
    let err = Graph::new()
        .add_variant(&cx, 0, v, &toolchain(v))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no stable binding sources: /repo/bindings/csrc/stable has no .cpp files"
    );
}

#[test]
fn keys_ignore_the_checkout_and_cache_roots() {
    let vs = variants(&CU12[..1]);
    let key_with = |repo: &str, cache: &str| {
        let mut o = opts(true);
        o.repo = repo.into();
        o.cache.root = cache.into();
        let mut s = sources();
        for (p, _) in s.kernels.iter_mut() {
            *p = PathBuf::from(p.display().to_string().replace("/repo", repo));
        }
        let cx = GraphContext {
            opts: &o,
            sources: &s,
            cxx_id: "g++".into(),
            cc_id: "gcc".into(),
        };
        let mut tc = toolchain(&vs[0]);
        tc.cuda.nvcc = format!("{cache}/cuda/bin/nvcc").into();
        tc.cuda.include_dirs = vec![format!("{cache}/cuda/include").into()];
        let mut g = Graph::new();
        g.add_variant(&cx, 0, &vs[0], &tc).unwrap();
        g.jobs[0].key.clone()
    };
    assert_eq!(
        key_with("/repo", "/cache"),
        key_with("/elsewhere/repo", "/c2")
    );
}
