// attnfarm private: the V passes shared by the FP8 P.V kernels
// (attn_int8fp8.cu, attn_fp8_sm90a.cu): per-channel statistics of V, then V
// quantised to e4m3, transposed to V^T ([channel][key]) with the keys of each
// 64-key group in the order the kernel's P fragments need, and the zero-sum
// rounding below. Kernels and launchers are defined here in an unnamed
// namespace: each including file gets its own copies.
//
// Zero-sum rounding. An output is O = sum_i p_i V_i / sum_i p_i, so the
// error that e4m3 rounding of V adds is sum_i p_i e_i (e_i = Vq_i - V_i).
// Split p_i into its mean over a block of keys and the rest: the mean part
// multiplies the block's error sum S = sum_i e_i, which plain round-to-nearest
// leaves at about sqrt(64) times one error. Each column's 64 keys are rounded
// to nearest first; then, a few times, the one element whose other rounding
// (the e4m3 neighbour on the far side of V_i) lowers
//     kZeroSumWeight * sum_i e_i^2 + S^2
// the most takes it. On N(0,1) inputs this removes about a third of the
// V-rounding error (kernels/notes/fp8_emulate.py: CosSim 0.99926 -> 0.99937
// at b2 h4 N1025 d128), at no cost in the attention mainloop. An element
// keeps a value inside [lo, hi] (its column's range), so quantised V rows,
// and so the outputs, stay within [min V, max V].
#pragma once

#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>

#include "attnfarm/kernels.h"
#include "af_host.h"
#include "af_ptx.cuh"
#include "af_stats.cuh"

namespace af {

// Rows of V one pass of v_split_stats reads at once (its red[][ROWS][] buffer).
template <int D, int NTHREADS>
constexpr int kVStatRows = NTHREADS / (D / 8);

// The body of a V statistics kernel, grid (splits, b*hkv), NTHREADS threads:
// per channel, sum / max / min of V over token split blockIdx.x of kv head
// blockIdx.y. A holds v and its element strides v_sb, v_sh, v_sn, hkv, seq_kv,
// splits, and vpart ([b*hkv][splits][3][D]: sum, max, min), which it writes.
// red: the kernel's __shared__ scratch.
template <typename T, int D, int NTHREADS, class A>
__device__ __forceinline__ void v_split_stats(const A& a,
                                              float (&red)[3][kVStatRows<D, NTHREADS>][D + 4]) {
  constexpr int CPR = D / 8, RPP = kVStatRows<D, NTHREADS>;
  const int split = blockIdx.x, bhk = blockIdx.y;
  const int b = bhk / a.hkv, hk = bhk % a.hkv;
  const int c = threadIdx.x % CPR, r0 = threadIdx.x / CPR;
  float sum[8], mx[8], mn[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) { sum[i] = 0.f; mx[i] = -INFINITY; mn[i] = INFINITY; }
  const int per = (a.seq_kv + a.splits - 1) / a.splits;
  const int r_begin = split * per, r_end = min(a.seq_kv, r_begin + per);
  const T* base = reinterpret_cast<const T*>(a.v) + b * a.v_sb + hk * a.v_sh + c * 8;
  for (int r = r_begin + r0; r < r_end; r += RPP) {
    float x[8];
    load8<T>(base + (int64_t)r * a.v_sn, x);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      sum[i] += x[i];
      mx[i] = fmaxf(mx[i], x[i]);
      mn[i] = fminf(mn[i], x[i]);
    }
  }
  stash_partials(red, r0, c, sum, mx, mn);
  __syncthreads();
  for (int ch = threadIdx.x; ch < D; ch += NTHREADS) {
    float s0, s1, s2;
    column_stats(red, ch, s0, s1, s2);
    float* dst = a.vpart + ((int64_t)bhk * a.splits + split) * 3 * D;
    dst[ch] = s0;
    dst[D + ch] = s1;
    dst[2 * D + ch] = s2;
  }
}

// Channel ch of kv head bhk over all token splits: the sum / max / min that
// v_split_stats left in vpart.
template <int D>
__device__ __forceinline__ void v_channel_stats(const float* vpart, int splits, int bhk, int ch, float& sum,
                                                float& mx, float& mn) {
  sum = 0.f;
  mx = -INFINITY;
  mn = INFINITY;
  for (int s = 0; s < splits; ++s) {
    const float* vp = vpart + ((int64_t)bhk * splits + s) * 3 * D;
    sum += vp[ch];
    mx = fmaxf(mx, vp[D + ch]);
    mn = fminf(mn, vp[2 * D + ch]);
  }
}

constexpr int kZeroSumFlips = 3;        // most flips per column and 64 keys
constexpr float kZeroSumWeight = 4.f;   // weight of the squared errors against S^2

__device__ __forceinline__ float e4m3_to_float(uint32_t byte) {
  return __half2float(__half(__nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(byte), __NV_E4M3)));
}

// One warp rounds one column of 64 keys: lane l holds keys l and l + 32 (x,
// already scaled: |x| <= 448 up to rounding, lo <= x <= hi; padding keys are
// exact zeros and stay so). Every lane of the warp must call it. Returns the
// two e4m3 bytes of this lane.
__device__ __forceinline__ void e4m3_round_zero_sum(const float (&x)[2], float lo, float hi, uint32_t (&q)[2]) {
  const int lane = threadIdx.x & 31;
  float e[2], ea[2];
  uint32_t alt[2];
  bool ok[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    uint32_t b = __nv_cvt_float_to_fp8(x[i], __NV_SATFINITE, __NV_E4M3);
    float v = e4m3_to_float(b);
    // Round-to-nearest may step past the column's max or min (by up to half
    // an e4m3 ulp); such a value takes the next e4m3 value toward zero.
    if ((v > hi || v < lo) && (b & 0x7fu) != 0) {
      b -= 1;
      v = e4m3_to_float(b);
    }
    q[i] = b;
    e[i] = v - x[i];
    // The other rounding: one step away from zero if v lies below |x|, else toward it.
    const uint32_t mag = b & 0x7fu;
    const uint32_t sign = mag != 0 ? (b & 0x80u) : (x[i] < 0.f ? 0x80u : 0u);
    const bool away = fabsf(v) < fabsf(x[i]);
    const bool step_ok = away ? mag < 0x7eu : mag > 0u;
    alt[i] = sign | (away ? mag + 1 : mag - 1);
    const float va = e4m3_to_float(alt[i]);
    ea[i] = va - x[i];
    ok[i] = e[i] != 0.f && step_ok && va <= hi && va >= lo;
  }
  float s = e[0] + e[1];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  s = __shfl_sync(0xffffffffu, s, 0);  // one value on every lane: the choices below agree
#pragma unroll 1
  for (int it = 0; it < kZeroSumFlips; ++it) {
    // Each lane's best candidate as an int that orders like its cost, with the
    // candidate's index (0..63) in the low 6 bits; one redux.sync finds the
    // warp's best (ties to the lower index).
    int key = INT_MAX;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const float ns = s - e[i] + ea[i];
      const float cost = kZeroSumWeight * (ea[i] * ea[i] - e[i] * e[i]) - (s * s - ns * ns);
      if (ok[i] && fabsf(ns) < fabsf(s) && cost < 0.f) {
        const int c = __float_as_int(cost) ^ 0x7fffffff;  // cost < 0: larger |cost| -> smaller int
        key = min(key, (c & ~63) | (2 * lane + i));
      }
    }
    key = __reduce_min_sync(0xffffffffu, key);
    if (key == INT_MAX) break;  // no flip lowers the objective (same on every lane)
    const int who = key & 63, i = who & 1;
    const float d = i ? ea[1] - e[1] : ea[0] - e[0];
    s += __shfl_sync(0xffffffffu, d, who >> 1);
    if ((who >> 1) == lane) {
      if (i) {
        q[1] = alt[1]; e[1] = ea[1]; ok[1] = false;
      } else {
        q[0] = alt[0]; e[0] = ea[0]; ok[0] = false;
      }
    }
  }
}

// ---- the V passes --------------------------------------------------------

constexpr int kVThreads = 256;
constexpr int kVGroup = 64;          // keys per quantisation CTA: one zero-sum group
constexpr float kFp8Max = 448.f;     // largest finite e4m3
constexpr float kVMinAmax = 1e-20f;  // floor of a channel's max |V - mean|

struct VArgs {
  const char* v;
  int64_t v_sb, v_sh, v_sn;  // element strides
  float* vpart;              // [b*hkv][splits][3][D]: sum, max, min
  float* vchan;              // [b*hkv][2][D]: mean, scale = max |V - mean| / 448
  uint8_t* vt;               // [b*hkv][D][nk_pad] e4m3 (V - mean) / scale, transposed
  int hkv, seq_kv, splits, nk_pad;
};

// Where the V passes' buffers lie in a workspace, from offset `at` on.
struct VWs {
  size_t vpart, vchan, vt, end;  // end: a multiple of 256
  int splits, nk_pad;
};

// nk_pad: the keys rounded up to key_align (a multiple of kVGroup), the key
// extent of V^T that the mainloop's tiles read.
inline VWs v_workspace(const af_attn_params* p, size_t at, int key_align) {
  VWs w{};
  const size_t BHK = static_cast<size_t>(p->batch) * p->heads_kv, D = p->head_dim;
  w.splits = stat_splits(static_cast<int64_t>(p->batch) * p->heads_kv, p->seq_kv);
  const size_t splits = static_cast<size_t>(w.splits);
  w.nk_pad = (p->seq_kv + key_align - 1) / key_align * key_align;
  size_t o = align256(at);
  w.vpart = o; o = align256(o + sizeof(float) * 3 * splits * BHK * D);
  w.vchan = o; o = align256(o + sizeof(float) * 2 * BHK * D);
  w.vt = o;    o = align256(o + BHK * D * static_cast<size_t>(w.nk_pad));
  w.end = o;
  return w;
}

// The quantisation kernel's shared memory.
template <int D>
struct VQuantSmem {
  static constexpr int TROW = kVGroup + 16;  // bytes per V^T row (16-byte aligned, fewer conflicts)
  float mean[D], inv[D], hi[D], lo[D];
  float xs[kVGroup][D + 1];  // (V - mean) * 448 / amax of the group's keys
  __align__(16) uint8_t tile[D][TROW];
};

namespace {

// grid (splits, b*hkv): per-channel sum / max / min of V over a token split.
template <typename T, int D>
__global__ void __launch_bounds__(kVThreads) vstats_kernel(const VArgs a) {
  __shared__ float red[3][kVStatRows<D, kVThreads>][D + 4];
  v_split_stats<T, D, kVThreads>(a, red);
}

// grid (nk_pad / 64, b*hkv): 64 keys of one kv head -> e4m3 V^T columns, key
// kl (0..63) of the group at byte Order::pos(kl) of the group's 64. A CTA
// reduces the token splits of its channels itself; group 0 writes vchan.
// The e4m3 conversions exist from sm_89 on: below that the kernel traps (the
// FP8 entry points refuse those devices before any launch).
template <typename T, int D, class Order>
__global__ void __launch_bounds__(kVThreads) vquant_kernel(const VArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 890
  __trap();
#else
  constexpr int CPR = D / 8;
  constexpr int RPP = kVThreads / CPR;
  __shared__ VQuantSmem<D> sm;
  const int kg = blockIdx.x, bhk = blockIdx.y;
  const int b = bhk / a.hkv, hk = bhk % a.hkv;
  for (int ch = threadIdx.x; ch < D; ch += kVThreads) {
    float sum, mx, mn;
    v_channel_stats<D>(a.vpart, a.splits, bhk, ch, sum, mx, mn);
    const float mean = sum / static_cast<float>(a.seq_kv);
    const float amax = fmaxf(fmaxf(mx - mean, mean - mn), kVMinAmax);
    const float inv = kFp8Max / amax;
    sm.mean[ch] = mean;
    sm.inv[ch] = inv;
    sm.hi[ch] = (mx - mean) * inv;  // the column's extremes, computed as its elements are
    sm.lo[ch] = (mn - mean) * inv;
    if (kg == 0) {
      a.vchan[(int64_t)bhk * 2 * D + ch] = mean;
      a.vchan[(int64_t)bhk * 2 * D + D + ch] = amax / kFp8Max;
    }
  }
  __syncthreads();
  const int c = threadIdx.x % CPR, r0 = threadIdx.x / CPR;
  const T* base = reinterpret_cast<const T*>(a.v) + b * a.v_sb + hk * a.v_sh + c * 8;
#pragma unroll
  for (int ps = 0; ps < kVGroup / RPP; ++ps) {
    const int kl = ps * RPP + r0;  // key inside the group
    const int key = kg * kVGroup + kl;
    float x[8];
    if (key < a.seq_kv) {
      load8<T>(base + (int64_t)key * a.v_sn, x);
#pragma unroll
      for (int i = 0; i < 8; ++i) x[i] = (x[i] - sm.mean[c * 8 + i]) * sm.inv[c * 8 + i];
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) x[i] = 0.f;  // padding keys: exact zeros (P is 0 there too)
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) sm.xs[kl][c * 8 + i] = x[i];
  }
  __syncthreads();
  // One warp per channel: e4m3 with the group's rounding errors summing to
  // about zero, every value inside the channel's [min, max].
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  for (int ch = warp; ch < D; ch += kVThreads / 32) {
    const float x2[2] = {sm.xs[lane][ch], sm.xs[lane + 32][ch]};
    uint32_t q[2];
    e4m3_round_zero_sum(x2, sm.lo[ch], sm.hi[ch], q);
#pragma unroll
    for (int i = 0; i < 2; ++i) sm.tile[ch][Order::pos(lane + 32 * i)] = static_cast<uint8_t>(q[i]);
  }
  __syncthreads();
  uint8_t* dst = a.vt + (int64_t)bhk * D * a.nk_pad + (int64_t)kg * kVGroup;
  for (int idx = threadIdx.x; idx < D * (kVGroup / 16); idx += kVThreads) {
    const int row = idx / (kVGroup / 16), ch = idx % (kVGroup / 16);
    *reinterpret_cast<uint4*>(dst + (int64_t)row * a.nk_pad + ch * 16) =
        *reinterpret_cast<const uint4*>(&sm.tile[row][ch * 16]);
  }
#endif
}

// Enqueues the V passes for p (head_dim D, element type T) on `stream`,
// buffers at w in ws; *out: their arguments (vt and vchan for the mainloop).
// p must pass validate_call and describe non-empty work.
template <typename T, int D, class Order>
af_status enqueue_v_passes(const af_attn_params* p, char* ws, const VWs& w, cudaStream_t stream, VArgs* out) {
  const int64_t bhk = static_cast<int64_t>(p->batch) * p->heads_kv;
  if (bhk > 65535) return AF_ERR_UNSUPPORTED;  // grid.y
  VArgs& va = *out;
  va = VArgs{};
  va.v = static_cast<const char*>(p->v.data);
  va.v_sb = p->v.stride_b; va.v_sh = p->v.stride_h; va.v_sn = p->v.stride_n;
  va.vpart = reinterpret_cast<float*>(ws + w.vpart);
  va.vchan = reinterpret_cast<float*>(ws + w.vchan);
  va.vt = reinterpret_cast<uint8_t*>(ws + w.vt);
  va.hkv = p->heads_kv;
  va.seq_kv = p->seq_kv;
  va.splits = w.splits;
  va.nk_pad = w.nk_pad;
  if (p->seq_kv == 0) return AF_OK;
  vstats_kernel<T, D><<<dim3(w.splits, static_cast<unsigned>(bhk)), kVThreads, 0, stream>>>(va);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return cuda_fail(e);
  vquant_kernel<T, D, Order><<<dim3(w.nk_pad / kVGroup, static_cast<unsigned>(bhk)), kVThreads, 0, stream>>>(va);
  e = cudaGetLastError();
  if (e != cudaSuccess) return cuda_fail(e);
  return AF_OK;
}

}  // namespace
}  // namespace af
