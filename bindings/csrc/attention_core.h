// attnfarm op logic shared by both torch bindings: argument validation, the
// kernel-contract decision (use a view as is, copy it, or zero-pad it), the
// kernel parameters and the dispatch into the kernels' C ABI.
//
// Torch-independent: it sees tensors only through `TensorFacts` (what a
// binding reads from its tensor type) and `View4` (sizes and element strides
// of a 4-d view), and reports a problem as a `Failure` (kind + message) that
// each binding raises its own way:
//   - attention.cpp (torch 2.7+, ATen/c10 headers): TORCH_CHECK_VALUE /
//     TORCH_CHECK_TYPE / TORCH_CHECK, i.e. ValueError / TypeError /
//     RuntimeError in Python;
//   - stable/attention.cpp (LibTorch stable ABI, torch >= the stable floor):
//     STD_TORCH_CHECK (std::runtime_error, prefixed with the Failure's tag so
//     the Python package re-raises the same Python type).
// A new precision, check or message is added here once and both bindings
// get it. The messages are part of the API (bindings/tests/test_errors.py).
#pragma once

#include <climits>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "attnfarm/kernels.h"

namespace attnfarm {
// Internal linkage: each binding is one translation unit, and two attnfarm
// libraries in one process (the stable-vs-per-minor benchmark) must not share
// this header's state (build_arches) or bind each other's copies.
namespace {
namespace core {

constexpr int64_t kMaxHeadDim = 128;

enum class FailureKind { Value, Type, Runtime };

struct Failure {
  FailureKind kind;
  std::string message;
};

// The prefix the stable binding puts before a message so that Python can
// raise the same exception type the per-minor binding raises.
inline const char* failure_tag(FailureKind k) {
  switch (k) {
    case FailureKind::Value: return "[attnfarm:ValueError] ";
    case FailureKind::Type: return "[attnfarm:TypeError] ";
    default: return "[attnfarm:RuntimeError] ";
  }
}

enum class DType { F16, BF16, Other };

// What validation needs to know about one tensor argument.
struct TensorFacts {
  bool defined = false;
  bool strided = false;
  std::string layout_name;  // Ex) "Strided", "Sparse"
  bool cuda = false;
  std::string device;       // Ex) "cuda:0", "cpu"
  DType dtype = DType::Other;
  std::string dtype_name;   // Ex) "torch.float16"
  int64_t dim = 0;
  std::vector<int64_t> sizes, strides;
};

inline std::string list_str(const std::vector<int64_t>& v) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << ']';
  return s.str();
}

template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream s;
  ((s << args), ...);
  return s.str();
}

// A 4-d view: sizes and element strides.
struct View4 {
  int64_t size[4];
  int64_t stride[4];
};

inline View4 view4(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  View4 v{};
  for (int i = 0; i < 4; ++i) {
    v.size[i] = sizes[i];
    v.stride[i] = strides[i];
  }
  return v;
}

// The [b,h,n,d] view of a user tensor, whichever layout it came in (NHD
// swaps dims 1 and 2).
inline View4 to_bhnd(View4 v, bool nhd) {
  if (nhd) {
    std::swap(v.size[1], v.size[2]);
    std::swap(v.stride[1], v.stride[2]);
  }
  return v;
}

inline std::vector<int64_t> sizes_of(const View4& v) { return {v.size[0], v.size[1], v.size[2], v.size[3]}; }

// Int8Fp8Mma ("_int8fp8_mma") and Fp8Wgmma ("_fp8_wgmma") are private (tests
// and the benchmark, attnfarm._ops.KERNELS): exactly one kernel, never
// substituted, never a fallback.
enum class Precision { Exact, Int8, Int8Fp8, Auto, Int8Fp8Mma, Fp8Wgmma };

inline std::optional<Precision> parse_precision(std::string_view p) {
  if (p == "exact") return Precision::Exact;
  if (p == "int8") return Precision::Int8;
  if (p == "int8fp8") return Precision::Int8Fp8;
  if (p == "auto") return Precision::Auto;
  if (p == "_int8fp8_mma") return Precision::Int8Fp8Mma;
  if (p == "_fp8_wgmma") return Precision::Fp8Wgmma;
  return std::nullopt;
}

inline std::optional<Failure> value_error(std::string m) { return Failure{FailureKind::Value, std::move(m)}; }
inline std::optional<Failure> type_error(std::string m) { return Failure{FailureKind::Type, std::move(m)}; }
inline std::optional<Failure> runtime_error(std::string m) { return Failure{FailureKind::Runtime, std::move(m)}; }

inline std::optional<Failure> check_int_range(int64_t value, const char* what) {
  if (value <= INT_MAX) return std::nullopt;
  return value_error(cat("attnfarm.attention: ", what, " = ", value,
                         " is larger than the kernels support (at most ", INT_MAX, ")"));
}

// Every check on (q, k, v, layout, precision, sm_scale), in the order the
// user sees them; the first failure is returned.
inline std::optional<Failure> validate(const TensorFacts& q, const TensorFacts& k, const TensorFacts& v,
                                       std::string_view layout, std::string_view precision,
                                       std::optional<double> sm_scale) {
  if (!(layout == "HND" || layout == "NHD"))
    return value_error(cat("attnfarm.attention: layout must be \"HND\" ([batch, heads, seq, head_dim]) "
                           "or \"NHD\" ([batch, seq, heads, head_dim]), got \"", layout, "\""));
  if (!parse_precision(precision))
    return value_error(cat("attnfarm.attention: precision must be \"exact\", \"int8\", \"int8fp8\" or \"auto\", "
                           "got \"", precision, "\""));

  const std::pair<const char*, const TensorFacts*> named[] = {{"q", &q}, {"k", &k}, {"v", &v}};
  for (const auto& [name, t] : named) {
    if (!t->defined) return value_error(cat("attnfarm.attention: ", name, " is an undefined tensor"));
    if (!t->strided)
      return value_error(cat("attnfarm.attention: ", name, " must be a dense strided tensor, got layout ",
                             t->layout_name));
    if (!t->cuda)
      return value_error(cat("attnfarm.attention: ", name, " must be a CUDA tensor, got device ", t->device));
    if (t->dtype == DType::Other)
      return type_error(cat("attnfarm.attention: ", name, " must be torch.float16 or torch.bfloat16, got ",
                            t->dtype_name));
    if (t->dim != 4)
      return value_error(cat("attnfarm.attention: ", name, " must be 4-d (",
                             layout == "NHD" ? "[batch, seq, heads, head_dim]" : "[batch, heads, seq, head_dim]",
                             " for layout \"", layout, "\"), got ", t->dim, "-d with shape ",
                             list_str(t->sizes)));
    if (!(t->sizes[3] == 1 || t->strides[3] == 1))
      return value_error(cat("attnfarm.attention: ", name,
                             " must have a contiguous last (head_dim) dimension (stride 1), got strides ",
                             list_str(t->strides), "; call .contiguous() first"));
  }
  if (!(q.dtype == k.dtype && q.dtype == v.dtype))
    return type_error(cat("attnfarm.attention: q, k and v must have the same dtype, got q ", q.dtype_name,
                          ", k ", k.dtype_name, ", v ", v.dtype_name));
  if (!(q.device == k.device && q.device == v.device))
    return value_error(cat("attnfarm.attention: q, k and v must be on the same device, got q on ", q.device,
                           ", k on ", k.device, ", v on ", v.device));

  const bool nhd = layout == "NHD";
  const View4 qb = to_bhnd(view4(q.sizes, q.strides), nhd);
  const View4 kb = to_bhnd(view4(k.sizes, k.strides), nhd);
  const View4 vb = to_bhnd(view4(v.sizes, v.strides), nhd);
  const char* seq_dim = nhd ? "dim 1" : "dim 2";
  const char* head_dim = nhd ? "dim 2" : "dim 1";

  if (sizes_of(kb) != sizes_of(vb))
    return value_error(cat("attnfarm.attention: k and v must have the same shape, got k ", list_str(k.sizes),
                           " and v ", list_str(v.sizes)));
  if (qb.size[0] != kb.size[0])
    return value_error(cat("attnfarm.attention: q and k/v must have the same batch size (dim 0), got q ",
                           qb.size[0], " and k/v ", kb.size[0]));
  if (qb.size[3] != kb.size[3])
    return value_error(cat("attnfarm.attention: q and k/v must have the same head_dim (dim 3), got q ",
                           qb.size[3], " and k/v ", kb.size[3]));
  if (!(qb.size[1] > 0 && kb.size[1] > 0))
    return value_error(cat("attnfarm.attention: the number of heads (", head_dim, ") must be at least 1, got q ",
                           qb.size[1], " and k/v ", kb.size[1]));
  if (qb.size[1] % kb.size[1] != 0)
    return value_error(cat("attnfarm.attention: the number of q heads must be a multiple of the number of k/v "
                           "heads (GQA/MQA; ", head_dim, " in layout \"", layout, "\"), got q ", qb.size[1],
                           " and k/v ", kb.size[1]));
  const int64_t d = qb.size[3];
  if (!(d >= 1 && d <= kMaxHeadDim))
    return value_error(cat("attnfarm.attention: head_dim (dim 3) must be between 1 and ", kMaxHeadDim,
                           " (64 and 128 run natively, others are zero-padded), got ", d));
  if (!(kb.size[2] > 0))
    return value_error(cat("attnfarm.attention: k/v must have at least one key (", seq_dim,
                           "), got an empty key sequence with k shape ", list_str(k.sizes)));
  for (auto [value, what] : {std::pair<int64_t, const char*>{qb.size[0], "batch"},
                             {qb.size[1], "heads_q"},
                             {qb.size[2], "seq_q"},
                             {kb.size[2], "seq_kv"}}) {
    if (auto f = check_int_range(value, what)) return f;
  }
  if (sm_scale.has_value() && !(std::isfinite(*sm_scale) && *sm_scale > 0.0))
    return value_error(cat("attnfarm.attention: sm_scale must be a finite positive number, got ", *sm_scale));
  return std::nullopt;
}

inline std::optional<Failure> not_cuda(const std::string& q, const std::string& k, const std::string& v) {
  return value_error(cat("attnfarm.attention: q, k and v must be CUDA tensors, got q on ", q, ", k on ", k,
                         ", v on ", v));
}

// The kernels' head_dim for a real head_dim (others are zero-padded up).
inline int64_t kernel_head_dim(int64_t d) { return d <= 64 ? 64 : 128; }

// What a [b,h,n,d] view needs before the kernel may read it.
enum class Prep { AsIs, Contiguous, Pad };

inline bool meets_kernel_contract(const View4& t, const void* data) {
  if (t.stride[3] != 1) return false;
  if (reinterpret_cast<uintptr_t>(data) % 16 != 0) return false;
  for (int i = 0; i < 3; ++i) {
    if (t.size[i] > 1 && (t.stride[i] < 0 || t.stride[i] % 8 != 0)) return false;
  }
  return true;
}

inline Prep prep_for(const View4& t, const void* data, int64_t d_kernel) {
  if (t.size[3] != d_kernel) return Prep::Pad;
  return meets_kernel_contract(t, data) ? Prep::AsIs : Prep::Contiguous;
}

inline af_tensor4 as_af_tensor(const View4& t, void* data) {
  af_tensor4 r;
  r.data = data;
  r.stride_b = t.size[0] > 1 ? t.stride[0] : 0;
  r.stride_h = t.size[1] > 1 ? t.stride[1] : 0;
  r.stride_n = t.size[2] > 1 ? t.stride[2] : 0;
  return r;
}

// Set once by the Python package after loading (from _build_info), so that a
// missing-arch error can name the arches the wheel carries.
inline std::mutex& build_arches_mu() {
  static std::mutex m;
  return m;
}
inline std::string& build_arches_ref() {
  static std::string s = "(unknown: attnfarm._build_info was not read)";
  return s;
}
inline std::string build_arches() {
  std::lock_guard<std::mutex> lock(build_arches_mu());
  return build_arches_ref();
}
inline void set_build_arches(std::string_view arches) {
  std::lock_guard<std::mutex> lock(build_arches_mu());
  build_arches_ref() = std::string(arches);
}

inline std::string device_arch(int device_index) {
  // Error paths only, through the CUDA runtime (no torch CUDA headers).
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, device_index) != cudaSuccess) {
    (void)cudaGetLastError();
    return "cuda:" + std::to_string(device_index) + " (properties unavailable)";
  }
  return cat("sm_", prop.major, prop.minor, " (", prop.name, ")");
}

inline int device_sm(int device_index) {  // 89 for sm_89; 0 if unknown
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device_index) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device_index) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return major * 10 + minor;
}

// precision="auto" runs the FP8 P.V kernel only where e4m3 mma.sync is native
// and faster than int8 (sm_89, sm_120); never on sm_80/86/90/100
// (attnfarm/_compat.py ARCH_PATHS says the same).
inline bool auto_uses_fp8_pv(int device_index) {
  const int sm = device_sm(device_index);
  return sm == 89 || (sm >= 120 && sm < 130);
}

// The experimental sm_90a wgmma kernel (INT8 Q.K^T, FP8 P.V), reachable only
// through the private precision "_fp8_wgmma" (tests and the benchmark).
inline bool fp8_sm90a_available(int64_t device) {
  return af_attn_fp8_sm90a_available(static_cast<int>(device)) == 1;
}

inline std::string cuda_failure_message(const char* kernel, int device_index) {
  const cudaError_t e = af_last_cuda_error();
  if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction ||
      e == cudaErrorUnsupportedPtxVersion) {
    return cat("attnfarm: this build has no kernel code for the device ", device_arch(device_index), ": ", kernel,
               " failed with ", cudaGetErrorName(e), " (", cudaGetErrorString(e), "). This wheel carries ",
               build_arches(), ". Install a variant built for this GPU (python -m attnfarm shows what is installed).");
  }
  return cat("attnfarm: ", kernel, " failed with CUDA error ", cudaGetErrorName(e), ": ", cudaGetErrorString(e));
}

// The problem sizes of a validated call, in [b,h,n,d] terms.
struct Problem {
  int64_t batch, heads_q, seq_q, d, heads_kv, seq_kv, d_kernel;
};

inline Problem problem_of(const View4& qb, const View4& kb) {
  return Problem{qb.size[0], qb.size[1], qb.size[2], qb.size[3], kb.size[1], kb.size[2], kernel_head_dim(qb.size[3])};
}

inline af_attn_params make_params(const Problem& pr, af_tensor4 q, af_tensor4 k, af_tensor4 v, af_tensor4 o,
                                  float* lse, bool causal, std::optional<double> sm_scale, bool f16) {
  af_attn_params p{};
  p.q = q;
  p.k = k;
  p.v = v;
  p.o = o;
  p.lse = lse;
  p.batch = static_cast<int>(pr.batch);
  p.heads_q = static_cast<int>(pr.heads_q);
  p.heads_kv = static_cast<int>(pr.heads_kv);
  p.seq_q = static_cast<int>(pr.seq_q);
  p.seq_kv = static_cast<int>(pr.seq_kv);
  p.head_dim = static_cast<int>(pr.d_kernel);
  // The scale comes from the real head_dim, not the padded one.
  p.sm_scale = static_cast<float>(sm_scale.has_value() ? *sm_scale : 1.0 / std::sqrt(static_cast<double>(pr.d)));
  p.causal = causal ? 1 : 0;
  p.dtype = f16 ? AF_F16 : AF_BF16;
  return p;
}

// Runs the kernels for a precision. `workspace(bytes)` returns device memory
// of at least that many bytes that stays valid for the call's work on
// `stream` (the bindings take it from torch's caching allocator).
template <typename Workspace>
std::optional<Failure> dispatch(const af_attn_params& p, Precision precision, int device_index, cudaStream_t stream,
                                Workspace&& workspace) {
  if (precision == Precision::Fp8Wgmma) {
    const size_t ws_bytes = af_attn_fp8_sm90a_workspace_bytes(&p);
    void* ws = workspace(ws_bytes > 0 ? ws_bytes : 1);
    const af_status s = af_attn_fp8_sm90a_fwd(&p, ws, ws_bytes, stream);
    if (s == AF_OK) return std::nullopt;
    if (s == AF_ERR_UNSUPPORTED)
      return runtime_error(cat("attnfarm.attention: the sm_90a wgmma FP8 kernel does not serve this request on ",
                               device_arch(device_index),
                               " (it needs an sm_90 GPU, a build with its sm_90a code, head_dim 128 and batch * "
                               "heads_kv <= 65535)"));
    if (s == AF_ERR_CUDA) return runtime_error(cuda_failure_message("af_attn_fp8_sm90a_fwd", device_index));
    return runtime_error(cat("attnfarm internal error: af_attn_fp8_sm90a_fwd refused arguments the bindings validated (",
                             af_status_string(s), ")"));
  }
  bool done = false;
  if (precision == Precision::Int8Fp8 || precision == Precision::Int8Fp8Mma ||
      (precision == Precision::Auto && auto_uses_fp8_pv(device_index))) {
    const size_t ws_bytes = af_attn_int8fp8_workspace_bytes(&p);
    void* ws = workspace(ws_bytes > 0 ? ws_bytes : 1);
    const af_status s = af_attn_int8fp8_fwd(&p, ws, ws_bytes, stream);
    if (s == AF_OK) {
      done = true;
    } else if (s == AF_ERR_UNSUPPORTED && precision == Precision::Auto) {
      done = false;  // fall through to int8, then exact
    } else if (s == AF_ERR_UNSUPPORTED && device_sm(device_index) < 89) {
      return runtime_error(cat("attnfarm.attention: precision=\"int8fp8\" needs FP8 (e4m3) tensor cores, sm_89 (Ada) "
                               "or newer, and the device is ", device_arch(device_index),
                               "; use precision=\"int8\" (INT8 Q.K^T with fp16/bf16 P.V) or \"auto\""));
    } else if (s == AF_ERR_UNSUPPORTED) {
      return runtime_error(cat("attnfarm.attention: precision=\"int8fp8\" is not supported for this request on ",
                               device_arch(device_index), " (", af_status_string(s),
                               "; batch * heads_kv must be at most 65535); use precision=\"exact\" or \"auto\""));
    } else if (s == AF_ERR_CUDA) {
      return runtime_error(cuda_failure_message("af_attn_int8fp8_fwd", device_index));
    } else {
      return runtime_error(cat("attnfarm internal error: af_attn_int8fp8_fwd refused arguments the bindings "
                               "validated (", af_status_string(s),
                               "); please report this with the shapes and strides of q, k, v"));
    }
  }
  if (!done && (precision == Precision::Int8 || precision == Precision::Auto)) {
    const size_t ws_bytes = af_attn_int8_workspace_bytes(&p);
    void* ws = workspace(ws_bytes > 0 ? ws_bytes : 1);
    const af_status s = af_attn_int8_fwd(&p, ws, ws_bytes, stream);
    if (s == AF_OK) {
      done = true;
    } else if (s == AF_ERR_UNSUPPORTED && precision == Precision::Auto) {
      done = false;  // fall through to the exact kernel
    } else if (s == AF_ERR_UNSUPPORTED) {
      return runtime_error(cat("attnfarm.attention: precision=\"int8\" is not supported for this request on ",
                               device_arch(device_index), " (", af_status_string(s),
                               "); use precision=\"exact\" or \"auto\""));
    } else if (s == AF_ERR_CUDA) {
      return runtime_error(cuda_failure_message("af_attn_int8_fwd", device_index));
    } else {
      return runtime_error(cat("attnfarm internal error: af_attn_int8_fwd refused arguments the bindings validated (",
                               af_status_string(s), "); please report this with the shapes and strides of q, k, v"));
    }
  }
  if (!done) {
    const af_status s = af_attn_exact_fwd(&p, stream);
    if (s == AF_ERR_CUDA) return runtime_error(cuda_failure_message("af_attn_exact_fwd", device_index));
    if (s == AF_ERR_UNSUPPORTED)
      return runtime_error(cat("attnfarm.attention: the exact kernel does not support this request on ",
                               device_arch(device_index), " (", af_status_string(s), ")"));
    if (s != AF_OK)
      return runtime_error(cat("attnfarm internal error: af_attn_exact_fwd refused arguments the bindings validated (",
                               af_status_string(s), "); please report this with the shapes and strides of q, k, v"));
  }
  return std::nullopt;
}

}  // namespace core
}  // namespace
}  // namespace attnfarm
