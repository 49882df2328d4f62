// attnfarm torch ops on the LibTorch stable ABI: one library per CUDA major
// that loads into every torch from the stable floor on (see bindings/README.md,
// "Stable wheels").
//
// Only stable headers: the farm compiles this file with TORCH_TARGET_VERSION
// set to the floor, so torch's own headers refuse everything else (c10/ATen
// headers #error), and every call into torch goes through the versioned C
// shims (aoti_torch_*, torch_*) or the header-only torch::stable wrappers
// around them. The op, its schema, its checks and messages are those of
// ../attention.cpp; both adapt their tensor type to ../attention_core.h.
//
// Errors: STD_TORCH_CHECK throws std::runtime_error (Python: RuntimeError).
// The message carries the failure's tag ("[attnfarm:ValueError] ...") so the
// Python package re-raises the ValueError / TypeError the per-minor wheel
// raises (attnfarm/_ops.py). Fake kernels are registered from Python.
//
// Why the floor is torch 2.10 (not 2.9, not 2.11): this op needs `str`
// arguments (std::string conversion), torch::stable::empty with sizes and a
// device, new_zeros/new_empty with sizes, contiguous, transpose, narrow,
// copy_ and the versioned torch_library_impl — all first offered by 2.10's
// stable headers. 2.11 adds only from_blob with a deleter and two dtype shims,
// which this op does not use.

#ifndef TORCH_TARGET_VERSION
#error "the stable binding is built with TORCH_TARGET_VERSION (the farm sets it from the stable floor)"
#endif
#ifndef USE_CUDA
#error "the stable binding is built with USE_CUDA (for the CUDA stream shim)"
#endif

#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/device.h>
#include <torch/csrc/stable/library.h>
#include <torch/csrc/stable/ops.h>
#include <torch/csrc/stable/tensor.h>
#include <torch/headeronly/core/Layout.h>
#include <torch/headeronly/core/ScalarType.h>
#include <torch/headeronly/util/Exception.h>
#include <torch/headeronly/util/shim_utils.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "../attention_core.h"

namespace attnfarm {
namespace {

namespace core = attnfarm::core;
using torch::stable::Tensor;
using torch::headeronly::ScalarType;

int64_t kernels_abi_version() { return af_kernels_abi_version(); }

void set_build_arches(std::string arches) { core::set_build_arches(arches); }

// As ../attention.cpp: the experimental sm_90a wgmma kernel's availability.
bool fp8_sm90a_available(int64_t device) { return core::fp8_sm90a_available(device); }

[[noreturn]] void raise(const core::Failure& f) {
  STD_TORCH_CHECK(false, core::failure_tag(f.kind), f.message);
  std::abort();  // unreachable: STD_TORCH_CHECK(false, ...) throws
}

void raise_if(const std::optional<core::Failure>& f) {
  if (f) raise(*f);
}

std::vector<int64_t> vec(torch::headeronly::IntHeaderOnlyArrayRef a) { return std::vector<int64_t>(a.begin(), a.end()); }

std::string device_str(const Tensor& t) {
  int32_t type = 0, index = -1;
  TORCH_ERROR_CODE_CHECK(aoti_torch_get_device_type(t.get(), &type));
  TORCH_ERROR_CODE_CHECK(aoti_torch_get_device_index(t.get(), &index));
  std::string name;
  if (type == aoti_torch_device_type_cuda()) {
    name = "cuda";
  } else if (type == aoti_torch_device_type_cpu()) {
    return "cpu";  // as torch prints it: no index
  } else if (type == aoti_torch_device_type_meta()) {
    return "meta";
  } else {
    name = "device type " + std::to_string(type);
  }
  return index >= 0 ? name + ":" + std::to_string(index) : name;
}

const char* layout_name(torch::headeronly::Layout l) {
  using torch::headeronly::Layout;
  switch (l) {
    case Layout::Strided: return "Strided";
    case Layout::Sparse: return "Sparse";
    case Layout::SparseCsr: return "SparseCsr";
    case Layout::Mkldnn: return "Mkldnn";
    case Layout::SparseCsc: return "SparseCsc";
    case Layout::SparseBsr: return "SparseBsr";
    case Layout::SparseBsc: return "SparseBsc";
    case Layout::Jagged: return "Jagged";
    default: return "(unknown layout)";
  }
}

core::TensorFacts facts(const Tensor& t) {
  core::TensorFacts f;
  f.defined = t.defined();
  if (!f.defined) return f;
  int32_t layout = 0;
  TORCH_ERROR_CODE_CHECK(aoti_torch_get_layout(t.get(), &layout));
  f.strided = layout == aoti_torch_layout_strided();
  f.layout_name = layout_name(
      torch::stable::detail::to<torch::headeronly::Layout>(torch::stable::detail::from(layout)));
  if (!f.strided) return f;
  f.cuda = t.is_cuda();
  f.device = device_str(t);
  switch (t.scalar_type()) {
    case ScalarType::Half: f.dtype = core::DType::F16; f.dtype_name = "torch.float16"; break;
    case ScalarType::BFloat16: f.dtype = core::DType::BF16; f.dtype_name = "torch.bfloat16"; break;
    case ScalarType::Float: f.dtype_name = "torch.float32"; break;
    case ScalarType::Double: f.dtype_name = "torch.float64"; break;
    default: f.dtype_name = torch::headeronly::toString(t.scalar_type());
  }
  f.dim = t.dim();
  f.sizes = vec(t.sizes());
  f.strides = vec(t.strides());
  return f;
}

core::View4 view_of(const Tensor& t) { return core::view4(vec(t.sizes()), vec(t.strides())); }

// [b,h,n,d] view of a user tensor (NHD: dims 1 and 2 swapped, no copy).
Tensor to_bhnd(const Tensor& t, bool nhd) { return nhd ? torch::stable::transpose(t, 1, 2) : t; }

Tensor new_empty(const Tensor& like, std::vector<int64_t> sizes, ScalarType dtype) {
  return torch::stable::new_empty(like, sizes, dtype);
}

// As ../attention.cpp: zero-pad head_dim to d_kernel, or copy when the view
// breaks the kernels' alignment/stride contract.
Tensor prepare_input(const Tensor& t, int64_t d_kernel) {
  switch (core::prep_for(view_of(t), t.data_ptr(), d_kernel)) {
    case core::Prep::Pad: {
      Tensor padded = torch::stable::new_zeros(t, {t.size(0), t.size(1), t.size(2), d_kernel});
      Tensor head = torch::stable::narrow(padded, 3, 0, t.size(3));
      torch::stable::copy_(head, t);
      return padded;
    }
    case core::Prep::Contiguous: return torch::stable::contiguous(t);
    default: return t;
  }
}

cudaStream_t current_stream(int device_index) {
  void* stream = nullptr;
  TORCH_ERROR_CODE_CHECK(aoti_torch_get_current_cuda_stream(device_index, &stream));
  return static_cast<cudaStream_t>(stream);
}

std::tuple<Tensor, Tensor> fwd_cuda(Tensor q, Tensor k, Tensor v, bool causal, std::optional<double> sm_scale,
                                    std::string precision, bool return_lse, std::string layout) {
  raise_if(core::validate(facts(q), facts(k), facts(v), layout, precision, sm_scale));
  const bool nhd = layout == "NHD";
  const int device_index = q.get_device_index();
  const torch::stable::accelerator::DeviceGuard guard(device_index);

  const Tensor qb = to_bhnd(q, nhd), kb = to_bhnd(k, nhd), vb = to_bhnd(v, nhd);
  const core::Problem pr = core::problem_of(view_of(qb), view_of(kb));
  const ScalarType dtype = q.scalar_type();

  Tensor out = nhd ? new_empty(q, {pr.batch, pr.seq_q, pr.heads_q, pr.d}, dtype)
                   : new_empty(q, {pr.batch, pr.heads_q, pr.seq_q, pr.d}, dtype);
  Tensor lse = return_lse ? new_empty(q, {pr.batch, pr.heads_q, pr.seq_q}, ScalarType::Float)
                          : new_empty(q, {0}, ScalarType::Float);
  if (pr.batch == 0 || pr.seq_q == 0) return {out, lse};

  const Tensor qk = prepare_input(qb, pr.d_kernel);
  const Tensor kk = prepare_input(kb, pr.d_kernel);
  const Tensor vk = prepare_input(vb, pr.d_kernel);
  Tensor out_b = to_bhnd(out, nhd);
  Tensor ok = pr.d == pr.d_kernel ? out_b : new_empty(q, {pr.batch, pr.heads_q, pr.seq_q, pr.d_kernel}, dtype);

  const af_attn_params p = core::make_params(
      pr, core::as_af_tensor(view_of(qk), qk.data_ptr()), core::as_af_tensor(view_of(kk), kk.data_ptr()),
      core::as_af_tensor(view_of(vk), vk.data_ptr()), core::as_af_tensor(view_of(ok), ok.data_ptr()),
      return_lse ? static_cast<float*>(lse.data_ptr()) : nullptr, causal, sm_scale, dtype == ScalarType::Half);

  // Workspace from torch's caching allocator (a tensor on q's device), as in
  // the per-minor binding: no cudaMalloc, no sync, CUDA-graph safe.
  std::optional<Tensor> ws;
  raise_if(core::dispatch(p, *core::parse_precision(precision), device_index, current_stream(device_index),
                          [&](size_t bytes) {
                            ws = new_empty(q, {static_cast<int64_t>(bytes)}, ScalarType::Byte);
                            return ws->data_ptr();
                          }));
  if (pr.d != pr.d_kernel) {
    Tensor dst = out_b;
    torch::stable::copy_(dst, torch::stable::narrow(ok, 3, 0, pr.d));
  }
  return {out, lse};
}

std::tuple<Tensor, Tensor> fwd_not_cuda(Tensor q, Tensor k, Tensor v, bool, std::optional<double>, std::string,
                                        bool, std::string) {
  raise(*core::not_cuda(device_str(q), device_str(k), device_str(v)));
}

}  // namespace
}  // namespace attnfarm

// The op namespace: `attnfarm` (the Python package calls torch.ops.attnfarm).
// Only a benchmark that loads this library next to a per-minor one in the same
// process compiles it with another (-DATTNFARM_OPS_NS=attnfarm_stable); the
// indirection lets the macro's argument expand before torch's macros paste it.
#ifndef ATTNFARM_OPS_NS
#define ATTNFARM_OPS_NS attnfarm
#endif
#define ATTNFARM_STABLE_LIBRARY(ns, m) STABLE_TORCH_LIBRARY(ns, m)
#define ATTNFARM_STABLE_LIBRARY_IMPL(ns, k, m) STABLE_TORCH_LIBRARY_IMPL(ns, k, m)

ATTNFARM_STABLE_LIBRARY(ATTNFARM_OPS_NS, m) {
  m.def(
      "fwd(Tensor q, Tensor k, Tensor v, bool causal, float? sm_scale, str precision, bool return_lse, "
      "str layout) -> (Tensor, Tensor)");
  m.def("kernels_abi_version() -> int");
  m.def("_set_build_arches(str arches) -> ()");
  m.def("_fp8_sm90a_available(int device) -> bool");
}

ATTNFARM_STABLE_LIBRARY_IMPL(ATTNFARM_OPS_NS, CompositeExplicitAutograd, m) {
  m.impl("kernels_abi_version", TORCH_BOX(&attnfarm::kernels_abi_version));
  m.impl("_set_build_arches", TORCH_BOX(&attnfarm::set_build_arches));
  m.impl("_fp8_sm90a_available", TORCH_BOX(&attnfarm::fp8_sm90a_available));
}

ATTNFARM_STABLE_LIBRARY_IMPL(ATTNFARM_OPS_NS, CUDA, m) { m.impl("fwd", TORCH_BOX(&attnfarm::fwd_cuda)); }

ATTNFARM_STABLE_LIBRARY_IMPL(ATTNFARM_OPS_NS, CPU, m) { m.impl("fwd", TORCH_BOX(&attnfarm::fwd_not_cuda)); }
