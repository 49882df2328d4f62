// attnfarm kernels: INT8-QK attention forward (SageAttention-1 scheme plus a
// per-channel range migration between Q and K).
//
//   1. stats_kernel:    per (batch, kv head) and channel, over token splits
//                       (deterministic, no atomics): sum/max/min of K, max |Q|
//                       over the q heads of the group.
//   2. finalize_kernel: mean(K) and s = sqrt(max|Q| / max|K - mean(K)|).
//   3. quantize_kernel: (K - mean) * s -> int8, one scale per 64 keys per kv
//                       head; Q / s -> int8, one scale per 16 rows per q head
//                       with sm_scale*log2(e) folded in; for the LSE, the
//                       per-row term sm_scale * q.mean(K) that smoothing removes.
//      Softmax ignores a per-row constant, and Q.K^T is unchanged by s, so
//      the only approximation is the int8 rounding.
//   4. attn_fwd_kernel<INT8>: int8 mma for Q.K^T, fp32 online softmax (exp2),
//      P.V with fp16 (bf16 for bf16 inputs) mma and fp32 accumulation; V is
//      read from the caller's tensor as is.
#include "attnfarm/kernels.h"
#include "af_host.h"
#include "af_int8_qk.h"
#include "af_stats.cuh"

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
constexpr float kMinAmax = 1e-12f;  // floor of a block's max |x|: scales never 0

struct WsLayout {
  int splits;
  int q_groups, k_groups;
  size_t kpart, qpart, chan, q8, k8, qs, ks, qkm, end;
};

inline WsLayout ws_layout(const af_attn_params* p) {
  WsLayout w{};
  const size_t B = static_cast<size_t>(p->batch), HQ = p->heads_q, HK = p->heads_kv;
  const size_t D = p->head_dim, NQ = p->seq_q, NK = p->seq_kv;
  const int64_t rows = p->seq_kv > p->seq_q ? p->seq_kv : p->seq_q;
  w.splits = stat_splits(static_cast<int64_t>(p->batch) * p->heads_kv, rows);
  const size_t splits = static_cast<size_t>(w.splits);
  w.q_groups = (p->seq_q + kQGroup - 1) / kQGroup;
  w.k_groups = (p->seq_kv + kKGroup - 1) / kKGroup;
  size_t o = 0;
  w.kpart = o; o = align256(o + sizeof(float) * 3 * splits * B * HK * D);
  w.qpart = o; o = align256(o + sizeof(float) * splits * B * HK * D);
  w.chan = o;  o = align256(o + sizeof(float) * 2 * B * HK * D);
  w.q8 = o;    o = align256(o + B * HQ * NQ * D);
  w.k8 = o;    o = align256(o + B * HK * NK * D);
  w.qs = o;    o = align256(o + sizeof(float) * B * HQ * w.q_groups);
  w.ks = o;    o = align256(o + sizeof(float) * B * HK * w.k_groups);
  w.qkm = o;   o = align256(o + sizeof(float) * B * HQ * NQ);
  w.end = o;
  return w;
}

struct QuantArgs {
  const char* q;
  const char* k;
  int64_t q_sb, q_sh, q_sn, k_sb, k_sh, k_sn;  // element strides
  float* kpart;  // [b*hkv][splits][3][D]: sum, max, min of K per channel
  float* qpart;  // [b*hkv][splits][D]: max |Q| per channel over the group's heads
  float* chan;   // [b*hkv][2][D]: mean(K), channel migration factor s
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

// Pass 1, per-channel statistics over a token split: grid (splits, b*hkv, 2).
// z = 0: sum / max / min of K; z = 1: max |Q| over the heads of the kv group.
template <typename T, int D>
__global__ void __launch_bounds__(kMeanThreads) stats_kernel(const QuantArgs a) {
  constexpr int CPR = D / 8;
  constexpr int RPP = kMeanThreads / CPR;
  constexpr int U = 4;  // rows in flight per thread
  __shared__ float red[3][RPP][D + 4];
  const int split = blockIdx.x, bhk = blockIdx.y;
  const bool is_k = blockIdx.z == 0;
  const int b = bhk / a.hkv, hk = bhk % a.hkv;
  const int c = threadIdx.x % CPR, r0 = threadIdx.x / CPR;
  float sum[8], mx[8], mn[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) { sum[i] = 0.f; mx[i] = -INFINITY; mn[i] = INFINITY; }

  const int n = is_k ? a.seq_kv : a.seq_q;
  const int per = (n + a.splits - 1) / a.splits;
  const int r_begin = split * per;
  const int r_end = min(n, r_begin + per);
  const int heads = is_k ? 1 : a.group;
  for (int hh = 0; hh < heads; ++hh) {
    const T* base = is_k ? reinterpret_cast<const T*>(a.k) + b * a.k_sb + hk * a.k_sh
                         : reinterpret_cast<const T*>(a.q) + b * a.q_sb + (hk * a.group + hh) * a.q_sh;
    const int64_t sn = is_k ? a.k_sn : a.q_sn;
    base += c * 8;
    for (int r = r_begin + r0; r < r_end; r += U * RPP) {
      float x[U][8];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int rr = r + u * RPP;
        if (rr < r_end) {
          load8<T>(base + (int64_t)rr * sn, x[u]);
        } else {
#pragma unroll
          for (int i = 0; i < 8; ++i) x[u][i] = is_k ? NAN : 0.f;  // NaN: ignored by fmaxf/fminf
        }
      }
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          if (is_k) {
            const bool ok = r + u * RPP < r_end;
            sum[i] += ok ? x[u][i] : 0.f;
            mx[i] = fmaxf(mx[i], x[u][i]);
            mn[i] = fminf(mn[i], x[u][i]);
          } else {
            mx[i] = fmaxf(mx[i], fabsf(x[u][i]));
          }
        }
    }
  }
  stash_partials(red, r0, c, sum, mx, mn);
  __syncthreads();
  for (int ch = threadIdx.x; ch < D; ch += kMeanThreads) {
    float s0, s1, s2;
    column_stats(red, ch, s0, s1, s2);
    if (is_k) {
      float* dst = a.kpart + ((int64_t)bhk * a.splits + split) * 3 * D;
      dst[ch] = s0;
      dst[D + ch] = s1;
      dst[2 * D + ch] = s2;
    } else {
      a.qpart[((int64_t)bhk * a.splits + split) * D + ch] = fmaxf(s1, 0.f);
    }
  }
}

// Pass 2: per (b, kv head, channel): mean(K) and the migration factor
// s = sqrt(max|Q| / max|K - mean|), so that Q/s and (K - mean)*s have balanced
// channel ranges (Q.K^T is unchanged). grid b*hkv, D threads.
template <int D>
__global__ void __launch_bounds__(D) finalize_kernel(const QuantArgs a) {
  const int bhk = blockIdx.x, ch = threadIdx.x;
  float sum = 0.f, mx = -INFINITY, mn = INFINITY, qa = 0.f;
  for (int s = 0; s < a.splits; ++s) {
    const float* kp = a.kpart + ((int64_t)bhk * a.splits + s) * 3 * D;
    sum += kp[ch];
    mx = fmaxf(mx, kp[D + ch]);
    mn = fminf(mn, kp[2 * D + ch]);
    qa = fmaxf(qa, a.qpart[((int64_t)bhk * a.splits + s) * D + ch]);
  }
  float mean = 0.f, f = 1.f;
  if (a.seq_kv > 0) {
    mean = sum / static_cast<float>(a.seq_kv);
    const float ka = fmaxf(mx - mean, mean - mn);
    if (ka > 0.f && qa > 0.f && isfinite(ka) && isfinite(qa)) f = sqrtf(qa / ka);
  }
  a.chan[(int64_t)bhk * 2 * D + ch] = mean;
  a.chan[(int64_t)bhk * 2 * D + D + ch] = f;
}

// Round x*inv (|x*inv| <= 127 by construction) to the nearest integer with
// one FFMA: the low byte of 1.5*2^23 + k, read as bits, is k as an int8.
__device__ __forceinline__ uint32_t q8bits(float x, float inv) {
  return static_cast<uint32_t>(__float_as_int(fmaf(x, inv, 12582912.0f)));
}

// 8 values -> 8 int8 bytes.
__device__ __forceinline__ uint2 quant8(const float (&x)[8], float inv) {
  uint32_t b[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) b[i] = q8bits(x[i], inv);
  uint2 u;
  u.x = __byte_perm(__byte_perm(b[0], b[1], 0x0040), __byte_perm(b[2], b[3], 0x0040), 0x5410);
  u.y = __byte_perm(__byte_perm(b[4], b[5], 0x0040), __byte_perm(b[6], b[7], 0x0040), 0x5410);
  return u;
}

template <int D>
__device__ __forceinline__ void load_chan(const QuantArgs& a, int bhk, int c, float (&mean)[8],
                                          float (&f)[8]) {
  const float4* m4 = reinterpret_cast<const float4*>(a.chan + (int64_t)bhk * 2 * D + c * 8);
  const float4* f4 = reinterpret_cast<const float4*>(a.chan + (int64_t)bhk * 2 * D + D + c * 8);
  const float4 m0 = m4[0], m1 = m4[1], f0 = f4[0], f1 = f4[1];
  mean[0] = m0.x; mean[1] = m0.y; mean[2] = m0.z; mean[3] = m0.w;
  mean[4] = m1.x; mean[5] = m1.y; mean[6] = m1.z; mean[7] = m1.w;
  f[0] = f0.x; f[1] = f0.y; f[2] = f0.z; f[3] = f0.w;
  f[4] = f1.x; f[5] = f1.y; f[6] = f1.z; f[7] = f1.w;
}

// A warp's rows row0 + ps * RPW + rl (pass ps, the lane's row rl), the lane's
// 8 channels at base: rows >= nrows read as `pad`.
template <typename T, int PASSES, int RPW>
__device__ __forceinline__ void load_warp_rows(float (&x)[PASSES][8], const T* base, int64_t stride, int row0,
                                               int rl, int nrows, const float (&pad)[8]) {
#pragma unroll
  for (int ps = 0; ps < PASSES; ++ps) {
    const int row = row0 + ps * RPW + rl;
    if (row < nrows) {
      load8<T>(base + (int64_t)row * stride, x[ps]);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) x[ps][i] = pad[i];
    }
  }
}

// Pass 3: quantise 16 rows per warp. CTAs [0, k_ctas) take one 64-key group
// of K each (one scale for the whole CTA); the rest take 64 rows of Q (one
// scale per warp = per 16 rows).
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
    float mean[8], f[8];
    load_chan<D>(a, bhk, c, mean, f);
    const T* base = reinterpret_cast<const T*>(a.k) + b * a.k_sb + hk * a.k_sh + c * 8;
    float x[PASSES][8];
    load_warp_rows<T, PASSES, RPW>(x, base, a.k_sn, kb * kKGroup + warp * 16, rl, a.seq_kv, mean);
    float amax = 0.f;
#pragma unroll
    for (int ps = 0; ps < PASSES; ++ps)
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        x[ps][i] = (x[ps][i] - mean[i]) * f[i];
        amax = fmaxf(amax, fabsf(x[ps][i]));
      }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    if (lane == 0) wmax[warp] = amax;
    __syncthreads();
    amax = fmaxf(fmaxf(wmax[0], wmax[1]), fmaxf(wmax[2], wmax[3]));
    amax = fmaxf(amax, kMinAmax);  // scales stay > 0 (the softmax relies on it)
    const float inv = 127.f / amax;
    if (threadIdx.x == 0) a.ks[(int64_t)bhk * a.k_groups + kb] = amax / 127.f;
    int8_t* dst = a.k8 + (int64_t)bhk * a.seq_kv * D + c * 8;
#pragma unroll
    for (int ps = 0; ps < PASSES; ++ps) {
      const int row = kb * kKGroup + warp * 16 + ps * RPW + rl;
      if (row < a.seq_kv) {
        *reinterpret_cast<uint2*>(dst + (int64_t)row * D) = quant8(x[ps], inv);
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
  const int bhk = b * a.hkv + h / a.group;
  float mean[8], f[8];
  load_chan<D>(a, bhk, c, mean, f);
  const T* base = reinterpret_cast<const T*>(a.q) + b * a.q_sb + h * a.q_sh + c * 8;
  float x[PASSES][8];
  const float zero[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  load_warp_rows<T, PASSES, RPW>(x, base, a.q_sn, qg * kQGroup, rl, a.seq_q, zero);
  if (a.want_lse) {
    // LSE correction: smoothing K shifts row i's scores by sm_scale * q_i . mean(K).
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
  float rf[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) rf[i] = 1.f / f[i];
  float amax = 0.f;
#pragma unroll
  for (int ps = 0; ps < PASSES; ++ps)
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      x[ps][i] = x[ps][i] * rf[i];
      amax = fmaxf(amax, fabsf(x[ps][i]));
    }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  amax = fmaxf(amax, kMinAmax);
  const float inv = 127.f / amax;
  if (lane == 0) a.qs[(int64_t)bh * a.q_groups + qg] = amax / 127.f * a.q_mul;
  int8_t* dst = a.q8 + (int64_t)bh * a.seq_q * D + c * 8;
#pragma unroll
  for (int ps = 0; ps < PASSES; ++ps) {
    const int row = qg * kQGroup + ps * RPW + rl;
    if (row < a.seq_q) {
      *reinterpret_cast<uint2*>(dst + (int64_t)row * D) = quant8(x[ps], inv);
    }
  }
}

template <typename T, int D>
using Int8Cfg = PerHeadDim<D, FwdCfg<T, 128, AF_I8_128_CFG, true>, FwdCfg<T, 64, AF_I8_64_CFG, true>>;

// Passes 1-3 into the workspace; `out` then points at the int8 Q/K, their
// scales and the LSE correction.
template <typename T, int D>
af_status quantize_qk(const af_attn_params* p, char* ws, const WsLayout& w, cudaStream_t stream,
                      Int8Qk* out) {
  QuantArgs qa{};
  qa.q = static_cast<const char*>(p->q.data);
  qa.k = static_cast<const char*>(p->k.data);
  qa.q_sb = p->q.stride_b; qa.q_sh = p->q.stride_h; qa.q_sn = p->q.stride_n;
  qa.k_sb = p->k.stride_b; qa.k_sh = p->k.stride_h; qa.k_sn = p->k.stride_n;
  qa.kpart = reinterpret_cast<float*>(ws + w.kpart);
  qa.qpart = reinterpret_cast<float*>(ws + w.qpart);
  qa.chan = reinterpret_cast<float*>(ws + w.chan);
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
  if (k_ctas + q_ctas > INT_MAX || static_cast<int64_t>(p->batch) * p->heads_kv > 65535 ||
      static_cast<int64_t>(p->batch) * p->heads_kv > INT_MAX)
    return AF_ERR_UNSUPPORTED;
  qa.k_ctas = static_cast<int>(k_ctas);

  // Passes 1 and 2: channel statistics -> mean(K) and migration factors.
  {
    dim3 grid(w.splits, p->batch * p->heads_kv, 2);
    stats_kernel<T, D><<<grid, kMeanThreads, 0, stream>>>(qa);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e);
    finalize_kernel<D><<<p->batch * p->heads_kv, D, 0, stream>>>(qa);
    e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e);
  }
  // Pass 3.
  quantize_kernel<T, D><<<static_cast<unsigned>(k_ctas + q_ctas), kQuantWarps * 32, 0, stream>>>(qa);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return cuda_fail(e);
  *out = Int8Qk{qa.q8, qa.k8, qa.qs, qa.ks, qa.qkm, w.q_groups, w.k_groups};
  return AF_OK;
}

template <typename T, int D>
af_status run(const af_attn_params* p, char* ws, const WsLayout& w, cudaStream_t stream) {
  Int8Qk qk{};
  const af_status st = quantize_qk<T, D>(p, ws, w, stream, &qk);
  if (st != AF_OK) return st;
  // Pass 4.
  FwdArgs a = int8_fwd_args(p, qk);
  return launch_fwd<Int8Cfg<T, D>>(a, stream);
}

}  // namespace

size_t int8_qk_workspace_bytes(const af_attn_params* p) { return ws_layout(p).end; }

af_status int8_qk_quantize(const af_attn_params* p, char* ws, cudaStream_t stream, Int8Qk* out) {
  const WsLayout w = ws_layout(p);
  return dispatch_dtype_dim(p, [&](auto t, auto d) {
    return quantize_qk<typename decltype(t)::type, decltype(d)::value>(p, ws, w, stream, out);
  });
}

}  // namespace af

extern "C" size_t af_attn_int8_workspace_bytes(const af_attn_params* p) {
  return af::workspace_bytes_of(p, af::ws_layout);
}

extern "C" af_status af_attn_int8_fwd(const af_attn_params* p, void* workspace,
                                      size_t workspace_bytes, cudaStream_t stream) {
  return af::with_workspace(p, workspace, workspace_bytes, af::ws_layout, [&](char* ws, const af::WsLayout& w) {
    return af::dispatch_dtype_dim(p, [&](auto t, auto d) {
      return af::run<typename decltype(t)::type, decltype(d)::value>(p, ws, w, stream);
    });
  });
}
