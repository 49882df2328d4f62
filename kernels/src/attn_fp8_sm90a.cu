// attnfarm kernels: INT8-QK + FP8 (e4m3) P.V attention forward for Hopper,
// sm_90a only (wgmma). Compiled as sm_90a SASS alone (the build's rule for
// `*_sm90a.cu`); on any other build target the device code is empty stubs and
// af_attn_fp8_sm90a_fwd answers AF_ERR_UNSUPPORTED.
//
//   1-3. Q/K: the INT8 passes of attn_int8.cu (int8_qk_quantize): K smoothed
//        by its mean, per-channel migration, one Q scale per 16 rows (with
//        sm_scale*log2(e)), one K scale per 64 keys.
//   4-5. V (af_fp8.cuh): per (batch, kv head, channel) mean and
//        max |V - mean| over the keys; (V - mean) / scale -> e4m3,
//        scale = max|V - mean|/448 (zero-sum rounding per 64 keys),
//        stored transposed, [b*hkv][D][Npad] (Npad = keys rounded up to 128),
//        keys permuted inside each 32-key block so that the wgmma accumulator
//        of S, converted in registers, is directly the A operand of P.V.
//   6.   fp8_wgmma_kernel: one CTA = 2 warpgroups x 64 query rows; K and V^T
//        tiles of 128 keys stream through shared memory (cp.async, double
//        buffered, 128-byte swizzle); S = Q.K^T with wgmma s8 (m64n128k32),
//        fp32 online softmax (exp2), P = 2^(s - m + 8) rounded to e4m3 in
//        registers, O_tile = P.V with wgmma e4m3 (m64n128k32, A from
//        registers) from zero for every 128-key tile, then added to the fp32
//        O (two-level accumulation: the fp8 MMA accumulates in ~22 bits).
//        Output O / l * scale_V + mean_V.
// head_dim 128 only (64 answers AF_ERR_UNSUPPORTED).
#include <cuda_fp8.h>

#include "attnfarm/kernels.h"
#include "af_host.h"
#include "af_fp8.cuh"
#include "af_int8_qk.h"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define AF_SM90A_DEVICE 1
#endif

namespace af {
namespace {

constexpr int kD = 128;
constexpr int kBM = 128;       // query rows per CTA (2 warpgroups x 64)
constexpr int kBN = 128;       // keys per tile
constexpr int kThreads = 256;
constexpr int kTile = 128 * 128;  // bytes of one K or V^T tile, of Q
constexpr int kSmem = 1024 + kTile /*Q*/ + 2 * 2 * kTile /*2 stages of K, V^T*/;

struct Fp8Args {
  const int8_t* q8;  // [b*hq][seq_q][D]
  const int8_t* k8;  // [b*hkv][seq_kv][D]
  const uint8_t* v8t;
  const float* qs;
  const float* ks;
  const float* qkm;
  const float* vchan;  // [b*hkv][2][D]: mean, scale
  char* o;
  int64_t o_sb, o_sh, o_sn;  // bytes
  float* lse;
  int batch, hq, hkv, group, seq_q, seq_kv, npad, q_groups, k_groups, m_blocks, causal;
};

// Key held by stored position `a` (0..31) of a 32-key block: the order in
// which a thread's S accumulator values form the e4m3 A fragment of P.V.
__host__ __device__ constexpr int perm32(int a) {
  return (a & 16) | (((a >> 1) & 1) << 3) | (((a >> 2) & 3) << 1) | (a & 1);
}
// Stored position of key k (0..31): the inverse of perm32.
__host__ __device__ constexpr int pos32(int k) {
  return (k & 16) | (((k >> 3) & 1) << 1) | (((k >> 1) & 3) << 2) | (k & 1);
}
constexpr bool pos32_inverts_perm32() {
  for (int a = 0; a < 32; ++a)
    if (pos32(perm32(a)) != a) return false;
  return true;
}
static_assert(pos32_inverts_perm32(), "pos32 must invert perm32");

// V^T order of af_fp8.cuh's quantisation pass: key k of each 32-key block at
// stored position pos32(k).
struct Perm32Order {
  __device__ __forceinline__ static int pos(int kl) { return (kl & ~31) | pos32(kl & 31); }
};

// ---- sm_90a device code -------------------------------------------------

#ifdef AF_SM90A_DEVICE
// D(64x128 s32) (+)= A(64x32 s8, smem) * B(128x32 s8, smem)^T.
__device__ __forceinline__ void wgmma_s8_m64n128k32(int (&d)[64], uint64_t da, uint64_t db, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, p;\n}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
      : "l"(da), "l"(db), "r"(scale_d));
}

// D(64x128 f32) (+)= A(64x32 e4m3, registers) * B(128x32 e4m3, smem)^T.
__device__ __forceinline__ void wgmma_e4m3_m64n128k32_rs(float (&d)[64], const uint32_t (&a)[4], uint64_t db,
                                                         int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, {%64,%65,%66,%67}, %68, p, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d));
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
__device__ __forceinline__ void fence_operand(int& r) { asm volatile("" : "+r"(r)::"memory"); }
__device__ __forceinline__ void fence_operand(float& r) { asm volatile("" : "+f"(r)::"memory"); }
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// Shared-memory matrix descriptor: K-major, 128-byte swizzle, 8-row groups
// 1024 bytes apart (SBO), rows of 128 bytes; `saddr` is the start address
// (tile base, 1024-aligned, plus the byte offset of the k-step in the row).
__device__ __forceinline__ uint64_t sw128_desc(uint32_t saddr) {
  uint64_t d = 0;
  d |= static_cast<uint64_t>((saddr & 0x3FFFF) >> 4);
  d |= static_cast<uint64_t>(1) << 16;            // LBO (unused for swizzled K-major)
  d |= static_cast<uint64_t>(1024 >> 4) << 32;    // SBO
  d |= static_cast<uint64_t>(1) << 62;            // 128-byte swizzle
  return d;
}

// 128 rows x 128 bytes from global (row stride `ld` bytes; rows >= `rows`
// zero-filled) into a swizzled tile; all 256 threads.
__device__ __forceinline__ void load_tile(uint32_t s_base, const uint8_t* g, int64_t ld, int rows) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int idx = threadIdx.x + i * kThreads;
    const int r = idx >> 3, c = idx & 7;
    const bool ok = r < rows;
    const uint8_t* src = g + (ok ? (int64_t)r * ld + c * 16 : 0);
    cp_async16(s_base + r * 128 + ((c ^ (r & 7)) << 4), src, ok);
  }
}

__device__ __forceinline__ uint32_t pack_e4m3x4(float a, float b, float c, float d) {
  const uint32_t lo = __nv_cvt_float2_to_fp8x2(make_float2(a, b), __NV_SATFINITE, __NV_E4M3);
  const uint32_t hi = __nv_cvt_float2_to_fp8x2(make_float2(c, d), __NV_SATFINITE, __NV_E4M3);
  return lo | (hi << 16);
}

// Sum of the four e4m3 values of a word (exact up to fp16 rounding of two sums).
__device__ __forceinline__ float sum_e4m3x4(uint32_t w) {
  const __half2 lo = __half2(__nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(w & 0xffffu), __NV_E4M3));
  const __half2 hi = __half2(__nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(w >> 16), __NV_E4M3));
  const float2 f = __half22float2(__hadd2(lo, hi));
  return f.x + f.y;
}
#endif  // AF_SM90A_DEVICE

template <typename T>
__global__ void __launch_bounds__(kThreads, 1) fp8_wgmma_kernel(const Fp8Args a) {
#ifdef AF_SM90A_DEVICE
  extern __shared__ char smem_raw[];
  const uint32_t s_raw = smem_addr(smem_raw);
  const uint32_t s_q = (s_raw + 1023) & ~1023u;
  const uint32_t s_kv = s_q + kTile;  // stage s: K at s_kv + s*2*kTile, V^T after it

  const int bh_count = a.hq * a.batch;
  const int mb_rev = blockIdx.x / bh_count;
  const int bh = blockIdx.x % bh_count;
  const int mb = a.causal ? a.m_blocks - 1 - mb_rev : mb_rev;
  const int b = bh / a.hq, h = bh % a.hq;
  const int hk = h / a.group;
  const int bhk = b * a.hkv + hk;
  const int m0 = mb * kBM;

  const int tid = threadIdx.x;
  const int wg = tid >> 7;            // warpgroup
  const int warp = (tid >> 5) & 3;    // warp in the warpgroup
  const int lane = tid & 31;
  const int qd = lane & 3, gr = lane >> 2;
  const int row0 = m0 + wg * 64 + warp * 16 + gr;  // this thread's rows: row0, row0 + 8
  const int diag = a.seq_kv - a.seq_q;             // causal: key j visible to row i iff j <= i + diag

  int n_tiles = (a.seq_kv + kBN - 1) / kBN;
  if (a.causal) {
    const int last = m0 + kBM - 1 + diag;  // last key any row of the CTA sees
    n_tiles = last < 0 ? 0 : min(n_tiles, last / kBN + 1);
  }

  const uint8_t* gq = reinterpret_cast<const uint8_t*>(a.q8) + ((int64_t)bh * a.seq_q + m0) * kD;
  const uint8_t* gk = reinterpret_cast<const uint8_t*>(a.k8) + (int64_t)bhk * a.seq_kv * kD;
  const uint8_t* gv = a.v8t + (int64_t)bhk * kD * a.npad;

  float o[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) o[i] = 0.f;
  float m_r[2] = {-INFINITY, -INFINITY}, l_r[2] = {0.f, 0.f};

  if (n_tiles > 0) {
    load_tile(s_q, gq, kD, a.seq_q - m0);
    load_tile(s_kv, gk, kD, a.seq_kv);
    load_tile(s_kv + kTile, gv, a.npad, kD);
    cp_async_commit();
  }
  const int qg = min(row0 / 16, a.q_groups - 1);
  const float qsc = a.qs[(int64_t)bh * a.q_groups + qg];

  for (int t = 0; t < n_tiles; ++t) {
    const uint32_t s_k = s_kv + (t & 1) * 2 * kTile;
    const uint32_t s_v = s_k + kTile;
    if (t + 1 < n_tiles) {
      const uint32_t n_k = s_kv + ((t + 1) & 1) * 2 * kTile;
      load_tile(n_k, gk + (int64_t)(t + 1) * kBN * kD, kD, a.seq_kv - (t + 1) * kBN);
      load_tile(n_k + kTile, gv + (t + 1) * kBN, a.npad, kD);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    fence_proxy_async();
    __syncthreads();

    // S = Q K^T (int32).
    int s[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) s[i] = 0;
#pragma unroll
    for (int i = 0; i < 64; ++i) fence_operand(s[i]);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      wgmma_s8_m64n128k32(s, sw128_desc(s_q + wg * 64 * 128 + kk * 32), sw128_desc(s_k + kk * 32), kk > 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
#pragma unroll
    for (int i = 0; i < 64; ++i) fence_operand(s[i]);

    // Dequantise into the log2 domain and mask.
    const int key0 = t * kBN;
    const int kg0 = min(2 * t, a.k_groups - 1), kg1 = min(2 * t + 1, a.k_groups - 1);
    const float sc0 = qsc * a.ks[(int64_t)bhk * a.k_groups + kg0];
    const float sc1 = qsc * a.ks[(int64_t)bhk * a.k_groups + kg1];
    const bool need_mask = key0 + kBN > a.seq_kv || (a.causal && key0 + kBN - 1 > m0 + diag);
    float sf[64];
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const float sc = j < 8 ? sc0 : sc1;
#pragma unroll
      for (int e = 0; e < 4; ++e) sf[4 * j + e] = static_cast<float>(s[4 * j + e]) * sc;
    }
    if (need_mask) {
#pragma unroll
      for (int j = 0; j < 16; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = key0 + 8 * j + 2 * qd + (e & 1);
          const int row = row0 + (e >> 1) * 8;
          bool ok = key < a.seq_kv;
          if (a.causal) ok = ok && key <= row + diag;
          if (!ok) sf[4 * j + e] = -INFINITY;
        }
    }
    // Online softmax, two rows per thread (e>>1 selects the row).
    float alpha[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < 16; ++j) mx = fmaxf(mx, fmaxf(sf[4 * j + 2 * r], sf[4 * j + 2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m_r[r], mx);
      alpha[r] = m_new == -INFINITY ? 1.f : fast_exp2(m_r[r] - m_new);
      m_r[r] = m_new;
      const float base = m_new == -INFINITY ? 0.f : m_new - 8.f;  // P <= 2^8
#pragma unroll
      for (int j = 0; j < 16; ++j) {
#pragma unroll
        for (int e = 0; e < 2; ++e) sf[4 * j + 2 * r + e] = fast_exp2(sf[4 * j + 2 * r + e] - base);
      }
    }
    // P -> e4m3 A fragments, 4 k-steps of 32 keys.
    uint32_t pa[4][4];
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      const int j0 = 4 * kk;
      pa[kk][0] = pack_e4m3x4(sf[4 * j0 + 0], sf[4 * j0 + 1], sf[4 * (j0 + 1) + 0], sf[4 * (j0 + 1) + 1]);
      pa[kk][1] = pack_e4m3x4(sf[4 * j0 + 2], sf[4 * j0 + 3], sf[4 * (j0 + 1) + 2], sf[4 * (j0 + 1) + 3]);
      pa[kk][2] = pack_e4m3x4(sf[4 * (j0 + 2) + 0], sf[4 * (j0 + 2) + 1], sf[4 * (j0 + 3) + 0], sf[4 * (j0 + 3) + 1]);
      pa[kk][3] = pack_e4m3x4(sf[4 * (j0 + 2) + 2], sf[4 * (j0 + 2) + 3], sf[4 * (j0 + 3) + 2], sf[4 * (j0 + 3) + 3]);
    }
    // Row sums of the rounded P (the one that multiplies V): each output is
    // then a convex combination of the dequantised V rows.
    {
      float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) {
        sum0 += sum_e4m3x4(pa[kk][0]) + sum_e4m3x4(pa[kk][2]);
        sum1 += sum_e4m3x4(pa[kk][1]) + sum_e4m3x4(pa[kk][3]);
      }
      l_r[0] = l_r[0] * alpha[0] + sum0;
      l_r[1] = l_r[1] * alpha[1] + sum1;
    }
    // O_tile = P V (fp32, from zero), then O = O * alpha + O_tile.
    float ot[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) ot[i] = 0.f;
#pragma unroll
    for (int i = 0; i < 64; ++i) fence_operand(ot[i]);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      wgmma_e4m3_m64n128k32_rs(ot, pa[kk], sw128_desc(s_v + kk * 32), kk > 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
#pragma unroll
    for (int i = 0; i < 64; ++i) fence_operand(ot[i]);
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[4 * j + e] = o[4 * j + e] * alpha[e >> 1] + ot[4 * j + e];
    __syncthreads();  // the stage is refilled next iteration
  }

  // Epilogue.
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = l_r[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    l_r[r] = l;
    inv[r] = l > 0.f ? 1.f / l : 0.f;
  }
  const float* vmean = a.vchan + (int64_t)bhk * 2 * kD;
  const float* vscale = vmean + kD;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = row0 + 8 * r;
    if (row >= a.seq_q) continue;
    T* orow = reinterpret_cast<T*>(a.o + b * a.o_sb + h * a.o_sh + (int64_t)row * a.o_sn);
    const bool any = l_r[r] > 0.f;
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int c = 8 * j + 2 * qd;
      const float2 ms = *reinterpret_cast<const float2*>(vmean + c);
      const float2 ss = *reinterpret_cast<const float2*>(vscale + c);
      const float x0 = any ? o[4 * j + 2 * r] * inv[r] * ss.x + ms.x : 0.f;
      const float x1 = any ? o[4 * j + 2 * r + 1] * inv[r] * ss.y + ms.y : 0.f;
      *reinterpret_cast<uint32_t*>(orow + c) = Half16<T>::pack(x0, x1);
    }
    if (a.lse != nullptr && qd == 0) {
      float v = -INFINITY;
      if (any) v = (m_r[r] - 8.f + __log2f(l_r[r])) * 0.6931471805599453f + a.qkm[(int64_t)bh * a.seq_q + row];
      a.lse[(int64_t)bh * a.seq_q + row] = v;
    }
  }
#endif
}

// The workspace: the Q/K passes' buffers, then the V passes' (keys padded
// to whole 128-key tiles).
inline VWs fp8_ws(const af_attn_params* p) { return v_workspace(p, int8_qk_workspace_bytes(p), kBN); }

template <typename T>
af_status run(const af_attn_params* p, char* ws, const VWs& w, cudaStream_t stream) {
  Int8Qk qk{};
  af_status st = int8_qk_quantize(p, ws, stream, &qk);
  if (st != AF_OK) return st;
  VArgs va{};
  st = enqueue_v_passes<T, kD, Perm32Order>(p, ws, w, stream, &va);
  if (st != AF_OK) return st;

  Fp8Args a{};
  a.q8 = qk.q8; a.k8 = qk.k8; a.v8t = va.vt;
  a.qs = qk.qs; a.ks = qk.ks; a.qkm = qk.qkm; a.vchan = va.vchan;
  a.o = static_cast<char*>(p->o.data);
  a.o_sb = p->o.stride_b * 2; a.o_sh = p->o.stride_h * 2; a.o_sn = p->o.stride_n * 2;
  a.lse = p->lse;
  a.batch = p->batch; a.hq = p->heads_q; a.hkv = p->heads_kv; a.group = p->heads_q / p->heads_kv;
  a.seq_q = p->seq_q; a.seq_kv = p->seq_kv; a.npad = va.nk_pad;
  a.q_groups = qk.q_groups; a.k_groups = qk.k_groups;
  a.causal = p->causal;
  const int64_t m_blocks = (p->seq_q + kBM - 1) / kBM;
  const int64_t grid = m_blocks * p->heads_q * p->batch;
  if (grid > INT_MAX) return AF_ERR_UNSUPPORTED;
  a.m_blocks = static_cast<int>(m_blocks);
  auto kern = fp8_wgmma_kernel<T>;
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
  if (e != cudaSuccess) return cuda_fail(e);
  kern<<<static_cast<unsigned>(grid), kThreads, kSmem, stream>>>(a);
  e = cudaGetLastError();
  if (e != cudaSuccess) return cuda_fail(e);
  return AF_OK;
}

}  // namespace
}  // namespace af

extern "C" int af_attn_fp8_sm90a_available(int device) {
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  if (major != 9 || minor != 0) return 0;
  // The build must have put sm_90a code for this kernel in the library.
  cudaFuncAttributes attr;
  if (cudaFuncGetAttributes(&attr, af::fp8_wgmma_kernel<__half>) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return attr.binaryVersion == 90 ? 1 : 0;
}

extern "C" size_t af_attn_fp8_sm90a_workspace_bytes(const af_attn_params* p) {
  if (af::validate_shape(p) != AF_OK) return 0;
  if (af::empty_work(p) || p->seq_kv == 0 || p->head_dim != 128) return 0;
  return af::fp8_ws(p).end;
}

extern "C" af_status af_attn_fp8_sm90a_fwd(const af_attn_params* p, void* workspace, size_t workspace_bytes,
                                           cudaStream_t stream) {
  bool empty = false;
  af_status st = af::validate_call(p, &empty);
  if (st != AF_OK || empty) return st;
  if (p->head_dim != 128 || p->seq_kv == 0) return AF_ERR_UNSUPPORTED;
  if (static_cast<int64_t>(p->batch) * p->heads_kv > 65535) return AF_ERR_UNSUPPORTED;
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return af::cuda_fail(cudaGetLastError());
  if (!af_attn_fp8_sm90a_available(dev)) return AF_ERR_UNSUPPORTED;
  const af::VWs w = af::fp8_ws(p);
  if (!af::workspace_ok(workspace, workspace_bytes, w.end)) return AF_ERR_INVALID;
  char* ws = static_cast<char*>(workspace);
  if (p->dtype == AF_BF16) return af::run<__nv_bfloat16>(p, ws, w, stream);
  return af::run<__half>(p, ws, w, stream);
}
