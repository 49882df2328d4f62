// attnfarm torch ops: argument validation and the launch of the C ABI kernels.
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

#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>

#include "attnfarm/kernels.h"

namespace attnfarm {
namespace {

constexpr int64_t kMaxHeadDim = 128;

// Set once by the Python package after loading (from _build_info), so that a
// missing-arch error raised here can name the arches the wheel carries.
std::mutex g_build_arches_mu;
std::string g_build_arches = "(unknown: attnfarm._build_info was not read)";

std::string build_arches() {
  std::lock_guard<std::mutex> lock(g_build_arches_mu);
  return g_build_arches;
}

void set_build_arches(c10::string_view arches) {
  std::lock_guard<std::mutex> lock(g_build_arches_mu);
  g_build_arches = std::string(arches);
}

int64_t kernels_abi_version() { return af_kernels_abi_version(); }

std::string shape_str(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

std::string strides_str(const at::Tensor& t) {
  std::ostringstream s;
  s << t.strides();
  return s.str();
}

const char* dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kHalf: return "torch.float16";
    case at::kBFloat16: return "torch.bfloat16";
    case at::kFloat: return "torch.float32";
    case at::kDouble: return "torch.float64";
    default: return c10::toString(t);
  }
}

std::string device_arch(int device_index) {
  // Error paths only; ATen/cuda/CUDAContext.h is avoided because it needs the
  // cuBLAS/cuSPARSE headers, which the farm's CUDA toolchain does not carry.
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, device_index) != cudaSuccess) {
    (void)cudaGetLastError();
    return "cuda:" + std::to_string(device_index) + " (properties unavailable)";
  }
  std::ostringstream s;
  s << "sm_" << prop.major << prop.minor << " (" << prop.name << ")";
  return s.str();
}

// A [b,h,n,d] view of a user tensor, whichever layout it came in.
at::Tensor to_bhnd(const at::Tensor& t, bool nhd) {
  return nhd ? t.permute({0, 2, 1, 3}) : t;
}

bool meets_kernel_contract(const at::Tensor& t) {
  if (t.stride(3) != 1) return false;
  if (reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 != 0) return false;
  for (int i = 0; i < 3; ++i) {
    if (t.size(i) > 1 && (t.stride(i) < 0 || t.stride(i) % 8 != 0)) return false;
  }
  return true;
}

// Makes a [b,h,n,d] view acceptable to the kernel: zero-pads head_dim up to
// d_kernel (a copy), or copies when alignment/stride contract is not met.
at::Tensor prepare_input(const at::Tensor& t, int64_t d_kernel) {
  const int64_t d = t.size(3);
  if (d != d_kernel) {
    auto padded = at::zeros({t.size(0), t.size(1), t.size(2), d_kernel}, t.options());
    padded.narrow(3, 0, d).copy_(t);
    return padded;
  }
  if (meets_kernel_contract(t)) return t;
  return t.contiguous();
}

int64_t stride_or_zero(const at::Tensor& t, int dim) {
  return t.size(dim) > 1 ? t.stride(dim) : 0;
}

af_tensor4 as_af_tensor(const at::Tensor& t) {
  af_tensor4 r;
  r.data = t.data_ptr();
  r.stride_b = stride_or_zero(t, 0);
  r.stride_h = stride_or_zero(t, 1);
  r.stride_n = stride_or_zero(t, 2);
  return r;
}

void check_int_range(int64_t value, const char* what) {
  TORCH_CHECK_VALUE(value <= INT_MAX, "attnfarm.attention: ", what, " = ", value,
                    " is larger than the kernels support (at most ", INT_MAX, ")");
}

void validate(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
              c10::string_view layout, c10::string_view precision,
              std::optional<double> sm_scale) {
  TORCH_CHECK_VALUE(layout == "HND" || layout == "NHD",
                    "attnfarm.attention: layout must be \"HND\" ([batch, heads, seq, head_dim]) "
                    "or \"NHD\" ([batch, seq, heads, head_dim]), got \"", layout, "\"");
  TORCH_CHECK_VALUE(precision == "exact" || precision == "int8" || precision == "auto",
                    "attnfarm.attention: precision must be \"exact\", \"int8\" or \"auto\", got \"",
                    precision, "\"");

  const std::pair<const char*, const at::Tensor*> named[] = {{"q", &q}, {"k", &k}, {"v", &v}};
  for (const auto& [name, t] : named) {
    TORCH_CHECK_VALUE(t->defined(), "attnfarm.attention: ", name, " is an undefined tensor");
    TORCH_CHECK_VALUE(t->layout() == at::kStrided, "attnfarm.attention: ", name,
                      " must be a dense strided tensor, got layout ", t->layout());
    TORCH_CHECK_VALUE(t->is_cuda(), "attnfarm.attention: ", name,
                      " must be a CUDA tensor, got device ", t->device());
    TORCH_CHECK_TYPE(t->scalar_type() == at::kHalf || t->scalar_type() == at::kBFloat16,
                     "attnfarm.attention: ", name,
                     " must be torch.float16 or torch.bfloat16, got ", dtype_name(t->scalar_type()));
    TORCH_CHECK_VALUE(t->dim() == 4, "attnfarm.attention: ", name, " must be 4-d (",
                      layout == "NHD" ? "[batch, seq, heads, head_dim]" : "[batch, heads, seq, head_dim]",
                      " for layout \"", layout, "\"), got ", t->dim(), "-d with shape ",
                      shape_str(*t));
    TORCH_CHECK_VALUE(t->size(3) == 1 || t->stride(3) == 1, "attnfarm.attention: ", name,
                      " must have a contiguous last (head_dim) dimension (stride 1), got strides ",
                      strides_str(*t), "; call .contiguous() first");
  }
  TORCH_CHECK_TYPE(q.scalar_type() == k.scalar_type() && q.scalar_type() == v.scalar_type(),
                   "attnfarm.attention: q, k and v must have the same dtype, got q ",
                   dtype_name(q.scalar_type()), ", k ", dtype_name(k.scalar_type()), ", v ",
                   dtype_name(v.scalar_type()));
  TORCH_CHECK_VALUE(q.device() == k.device() && q.device() == v.device(),
                    "attnfarm.attention: q, k and v must be on the same device, got q on ",
                    q.device(), ", k on ", k.device(), ", v on ", v.device());

  const bool nhd = layout == "NHD";
  const at::Tensor qb = to_bhnd(q, nhd), kb = to_bhnd(k, nhd), vb = to_bhnd(v, nhd);
  const char* seq_dim = nhd ? "dim 1" : "dim 2";
  const char* head_dim = nhd ? "dim 2" : "dim 1";

  TORCH_CHECK_VALUE(kb.sizes() == vb.sizes(), "attnfarm.attention: k and v must have the same shape, got k ",
                    shape_str(k), " and v ", shape_str(v));
  TORCH_CHECK_VALUE(qb.size(0) == kb.size(0), "attnfarm.attention: q and k/v must have the same batch size "
                    "(dim 0), got q ", qb.size(0), " and k/v ", kb.size(0));
  TORCH_CHECK_VALUE(qb.size(3) == kb.size(3), "attnfarm.attention: q and k/v must have the same head_dim "
                    "(dim 3), got q ", qb.size(3), " and k/v ", kb.size(3));
  TORCH_CHECK_VALUE(qb.size(1) > 0 && kb.size(1) > 0, "attnfarm.attention: the number of heads (", head_dim,
                    ") must be at least 1, got q ", qb.size(1), " and k/v ", kb.size(1));
  TORCH_CHECK_VALUE(qb.size(1) % kb.size(1) == 0, "attnfarm.attention: the number of q heads must be a "
                    "multiple of the number of k/v heads (GQA/MQA; ", head_dim, " in layout \"", layout,
                    "\"), got q ", qb.size(1), " and k/v ", kb.size(1));
  const int64_t d = qb.size(3);
  TORCH_CHECK_VALUE(d >= 1 && d <= kMaxHeadDim, "attnfarm.attention: head_dim (dim 3) must be between 1 and ",
                    kMaxHeadDim, " (64 and 128 run natively, others are zero-padded), got ", d);
  TORCH_CHECK_VALUE(kb.size(2) > 0, "attnfarm.attention: k/v must have at least one key (", seq_dim,
                    "), got an empty key sequence with k shape ", shape_str(k));
  check_int_range(qb.size(0), "batch");
  check_int_range(qb.size(1), "heads_q");
  check_int_range(qb.size(2), "seq_q");
  check_int_range(kb.size(2), "seq_kv");
  if (sm_scale.has_value()) {
    TORCH_CHECK_VALUE(std::isfinite(*sm_scale) && *sm_scale > 0.0,
                      "attnfarm.attention: sm_scale must be a finite positive number, got ", *sm_scale);
  }
}

std::string cuda_failure_message(const char* kernel, int device_index) {
  const cudaError_t e = af_last_cuda_error();
  std::ostringstream s;
  if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction ||
      e == cudaErrorUnsupportedPtxVersion) {
    s << "attnfarm: this build has no kernel code for the device " << device_arch(device_index) << ": "
      << kernel << " failed with " << cudaGetErrorName(e) << " (" << cudaGetErrorString(e)
      << "). This wheel carries " << build_arches()
      << ". Install a variant built for this GPU (python -m attnfarm shows what is installed).";
  } else {
    s << "attnfarm: " << kernel << " failed with CUDA error " << cudaGetErrorName(e) << ": "
      << cudaGetErrorString(e);
  }
  return s.str();
}

// The experimental sm_90a wgmma kernel (INT8 Q.K^T, FP8 P.V), reachable only
// through the private precision "_fp8_wgmma" (tests and the benchmark).
bool fp8_sm90a_available(int64_t device) { return af_attn_fp8_sm90a_available(static_cast<int>(device)) == 1; }

void run_fp8_sm90a(const af_attn_params& p, const at::Tensor& q, int device_index, cudaStream_t stream) {
  const size_t ws_bytes = af_attn_fp8_sm90a_workspace_bytes(&p);
  at::Tensor ws = at::empty({static_cast<int64_t>(ws_bytes > 0 ? ws_bytes : 1)}, q.options().dtype(at::kByte));
  const af_status s = af_attn_fp8_sm90a_fwd(&p, ws.data_ptr(), ws_bytes, stream);
  TORCH_CHECK(s != AF_ERR_UNSUPPORTED, "attnfarm.attention: the sm_90a wgmma FP8 kernel does not serve this "
              "request on ", device_arch(device_index), " (it needs an sm_90 GPU, a build with its sm_90a code, "
              "head_dim 128 and batch * heads_kv <= 65535)");
  TORCH_CHECK(s != AF_ERR_CUDA, cuda_failure_message("af_attn_fp8_sm90a_fwd", device_index));
  TORCH_CHECK(s == AF_OK, "attnfarm internal error: af_attn_fp8_sm90a_fwd refused arguments the bindings "
              "validated (", af_status_string(s), ")");
}

std::tuple<at::Tensor, at::Tensor> fwd_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                            bool causal, std::optional<double> sm_scale,
                                            c10::string_view precision, bool return_lse,
                                            c10::string_view layout) {
  const bool fp8_wgmma = precision == "_fp8_wgmma";
  if (fp8_wgmma) precision = "int8";  // validated like int8
  validate(q, k, v, layout, precision, sm_scale);
  const bool nhd = layout == "NHD";
  const c10::cuda::CUDAGuard guard(q.device());
  const int device_index = q.device().index();

  const at::Tensor qb = to_bhnd(q, nhd), kb = to_bhnd(k, nhd), vb = to_bhnd(v, nhd);
  const int64_t batch = qb.size(0), heads_q = qb.size(1), seq_q = qb.size(2), d = qb.size(3);
  const int64_t heads_kv = kb.size(1), seq_kv = kb.size(2);

  at::Tensor out = nhd ? at::empty({batch, seq_q, heads_q, d}, q.options())
                       : at::empty({batch, heads_q, seq_q, d}, q.options());
  at::Tensor lse = return_lse ? at::empty({batch, heads_q, seq_q}, q.options().dtype(at::kFloat))
                              : at::empty({0}, q.options().dtype(at::kFloat));
  if (batch == 0 || seq_q == 0) return {out, lse};

  const int64_t d_kernel = d <= 64 ? 64 : 128;
  const at::Tensor qk = prepare_input(qb, d_kernel);
  const at::Tensor kk = prepare_input(kb, d_kernel);
  const at::Tensor vk = prepare_input(vb, d_kernel);
  at::Tensor out_b = to_bhnd(out, nhd);
  at::Tensor ok = d == d_kernel ? out_b : at::empty({batch, heads_q, seq_q, d_kernel}, q.options());

  af_attn_params p{};
  p.q = as_af_tensor(qk);
  p.k = as_af_tensor(kk);
  p.v = as_af_tensor(vk);
  p.o = as_af_tensor(ok);
  p.lse = return_lse ? lse.data_ptr<float>() : nullptr;
  p.batch = static_cast<int>(batch);
  p.heads_q = static_cast<int>(heads_q);
  p.heads_kv = static_cast<int>(heads_kv);
  p.seq_q = static_cast<int>(seq_q);
  p.seq_kv = static_cast<int>(seq_kv);
  p.head_dim = static_cast<int>(d_kernel);
  // The scale comes from the real head_dim, not the padded one.
  p.sm_scale = static_cast<float>(sm_scale.has_value() ? *sm_scale : 1.0 / std::sqrt(static_cast<double>(d)));
  p.causal = causal ? 1 : 0;
  p.dtype = q.scalar_type() == at::kHalf ? AF_F16 : AF_BF16;

  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_index).stream();

  bool done = false;
  if (fp8_wgmma) {
    run_fp8_sm90a(p, q, device_index, stream);
    done = true;
  }
  if (!done && (precision == "int8" || precision == "auto")) {
    const size_t ws_bytes = af_attn_int8_workspace_bytes(&p);
    // From torch's caching allocator on the current stream: no cudaMalloc, no
    // sync, and it lives in the graph's private pool during CUDA-graph capture.
    at::Tensor ws = at::empty({static_cast<int64_t>(ws_bytes > 0 ? ws_bytes : 1)}, q.options().dtype(at::kByte));
    const af_status s = af_attn_int8_fwd(&p, ws.data_ptr(), ws_bytes, stream);
    if (s == AF_OK) {
      done = true;
    } else if (s == AF_ERR_UNSUPPORTED && precision == "auto") {
      done = false;  // fall through to the exact kernel
    } else if (s == AF_ERR_UNSUPPORTED) {
      TORCH_CHECK(false, "attnfarm.attention: precision=\"int8\" is not supported for this request on ",
                  device_arch(device_index), " (", af_status_string(s),
                  "); use precision=\"exact\" or \"auto\"");
    } else if (s == AF_ERR_CUDA) {
      TORCH_CHECK(false, cuda_failure_message("af_attn_int8_fwd", device_index));
    } else {
      TORCH_CHECK(false, "attnfarm internal error: af_attn_int8_fwd refused arguments the bindings validated (",
                  af_status_string(s), "); please report this with the shapes and strides of q, k, v");
    }
  }
  if (!done) {
    const af_status s = af_attn_exact_fwd(&p, stream);
    TORCH_CHECK(s != AF_ERR_CUDA, cuda_failure_message("af_attn_exact_fwd", device_index));
    TORCH_CHECK(s != AF_ERR_UNSUPPORTED, "attnfarm.attention: the exact kernel does not support this request on ",
                device_arch(device_index), " (", af_status_string(s), ")");
    TORCH_CHECK(s == AF_OK, "attnfarm internal error: af_attn_exact_fwd refused arguments the bindings validated (",
                af_status_string(s), "); please report this with the shapes and strides of q, k, v");
  }
  if (d != d_kernel) out_b.copy_(ok.narrow(3, 0, d));
  return {out, lse};
}

std::tuple<at::Tensor, at::Tensor> fwd_not_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                bool, std::optional<double>, c10::string_view,
                                                bool, c10::string_view) {
  TORCH_CHECK_VALUE(false, "attnfarm.attention: q, k and v must be CUDA tensors, got q on ", q.device(),
                    ", k on ", k.device(), ", v on ", v.device());
  return {};
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
