// attnfarm kernels: INT8-QK attention forward (SageAttention-1 scheme).
//
//   1. kmean_partial: per (batch, kv head) channel sums of K over tokens,
//      split over token ranges (deterministic, no atomics).
//   2. quantize:      K - mean(K) -> int8, one scale per 64 keys per kv head;
//                     Q -> int8, one scale per 16 rows per q head, with
//                     sm_scale*log2(e) folded in; and, for the LSE, the
//                     per-row term sm_scale * q.mean(K) that smoothing removes.
//   3. attn_fwd_kernel<INT8>: int8 mma for Q.K^T, fp32 online softmax (exp2),
//      P.V with fp16 (bf16 for bf16 inputs) mma and fp32 accumulation; V is
//      read from the caller's tensor as is.
#include "attnfarm/kernels.h"
#include "af_host.h"

#ifndef AF_I8_128_CFG
#define AF_I8_128_CFG 4, 2, 64, false, 2  // NWARPS, MT, BN, QREG, MINB
#endif
#ifndef AF_I8_64_CFG
#define AF_I8_64_CFG 4, 2, 64, true, 2
#endif

namespace af {
namespace {

constexpr int kMeanThreads = 256;
constexpr int kQuantWarps = 4;  // 4 x 16 rows = one 64-key K group per CTA

struct WsLayout {
  int splits;
  int q_groups, k_groups;
  size_t kpart, q8, k8, qs, ks, qkm, total;
};

inline size_t align256(size_t x) { return (x + 255) & ~size_t(255); }

inline WsLayout ws_layout(const af_attn_params* p) {
  WsLayout w{};
  const size_t B = static_cast<size_t>(p->batch), HQ = p->heads_q, HK = p->heads_kv;
  const size_t D = p->head_dim, NQ = p->seq_q, NK = p->seq_kv;
  int splits = (p->seq_kv + 255) / 256;
  splits = splits < 1 ? 1 : (splits > 32 ? 32 : splits);
  w.splits = splits;
  w.q_groups = (p->seq_q + kQGroup - 1) / kQGroup;
  w.k_groups = (p->seq_kv + kKGroup - 1) / kKGroup;
  size_t o = 0;
  w.kpart = o; o = align256(o + sizeof(float) * splits * B * HK * D);
  w.q8 = o;    o = align256(o + B * HQ * NQ * D);
  w.k8 = o;    o = align256(o + B * HK * NK * D);
  w.qs = o;    o = align256(o + sizeof(float) * B * HQ * w.q_groups);
  w.ks = o;    o = align256(o + sizeof(float) * B * HK * w.k_groups);
  w.qkm = o;   o = align256(o + sizeof(float) * B * HQ * NQ);
  w.total = o;
  return w;
}

struct QuantArgs {
  const char* q;
  const char* k;
  int64_t q_sb, q_sh, q_sn, k_sb, k_sh, k_sn;  // element strides
  float* kpart;
  int8_t* q8;
  int8_t* k8;
  float* qs;
  float* ks;
  float* qkm;
  int batch, hq, hkv, group, seq_q, seq_kv, splits, q_groups, k_groups;
  int k_ctas;  // CTAs of the quantize grid that work on K
  int want_lse;
  float sm_scale;
  float q_mul;  // sm_scale * log2(e)
};

template <typename T>
__device__ __forceinline__ void load8(const T* src, float (&x)[8]) {
  const uint4 u = *reinterpret_cast<const uint4*>(src);
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = Half16<T>::unpack(w[i]);
    x[2 * i] = f.x;
    x[2 * i + 1] = f.y;
  }
}

// Partial channel sums of K: grid (splits, batch*hkv), kMeanThreads threads.
template <typename T, int D>
__global__ void __launch_bounds__(kMeanThreads) kmean_partial_kernel(const QuantArgs a) {
  constexpr int CPR = D / 8;
  constexpr int RPP = kMeanThreads / CPR;
  __shared__ float red[RPP][D + 4];
  const int split = blockIdx.x, bhk = blockIdx.y;
  const int b = bhk / a.hkv, hk = bhk % a.hkv;
  const int per = (a.seq_kv + a.splits - 1) / a.splits;
  const int r_begin = split * per;
  const int r_end = min(a.seq_kv, r_begin + per);
  const int c = threadIdx.x % CPR, r0 = threadIdx.x / CPR;
  const T* base = reinterpret_cast<const T*>(a.k) + b * a.k_sb + hk * a.k_sh + c * 8;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int r = r_begin + r0; r < r_end; r += RPP) {
    float x[8];
    load8<T>(base + (int64_t)r * a.k_sn, x);
#pragma unroll
    for (int i = 0; i < 8; ++i) acc[i] += x[i];
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) red[r0][c * 8 + i] = acc[i];
  __syncthreads();
  for (int ch = threadIdx.x; ch < D; ch += kMeanThreads) {
    float s = 0.f;
    for (int r = 0; r < RPP; ++r) s += red[r][ch];
    a.kpart[((int64_t)bhk * a.splits + split) * D + ch] = s;
  }
}

// 8 channels of mean(K) for kv head bhk.
template <int D>
__device__ __forceinline__ void kmean8(const QuantArgs& a, int bhk, int c, float (&m)[8]) {
#pragma unroll
  for (int i = 0; i < 8; ++i) m[i] = 0.f;
  for (int s = 0; s < a.splits; ++s) {
    const float* src = a.kpart + ((int64_t)bhk * a.splits + s) * D + c * 8;
#pragma unroll
    for (int i = 0; i < 8; ++i) m[i] += src[i];
  }
  const float inv = a.seq_kv > 0 ? 1.f / static_cast<float>(a.seq_kv) : 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) m[i] *= inv;
}

__device__ __forceinline__ uint32_t pack4(int a0, int a1, int a2, int a3) {
  return (uint32_t(a0) & 0xffu) | ((uint32_t(a1) & 0xffu) << 8) | ((uint32_t(a2) & 0xffu) << 16) |
         ((uint32_t(a3) & 0xffu) << 24);
}

__device__ __forceinline__ int q8(float x, float inv) {
  int v = __float2int_rn(x * inv);
  return max(-127, min(127, v));
}

// Quantise 16 rows per warp. CTAs [0, k_ctas) take one 64-key group of K each
// (one scale for the whole CTA); the rest take 64 rows of Q (one scale per warp).
template <typename T, int D>
__global__ void __launch_bounds__(kQuantWarps * 32) quantize_kernel(const QuantArgs a) {
  constexpr int CPR = D / 8;         // 8-channel chunks per row
  constexpr int RPW = 32 / CPR;      // rows per warp pass
  constexpr int PASSES = 16 / RPW;
  __shared__ float wmax[kQuantWarps];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int c = lane % CPR, rl = lane / CPR;

  if (static_cast<int>(blockIdx.x) < a.k_ctas) {
    const int kb = blockIdx.x % a.k_groups;
    const int bhk = blockIdx.x / a.k_groups;
    const int b = bhk / a.hkv, hk = bhk % a.hkv;
    float mean[8];
    kmean8<D>(a, bhk, c, mean);
    const T* base = reinterpret_cast<const T*>(a.k) + b * a.k_sb + hk * a.k_sh + c * 8;
    float x[PASSES][8];
    float amax = 0.f;
#pragma unroll
    for (int ps = 0; ps < PASSES; ++ps) {
      const int row = kb * kKGroup + warp * 16 + ps * RPW + rl;
      if (row < a.seq_kv) {
        load8<T>(base + (int64_t)row * a.k_sn, x[ps]);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          x[ps][i] -= mean[i];
          amax = fmaxf(amax, fabsf(x[ps][i]));
        }
      } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) x[ps][i] = 0.f;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    if (lane == 0) wmax[warp] = amax;
    __syncthreads();
    amax = fmaxf(fmaxf(wmax[0], wmax[1]), fmaxf(wmax[2], wmax[3]));
    const float inv = amax > 0.f ? 127.f / amax : 0.f;
    if (threadIdx.x == 0) a.ks[(int64_t)bhk * a.k_groups + kb] = amax / 127.f;
    int8_t* dst = a.k8 + (int64_t)bhk * a.seq_kv * D + c * 8;
#pragma unroll
    for (int ps = 0; ps < PASSES; ++ps) {
      const int row = kb * kKGroup + warp * 16 + ps * RPW + rl;
      if (row < a.seq_kv) {
        uint2 u;
        u.x = pack4(q8(x[ps][0], inv), q8(x[ps][1], inv), q8(x[ps][2], inv), q8(x[ps][3], inv));
        u.y = pack4(q8(x[ps][4], inv), q8(x[ps][5], inv), q8(x[ps][6], inv), q8(x[ps][7], inv));
        *reinterpret_cast<uint2*>(dst + (int64_t)row * D) = u;
      }
    }
    return;
  }

  // Q: warp-granular groups of 16 rows.
  const int qcta = blockIdx.x - a.k_ctas;
  const int ctas_per_head = (a.q_groups + kQuantWarps - 1) / kQuantWarps;
  const int bh = qcta / ctas_per_head;
  const int qg = (qcta % ctas_per_head) * kQuantWarps + warp;
  if (qg >= a.q_groups) return;
  const int b = bh / a.hq, h = bh % a.hq;
  const T* base = reinterpret_cast<const T*>(a.q) + b * a.q_sb + h * a.q_sh + c * 8;
  float x[PASSES][8];
  float amax = 0.f;
#pragma unroll
  for (int ps = 0; ps < PASSES; ++ps) {
    const int row = qg * kQGroup + ps * RPW + rl;
    if (row < a.seq_q) {
      load8<T>(base + (int64_t)row * a.q_sn, x[ps]);
#pragma unroll
      for (int i = 0; i < 8; ++i) amax = fmaxf(amax, fabsf(x[ps][i]));
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) x[ps][i] = 0.f;
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float inv = amax > 0.f ? 127.f / amax : 0.f;
  if (lane == 0) a.qs[(int64_t)bh * a.q_groups + qg] = amax / 127.f * a.q_mul;
  int8_t* dst = a.q8 + (int64_t)bh * a.seq_q * D + c * 8;
#pragma unroll
  for (int ps = 0; ps < PASSES; ++ps) {
    const int row = qg * kQGroup + ps * RPW + rl;
    if (row < a.seq_q) {
      uint2 u;
      u.x = pack4(q8(x[ps][0], inv), q8(x[ps][1], inv), q8(x[ps][2], inv), q8(x[ps][3], inv));
      u.y = pack4(q8(x[ps][4], inv), q8(x[ps][5], inv), q8(x[ps][6], inv), q8(x[ps][7], inv));
      *reinterpret_cast<uint2*>(dst + (int64_t)row * D) = u;
    }
  }
  if (a.want_lse) {
    // LSE correction: smoothing K shifts row i's scores by sm_scale * q_i . mean(K).
    float mean[8];
    kmean8<D>(a, b * a.hkv + h / a.group, c, mean);
#pragma unroll
    for (int ps = 0; ps < PASSES; ++ps) {
      float d = 0.f;
#pragma unroll
      for (int i = 0; i < 8; ++i) d += x[ps][i] * mean[i];
#pragma unroll
      for (int o = CPR / 2; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
      const int row = qg * kQGroup + ps * RPW + rl;
      if (c == 0 && row < a.seq_q) a.qkm[(int64_t)bh * a.seq_q + row] = d * a.sm_scale;
    }
  }
}

template <typename T, int D>
struct Int8Cfg;
template <typename T>
struct Int8Cfg<T, 128> {
  using type = FwdCfg<T, 128, AF_I8_128_CFG, true>;
};
template <typename T>
struct Int8Cfg<T, 64> {
  using type = FwdCfg<T, 64, AF_I8_64_CFG, true>;
};

template <typename T, int D>
af_status run(const af_attn_params* p, char* ws, const WsLayout& w, cudaStream_t stream) {
  QuantArgs qa{};
  qa.q = static_cast<const char*>(p->q.data);
  qa.k = static_cast<const char*>(p->k.data);
  qa.q_sb = p->q.stride_b; qa.q_sh = p->q.stride_h; qa.q_sn = p->q.stride_n;
  qa.k_sb = p->k.stride_b; qa.k_sh = p->k.stride_h; qa.k_sn = p->k.stride_n;
  qa.kpart = reinterpret_cast<float*>(ws + w.kpart);
  qa.q8 = reinterpret_cast<int8_t*>(ws + w.q8);
  qa.k8 = reinterpret_cast<int8_t*>(ws + w.k8);
  qa.qs = reinterpret_cast<float*>(ws + w.qs);
  qa.ks = reinterpret_cast<float*>(ws + w.ks);
  qa.qkm = reinterpret_cast<float*>(ws + w.qkm);
  qa.batch = p->batch; qa.hq = p->heads_q; qa.hkv = p->heads_kv;
  qa.group = p->heads_q / p->heads_kv;
  qa.seq_q = p->seq_q; qa.seq_kv = p->seq_kv;
  qa.splits = w.splits; qa.q_groups = w.q_groups; qa.k_groups = w.k_groups;
  qa.want_lse = p->lse != nullptr;
  qa.sm_scale = p->sm_scale;
  qa.q_mul = p->sm_scale * 1.4426950408889634f;

  const int64_t k_ctas = static_cast<int64_t>(p->batch) * p->heads_kv * w.k_groups;
  const int64_t q_ctas = static_cast<int64_t>(p->batch) * p->heads_q *
                         ((w.q_groups + kQuantWarps - 1) / kQuantWarps);
  if (k_ctas + q_ctas > INT_MAX || static_cast<int64_t>(p->batch) * p->heads_kv > 65535)
    return AF_ERR_UNSUPPORTED;
  qa.k_ctas = static_cast<int>(k_ctas);

  // Pass 1 (only when K has rows; the mean is unused otherwise).
  if (p->seq_kv > 0) {
    dim3 grid(w.splits, p->batch * p->heads_kv);
    kmean_partial_kernel<T, D><<<grid, kMeanThreads, 0, stream>>>(qa);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e);
  }
  // Pass 2.
  quantize_kernel<T, D><<<static_cast<unsigned>(k_ctas + q_ctas), kQuantWarps * 32, 0, stream>>>(qa);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return cuda_fail(e);

  // Pass 3.
  FwdArgs a = base_args(p);
  a.q = reinterpret_cast<const char*>(qa.q8);
  a.k = reinterpret_cast<const char*>(qa.k8);
  a.q_sn = D; a.q_sh = static_cast<int64_t>(p->seq_q) * D; a.q_sb = a.q_sh * p->heads_q;
  a.k_sn = D; a.k_sh = static_cast<int64_t>(p->seq_kv) * D; a.k_sb = a.k_sh * p->heads_kv;
  a.q_scale = qa.qs;
  a.k_scale = qa.ks;
  a.lse_bias = qa.qkm;
  a.q_groups = w.q_groups;
  a.k_groups = w.k_groups;
  return launch_fwd<typename Int8Cfg<T, D>::type>(a, stream);
}

}  // namespace
}  // namespace af

extern "C" size_t af_attn_int8_workspace_bytes(const af_attn_params* p) {
  if (af::validate_shape(p) != AF_OK) return 0;
  if (af::empty_work(p)) return 0;
  return af::ws_layout(p).total;
}

extern "C" af_status af_attn_int8_fwd(const af_attn_params* p, void* workspace,
                                      size_t workspace_bytes, cudaStream_t stream) {
  af_status st = af::validate_shape(p);
  if (st != AF_OK) return st;
  if (af::empty_work(p)) return AF_OK;
  st = af::validate_tensors(p);
  if (st != AF_OK) return st;
  const af::WsLayout w = af::ws_layout(p);
  if (workspace == nullptr || (reinterpret_cast<uintptr_t>(workspace) & 255u) != 0 ||
      workspace_bytes < w.total)
    return AF_ERR_INVALID;
  char* ws = static_cast<char*>(workspace);
  const bool bf = p->dtype == AF_BF16;
  if (p->head_dim == 128)
    return bf ? af::run<__nv_bfloat16, 128>(p, ws, w, stream) : af::run<__half, 128>(p, ws, w, stream);
  return bf ? af::run<__nv_bfloat16, 64>(p, ws, w, stream) : af::run<__half, 64>(p, ws, w, stream);
}
