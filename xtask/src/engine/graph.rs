//! The compile graph, pure: which objects every variant links, under which
//! cache key and path, which of them are shared, and the order to compile
//! them in. No compiler runs here; [`super::run`] executes the graph.
//!
//! Invariants (tested below on an in-memory fixture):
//! - Objects are identified by their key ([`keys::object_key`]): with the
//!   object cache on, two variants whose key for a source is equal share one
//!   job. So kernels compile once per (toolkit, arch set, flags), bindings
//!   once per torch (and binding kind), the glibc-compat unit once per `cc`.
//! - The first variant (by plan order) that needs a job owns it and gets the
//!   "compiled" credit; the others count it as reused.
//! - Without the object cache every variant gets private objects under
//!   `<out>/build/<id>/obj/`, nothing is shared.
//! - Kernel sources get their arches from [`command::arches_for_source`]
//!   (`*_sm90a.cu`: `sm_90a` alone when the variant targets sm_90).
//! - Order: longest first, so the longest job does not start last: kernels,
//!   then bindings, then the compat unit; within a kind larger sources first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::command::{self, BindingCompile, KernelCompile, Link};
use super::{keys, EngineError, Options, Sources};
use crate::plan::{Variant, VariantKind};
use crate::platform::Os;
use crate::toolchain::Toolchain;

/// What an object is compiled from; the order is the scheduling priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    /// `kernels/src/*.cu` through nvcc.
    Kernel,
    /// `bindings/csrc/*.cpp` (or `stable/*.cpp`) through the host C++ compiler.
    Binding,
    /// The glibc-compat C unit (Linux).
    Compat,
}

/// One object a variant needs, before it is placed or shared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PlannedObject {
    kind: ObjectKind,
    /// Ex) `kernels/src/attn_int8.cu`
    label: String,
    /// The argv with the output as [`keys::OUT`].
    template: Vec<String>,
    key: String,
    /// Source bytes: the cost estimate for longest-first scheduling.
    weight: usize,
}

/// One compile job of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectJob {
    pub kind: ObjectKind,
    /// Ex) `kernels/src/attn_int8.cu`
    pub label: String,
    /// The argv with the output as [`keys::OUT`] (and without `--threads`).
    pub template: Vec<String>,
    /// Where the object goes. Ex) `<cache>/objects/3f/3f…9a.o`
    pub out: PathBuf,
    pub key: String,
    /// The first variant (index into the graph's variants) that needs it.
    pub owner: usize,
    /// Source bytes: the cost estimate for longest-first scheduling.
    pub weight: usize,
}

impl ObjectJob {
    /// nvcc jobs get `--threads N` at run time.
    pub fn nvcc_threads(&self) -> bool {
        self.kind == ObjectKind::Kernel
    }
}

/// What one variant links: its objects (indices into [`Graph::jobs`]) and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantJob {
    pub objects: Vec<usize>,
    pub link: Link,
}

/// Run-wide inputs of the graph.
pub struct GraphContext<'a> {
    pub opts: &'a Options,
    pub sources: &'a Sources,
    /// [`super::compiler_id`] of `opts.cxx` and `opts.cc`.
    pub cxx_id: String,
    pub cc_id: String,
}

impl GraphContext<'_> {
    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.opts.repo)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    }

    /// Absolute roots replaced in keyed command lines.
    fn normalize(&self, argv: &[String]) -> Vec<String> {
        let repo_s = self.opts.repo.display().to_string();
        let cache_s = self.opts.cache.root.display().to_string();
        keys::normalize(argv, &[(&cache_s, "$CACHE"), (&repo_s, "$REPO")])
    }
}

/// The glibc-compat source the compat jobs compile: `<out>/build/glibc_compat.c`.
pub fn compat_source(out: &Path) -> PathBuf {
    out.join("build").join("glibc_compat.c")
}

/// How a variant's kernels are compiled with its toolchain.
pub fn kernel_compile(opts: &Options, v: &Variant, tc: &Toolchain) -> KernelCompile {
    let mut include_dirs = vec![opts.repo.join("kernels/include")];
    include_dirs.extend(tc.cuda.include_dirs.iter().cloned());
    KernelCompile {
        os: v.platform.os(),
        nvcc: tc.cuda.nvcc.clone(),
        host_cxx: opts.cxx.clone(),
        include_dirs,
        arches: v.arches.clone(),
        ptx: v.ptx,
        compression: tc.cuda.compression,
        source_root: Some(opts.repo.clone()),
    }
}

/// How a variant's binding is compiled with its toolchain.
pub fn binding_compile(opts: &Options, v: &Variant, tc: &Toolchain) -> BindingCompile {
    let mut include_dirs = vec![opts.repo.join("kernels/include")];
    include_dirs.extend(tc.torch.include_dirs.iter().cloned());
    include_dirs.extend(tc.cuda.include_dirs.iter().cloned());
    BindingCompile {
        os: v.platform.os(),
        cxx: opts.cxx.clone(),
        cxx11_abi: tc.torch.abi.cxx11,
        cxx_std: tc.torch.cxx_std.year,
        include_dirs,
        source_root: Some(opts.repo.clone()),
        defines: command::binding_defines(v.kind, v.torch),
    }
}

/// How a variant's library is linked.
pub fn link(opts: &Options, v: &Variant, tc: &Toolchain) -> Link {
    let os = v.platform.os();
    Link {
        os,
        linker: match os {
            Os::Linux => opts.cxx.clone(),
            Os::Windows => opts.link_exe.clone(),
        },
        torch_lib_dir: tc.torch.lib_dir.clone(),
        cuda_lib_dir: tc.cuda.lib_dir.clone(),
        cudart: tc.cuda.cudart.clone(),
    }
}

/// Every object one variant needs, in link order: kernels, bindings, compat.
fn planned_objects(
    cx: &GraphContext,
    v: &Variant,
    tc: &Toolchain,
) -> Result<Vec<PlannedObject>, EngineError> {
    let opts = cx.opts;
    let sources = cx.sources;
    let os = v.platform.os();
    let kc = kernel_compile(opts, v, tc);
    let bc = binding_compile(opts, v, tc);
    let mut planned = Vec::new();
    for (src, bytes) in &sources.kernels {
        let template = kc.argv(src, Path::new(keys::OUT));
        let key = keys::object_key(
            "kernel",
            &[&tc.cuda_id, &cx.cxx_id],
            &cx.normalize(&template),
            bytes,
            &sources.kernel_headers,
        );
        planned.push(PlannedObject {
            kind: ObjectKind::Kernel,
            label: cx.rel(src),
            template,
            key,
            weight: bytes.len(),
        });
    }
    let binding_sources = sources.bindings_for(v.kind);
    if binding_sources.is_empty() {
        return Err(EngineError::NoKindBindings {
            kind: v.kind.as_str(),
            dir: opts.repo.join(match v.kind {
                VariantKind::PerMinor => "bindings/csrc",
                VariantKind::Stable => "bindings/csrc/stable",
            }),
        });
    }
    for (src, bytes) in binding_sources {
        let template = bc.argv(src, Path::new(keys::OUT));
        let key = keys::object_key(
            "binding",
            &[&tc.torch_id, &tc.cuda_id, &cx.cxx_id],
            &cx.normalize(&template),
            bytes,
            &sources.binding_headers,
        );
        planned.push(PlannedObject {
            kind: ObjectKind::Binding,
            label: cx.rel(src),
            template,
            key,
            weight: bytes.len(),
        });
    }
    if os == Os::Linux {
        let template =
            command::compat_argv(&opts.cc, &compat_source(&opts.out), Path::new(keys::OUT));
        let key = keys::object_key(
            "compat",
            &[&cx.cc_id],
            &keys::normalize(&template, &[(&opts.out.display().to_string(), "$DIST")]),
            command::GLIBC_COMPAT_C.as_bytes(),
            "",
        );
        planned.push(PlannedObject {
            kind: ObjectKind::Compat,
            label: "glibc_compat.c".into(),
            template,
            key,
            weight: 0,
        });
    }
    Ok(planned)
}

/// The compile jobs of a run, shared between variants by key.
#[derive(Debug, Default)]
pub struct Graph {
    pub jobs: Vec<ObjectJob>,
    by_key: HashMap<String, usize>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds the objects variant `owner` (its index among the run's
    /// variants) needs; returns what it links. Err: it has no binding sources.
    pub fn add_variant(
        &mut self,
        cx: &GraphContext,
        owner: usize,
        v: &Variant,
        tc: &Toolchain,
    ) -> Result<VariantJob, EngineError> {
        let opts = cx.opts;
        let ext = command::object_ext(v.platform.os());
        let private = opts.out.join("build").join(&v.id).join("obj");
        let mut objects = Vec::new();
        for p in planned_objects(cx, v, tc)? {
            if opts.object_cache {
                if let Some(&j) = self.by_key.get(&p.key) {
                    objects.push(j);
                    continue;
                }
            }
            let out = if opts.object_cache {
                opts.objects
                    .join(&p.key[..2])
                    .join(format!("{}.{ext}", p.key))
            } else {
                let stem = p.label.replace(['/', '\\', '.'], "_");
                private.join(format!("{stem}.{ext}"))
            };
            self.jobs.push(ObjectJob {
                kind: p.kind,
                label: p.label,
                template: p.template,
                out,
                key: p.key.clone(),
                owner,
                weight: p.weight,
            });
            self.by_key.insert(p.key, self.jobs.len() - 1);
            objects.push(self.jobs.len() - 1);
        }
        Ok(VariantJob {
            objects,
            link: link(opts, v, tc),
        })
    }

    /// Job indices, longest first: by kind (kernels, bindings, compat), then
    /// larger sources first, then graph order.
    pub fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.jobs.len()).collect();
        order.sort_by_key(|&j| (self.jobs[j].kind, std::cmp::Reverse(self.jobs[j].weight), j));
        order
    }

    /// Whether any variant links the glibc-compat unit (its source must exist).
    pub fn needs_compat(&self) -> bool {
        self.jobs.iter().any(|j| j.kind == ObjectKind::Compat)
    }
}

#[cfg(test)]
mod tests;
