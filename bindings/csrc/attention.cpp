// attnfarm torch ops: argument validation and the launch of the C ABI kernels.
//
// The per-minor binding (ATen/c10 headers: the wheel loads only into the torch
// minor it was built against). stable/attention.cpp is the same op on the
// LibTorch stable ABI. Both share attention_core.h (validation, messages,
// kernel dispatch); this file only adapts at::Tensor to it.
//
// Registered through torch's dispatcher only (TORCH_LIBRARY); no Python C API
// is used, so the library is loaded with torch.ops.load_library and stays
// abi3-clean. The Python package registers the fake (meta) kernels.
//
// Op: attnfarm::fwd(q, k, v, causal, sm_scale, precision, return_lse, layout)
//   layout "HND": tensors are [batch, heads, seq, head_dim]
//   layout "NHD": tensors are [batch, seq, heads, head_dim]
//   returns (out, lse): out has q's shape and dtype and is contiguous in the
//   given layout; lse is fp32 [batch, heads_q, seq_q] contiguous when
//   return_lse, else an empty fp32 tensor of shape [0].
//
// Contract with kernels/ (kernels/include/attnfarm/kernels.h): every tensor is
// passed as a [b,h,n,d] view with element strides; head_dim stride 1; the other
// strides multiples of 8; data 16-byte aligned; head_dim 64 or 128. Views that
// meet it are passed without a copy; views that do not are copied first; head
// dims below 128 other than 64 are zero-padded (see bindings/README.md).

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <optional>
#include <sstream>
#include <string>
#include <tuple>

#include "attention_core.h"

namespace attnfarm {
namespace {

namespace core = attnfarm::core;

int64_t kernels_abi_version() { return af_kernels_abi_version(); }

void set_build_arches(c10::string_view arches) { core::set_build_arches(std::string_view(arches.data(), arches.size())); }

// The experimental sm_90a wgmma kernel's availability on a device (tests and
// the benchmark; see attention_core.h).
bool fp8_sm90a_available(int64_t device) { return core::fp8_sm90a_available(device); }

std::string_view sv(c10::string_view s) { return std::string_view(s.data(), s.size()); }

[[noreturn]] void raise(const core::Failure& f) {
  switch (f.kind) {
    case core::FailureKind::Value: TORCH_CHECK_VALUE(false, f.message); break;
    case core::FailureKind::Type: TORCH_CHECK_TYPE(false, f.message); break;
    default: TORCH_CHECK(false, f.message);
  }
  std::abort();  // unreachable: the checks above throw
}

void raise_if(const std::optional<core::Failure>& f) {
  if (f) raise(*f);
}

std::string device_str(const at::Tensor& t) {
  std::ostringstream s;
  s << t.device();
  return s.str();
}

core::TensorFacts facts(const at::Tensor& t) {
  core::TensorFacts f;
  f.defined = t.defined();
  if (!f.defined) return f;
  f.strided = t.layout() == at::kStrided;
  std::ostringstream layout;
  layout << t.layout();
  f.layout_name = layout.str();
  if (!f.strided) return f;
  f.cuda = t.is_cuda();
  f.device = device_str(t);
  switch (t.scalar_type()) {
    case at::kHalf: f.dtype = core::DType::F16; f.dtype_name = "torch.float16"; break;
    case at::kBFloat16: f.dtype = core::DType::BF16; f.dtype_name = "torch.bfloat16"; break;
    case at::kFloat: f.dtype_name = "torch.float32"; break;
    case at::kDouble: f.dtype_name = "torch.float64"; break;
    default: f.dtype_name = c10::toString(t.scalar_type());
  }
  f.dim = t.dim();
  f.sizes = t.sizes().vec();
  f.strides = t.strides().vec();
  return f;
}

core::View4 view_of(const at::Tensor& t) { return core::view4(t.sizes().vec(), t.strides().vec()); }

// Makes a [b,h,n,d] view acceptable to the kernel: zero-pads head_dim up to
// d_kernel (a copy), or copies when the alignment/stride contract is not met.
at::Tensor prepare_input(const at::Tensor& t, int64_t d_kernel) {
  switch (core::prep_for(view_of(t), t.data_ptr(), d_kernel)) {
    case core::Prep::Pad: {
      auto padded = at::zeros({t.size(0), t.size(1), t.size(2), d_kernel}, t.options());
      padded.narrow(3, 0, t.size(3)).copy_(t);
      return padded;
    }
    case core::Prep::Contiguous: return t.contiguous();
    default: return t;
  }
}

at::Tensor to_bhnd(const at::Tensor& t, bool nhd) { return nhd ? t.permute({0, 2, 1, 3}) : t; }

std::tuple<at::Tensor, at::Tensor> fwd_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                            bool causal, std::optional<double> sm_scale,
                                            c10::string_view precision, bool return_lse,
                                            c10::string_view layout) {
  raise_if(core::validate(facts(q), facts(k), facts(v), sv(layout), sv(precision), sm_scale));
  const bool nhd = layout == "NHD";
  const c10::cuda::CUDAGuard guard(q.device());
  const int device_index = q.device().index();

  const at::Tensor qb = to_bhnd(q, nhd), kb = to_bhnd(k, nhd), vb = to_bhnd(v, nhd);
  const core::Problem pr = core::problem_of(view_of(qb), view_of(kb));

  at::Tensor out = nhd ? at::empty({pr.batch, pr.seq_q, pr.heads_q, pr.d}, q.options())
                       : at::empty({pr.batch, pr.heads_q, pr.seq_q, pr.d}, q.options());
  at::Tensor lse = return_lse ? at::empty({pr.batch, pr.heads_q, pr.seq_q}, q.options().dtype(at::kFloat))
                              : at::empty({0}, q.options().dtype(at::kFloat));
  if (pr.batch == 0 || pr.seq_q == 0) return {out, lse};

  const at::Tensor qk = prepare_input(qb, pr.d_kernel);
  const at::Tensor kk = prepare_input(kb, pr.d_kernel);
  const at::Tensor vk = prepare_input(vb, pr.d_kernel);
  at::Tensor out_b = to_bhnd(out, nhd);
  at::Tensor ok = pr.d == pr.d_kernel ? out_b : at::empty({pr.batch, pr.heads_q, pr.seq_q, pr.d_kernel}, q.options());

  const af_attn_params p = core::make_params(
      pr, core::as_af_tensor(view_of(qk), qk.data_ptr()), core::as_af_tensor(view_of(kk), kk.data_ptr()),
      core::as_af_tensor(view_of(vk), vk.data_ptr()), core::as_af_tensor(view_of(ok), ok.data_ptr()),
      return_lse ? lse.data_ptr<float>() : nullptr, causal, sm_scale, q.scalar_type() == at::kHalf);

  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_index).stream();
  // From torch's caching allocator on the current stream: no cudaMalloc, no
  // sync, and it lives in the graph's private pool during CUDA-graph capture.
  at::Tensor ws;
  raise_if(core::dispatch(p, *core::parse_precision(sv(precision)), device_index, stream, [&](size_t bytes) {
    ws = at::empty({static_cast<int64_t>(bytes)}, q.options().dtype(at::kByte));
    return ws.data_ptr();
  }));
  if (pr.d != pr.d_kernel) out_b.copy_(ok.narrow(3, 0, pr.d));
  return {out, lse};
}

std::tuple<at::Tensor, at::Tensor> fwd_not_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                bool, std::optional<double>, c10::string_view,
                                                bool, c10::string_view) {
  raise(*core::not_cuda(device_str(q), device_str(k), device_str(v)));
}

}  // namespace

TORCH_LIBRARY(attnfarm, m) {
  m.def(
      "fwd(Tensor q, Tensor k, Tensor v, bool causal, float? sm_scale, str precision, bool return_lse, "
      "str layout) -> (Tensor, Tensor)");
  m.def("kernels_abi_version() -> int", &kernels_abi_version);
  m.def("_set_build_arches(str arches) -> ()", &set_build_arches);
  m.def("_fp8_sm90a_available(int device) -> bool", &fp8_sm90a_available);
}

TORCH_LIBRARY_IMPL(attnfarm, CUDA, m) { m.impl("fwd", &fwd_cuda); }

TORCH_LIBRARY_IMPL(attnfarm, CPU, m) { m.impl("fwd", &fwd_not_cuda); }

}  // namespace attnfarm
