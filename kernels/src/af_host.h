// attnfarm private: host-side helpers shared by the entry points
// (parameter validation, CUDA error bookkeeping, kernel launch).
#pragma once

#include <limits.h>
#include <math.h>
#include <stdint.h>

#include <type_traits>

#include "attnfarm/kernels.h"
#include "af_attn_fwd.cuh"

namespace af {

// Records the CUDA error behind an AF_ERR_CUDA for af_last_cuda_error() (api.cu).
void set_cuda_error(cudaError_t e);

inline af_status cuda_fail(cudaError_t e) {
  set_cuda_error(e);
  return AF_ERR_CUDA;
}

inline bool tensor_ok(const af_tensor4& t) {
  if (t.data == nullptr) return false;
  if ((reinterpret_cast<uintptr_t>(t.data) & 15u) != 0) return false;
  if (t.stride_b < 0 || t.stride_h < 0 || t.stride_n < 0) return false;
  if ((t.stride_b % 8) != 0 || (t.stride_h % 8) != 0 || (t.stride_n % 8) != 0) return false;
  return true;
}

// Sizes and flags only (no pointers).
inline af_status validate_shape(const af_attn_params* p) {
  if (p == nullptr) return AF_ERR_INVALID;
  if (p->dtype != AF_F16 && p->dtype != AF_BF16) return AF_ERR_INVALID;
  if (p->head_dim != 64 && p->head_dim != 128) return AF_ERR_INVALID;
  if (p->batch < 0 || p->seq_q < 0 || p->seq_kv < 0) return AF_ERR_INVALID;
  if (p->heads_q < 1 || p->heads_kv < 1 || p->heads_q % p->heads_kv != 0) return AF_ERR_INVALID;
  if (p->causal != 0 && p->causal != 1) return AF_ERR_INVALID;
  if (!isfinite(p->sm_scale) || !(p->sm_scale > 0.f)) return AF_ERR_INVALID;
  return AF_OK;
}

inline bool empty_work(const af_attn_params* p) { return p->batch == 0 || p->seq_q == 0; }

// Pointers and strides; call after validate_shape and only for non-empty work.
// K and V may be NULL when seq_kv == 0 (nothing is read from them then).
inline af_status validate_tensors(const af_attn_params* p) {
  if (!tensor_ok(p->q) || !tensor_ok(p->o)) return AF_ERR_INVALID;
  if (p->seq_kv > 0 && (!tensor_ok(p->k) || !tensor_ok(p->v))) return AF_ERR_INVALID;
  if (p->lse != nullptr && (reinterpret_cast<uintptr_t>(p->lse) & 3u) != 0) return AF_ERR_INVALID;
  return AF_OK;
}

// The first checks of every forward entry point: the shape, then (for
// non-empty work only) the tensors. *empty tells the caller that there is
// nothing to do (AF_OK, nothing else checked).
inline af_status validate_call(const af_attn_params* p, bool* empty) {
  *empty = false;
  const af_status st = validate_shape(p);
  if (st != AF_OK) return st;
  *empty = empty_work(p);
  if (*empty) return AF_OK;
  return validate_tensors(p);
}

// A caller's workspace: non-null, 256-byte aligned, at least `need` bytes.
inline bool workspace_ok(const void* ws, size_t bytes, size_t need) {
  return ws != nullptr && (reinterpret_cast<uintptr_t>(ws) & 255u) == 0 && bytes >= need;
}

inline size_t align256(size_t x) { return (x + 255) & ~size_t(255); }

// Token splits of a statistics pass over `rows` rows of each of bhk heads:
// enough CTAs to fill a large GPU (512), at least 256 rows each, at most 32.
inline int stat_splits(int64_t bhk, int64_t rows) {
  int64_t splits = bhk > 0 ? (512 + bhk - 1) / bhk : 1;
  const int64_t by_rows = (rows + 255) / 256;
  if (splits > by_rows) splits = by_rows;
  if (splits > 32) splits = 32;
  if (splits < 1) splits = 1;
  return static_cast<int>(splits);
}

// The answer of a *_workspace_bytes entry point: 0 for an invalid shape or
// empty work, else the size of layout(p)'s workspace (its member `end`).
template <class Layout>
size_t workspace_bytes_of(const af_attn_params* p, Layout layout) {
  if (validate_shape(p) != AF_OK || empty_work(p)) return 0;
  return layout(p).end;
}

// The checks of a forward entry point that takes a workspace: validate_call
// (empty work: AF_OK, nothing else), then the caller's workspace against
// w = layout(p); then run(ws, w).
template <class Layout, class Run>
af_status with_workspace(const af_attn_params* p, void* workspace, size_t workspace_bytes, Layout layout,
                         Run run) {
  bool empty = false;
  const af_status st = validate_call(p, &empty);
  if (st != AF_OK || empty) return st;
  const auto w = layout(p);
  if (!workspace_ok(workspace, workspace_bytes, w.end)) return AF_ERR_INVALID;
  return run(static_cast<char*>(workspace), w);
}

inline FwdArgs base_args(const af_attn_params* p) {
  FwdArgs a{};
  const int64_t es = 2;  // fp16 / bf16
  a.q = static_cast<const char*>(p->q.data);
  a.k = static_cast<const char*>(p->k.data);
  a.v = static_cast<const char*>(p->v.data);
  a.o = static_cast<char*>(p->o.data);
  a.q_sb = p->q.stride_b * es; a.q_sh = p->q.stride_h * es; a.q_sn = p->q.stride_n * es;
  a.k_sb = p->k.stride_b * es; a.k_sh = p->k.stride_h * es; a.k_sn = p->k.stride_n * es;
  a.v_sb = p->v.stride_b * es; a.v_sh = p->v.stride_h * es; a.v_sn = p->v.stride_n * es;
  a.o_sb = p->o.stride_b * es; a.o_sh = p->o.stride_h * es; a.o_sn = p->o.stride_n * es;
  a.lse = p->lse;
  a.batch = p->batch;
  a.hq = p->heads_q;
  a.hkv = p->heads_kv;
  a.group = p->heads_q / p->heads_kv;
  a.seq_q = p->seq_q;
  a.seq_kv = p->seq_kv;
  a.causal = p->causal;
  a.scale_log2 = p->sm_scale * 1.4426950408889634f;
  return a;
}

template <typename T>
struct TypeTag {
  using type = T;
};

// f(TypeTag<T>{}, std::integral_constant<int, D>{}) for p's element type T
// (__half or __nv_bfloat16) and head_dim D (128 or 64): the one place that
// turns a request's dtype and head_dim into template arguments.
template <class F>
af_status dispatch_dtype_dim(const af_attn_params* p, F&& f) {
  using D128 = std::integral_constant<int, 128>;
  using D64 = std::integral_constant<int, 64>;
  const bool bf = p->dtype == AF_BF16;
  if (p->head_dim == 128) return bf ? f(TypeTag<__nv_bfloat16>{}, D128{}) : f(TypeTag<__half>{}, D128{});
  return bf ? f(TypeTag<__nv_bfloat16>{}, D64{}) : f(TypeTag<__half>{}, D64{});
}

// The tile configuration of head_dim D (128 or 64) among a kernel's two.
template <int D, class Cfg128, class Cfg64>
using PerHeadDim = typename std::conditional<D == 128, Cfg128, Cfg64>::type;

// Launch `kern` (an attention-forward kernel of config C) over every
// (m block of C::BM query rows, head, batch) of f, which is `args` itself or
// the FwdArgs inside it: f.m_blocks is set before args is passed.
template <class C, class Args>
af_status launch_rows(void (*kern)(Args), Args& args, FwdArgs& f, cudaStream_t stream) {
  const int64_t m_blocks = (static_cast<int64_t>(f.seq_q) + C::BM - 1) / C::BM;
  const int64_t grid = m_blocks * f.hq * f.batch;
  if (grid <= 0) return AF_OK;
  if (grid > INT_MAX) return AF_ERR_UNSUPPORTED;
  f.m_blocks = static_cast<int>(m_blocks);
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM);
  if (e != cudaSuccess) return cuda_fail(e);
  kern<<<static_cast<unsigned>(grid), C::NT, C::SMEM, stream>>>(args);
  e = cudaGetLastError();
  if (e != cudaSuccess) return cuda_fail(e);
  return AF_OK;
}

// Launch attn_fwd_kernel<C> over every (m block, head, batch).
template <class C>
af_status launch_fwd(FwdArgs a, cudaStream_t stream) {
  return launch_rows<C, FwdArgs>(attn_fwd_kernel<C>, a, a, stream);
}

}  // namespace af
