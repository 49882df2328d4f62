// attnfarm private: the V statistics pass and the e4m3 rounding of V shared
// by the FP8 P.V kernels (attn_int8fp8.cu, attn_fp8_sm90a.cu). Device code only.
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

}  // namespace af
