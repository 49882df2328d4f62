// attnfarm kernels: INT8-QK + FP8 (e4m3) P.V attention forward with
// mma.sync.m16n8k32 (sm_89 and newer: Ada, Hopper, Blackwell).
//
//   1-3. Q and K: the passes of attn_int8.cu (af_int8_qk.h): K smoothed by its
//        mean, per-channel range migration, int8 with per-block scales.
//   4. vstats_kernel:   per (batch, kv head) and channel, over token splits:
//                       sum / max / min of V.
//   5. vquant_kernel:   mean(V) and scale = max|V - mean| / 448 per channel;
//                       (V - mean) / scale -> e4m3 (zero-sum rounding per
//                       64 keys, af_fp8.cuh), written transposed
//                       ([channel][key], keys padded to 64 with zeros and
//                       permuted inside each group of 16, see below).
//   6. fp8_fwd_kernel:  int8 mma for Q.K^T, fp32 online softmax (exp2), P
//                       rounded to e4m3 and P.(V - mean) with the e4m3 mma.
//                       The epilogue folds the scales back in:
//                       O = (P.Vq / P.1) * scale + mean (rows of P sum to 1).
//
// Two-level accumulation: the e4m3 mma accumulates with fewer bits than fp32
// (about 22 on Ada and Hopper), so each 64-key tile's P.V is summed in a
// fresh register quad (two m16n8k32 products, starting from zero) and only
// then added to the fp32 output accumulator with ordinary FADDs: no partial
// sum of more than 64 keys ever lives in the tensor-core accumulator.
//
// P is scaled by 2^kShift (and the running max moves when a row's tile max
// exceeds it by more than kRescale, log2 units), so p <= 2^(kShift+kRescale)
// = 256 < 448 (e4m3 max) and weights down to 2^-17 of the row max stay
// representable (e4m3 subnormals end at 2^-9). kRescale = 0 (the exact
// running max) puts each new row max at exactly 256, which e4m3 holds with
// no error; the lazy max (kShift 6, kRescale 2) measured 2.7e-5 lower CosSim
// on N(0,1) in kernels/notes/fp8_emulate.py. The row sum is the tensor-core
// product P.1 of the same rounded P, so each output is a convex combination
// of the quantised V rows.
//
// Fragment permutation: the m16n8k32 A operand gives a thread keys
// 4t..4t+3 (t = lane % 4) of each 16-key half, while the int8 Q.K^T
// accumulator gives it keys 2t, 2t+1, 8+2t, 9+2t. Instead of shuffling P
// between lanes, V^T is stored with its keys permuted the same way inside
// every group of 16 (logical position 4t+i holds key 2t+i for i < 2 and
// 8+2t+i-2 otherwise), which leaves the dot product unchanged.
//
// Every object of this file is compiled for every arch of the build; the
// e4m3 instructions exist from sm_89, so on older arches the kernels are
// compiled as traps and af_attn_int8fp8_fwd refuses those devices at run time
// (AF_ERR_UNSUPPORTED) before any launch.
#include "attnfarm/kernels.h"
#include "af_host.h"
#include "af_fp8.cuh"
#include "af_int8_qk.h"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
#define AF_FP8_MMA 1
#else
#define AF_FP8_MMA 0
#endif
#if defined(__CUDA_ARCH__) && !AF_FP8_MMA
#pragma nv_diag_suppress 177  // helpers and constants unused where the kernels are traps
#endif

#ifndef AF_F8_128_CFG
#define AF_F8_128_CFG 4, 2, false, 2  // NWARPS, MT, QREG, MINB (BN is 64)
#endif
#ifndef AF_F8_64_CFG
#define AF_F8_64_CFG 4, 2, true, 2
#endif

namespace af {
namespace {

constexpr int kVThreads = 256;
constexpr int kVGroup = 64;          // keys per V quantisation CTA = keys per tile
constexpr float kFp8Max = 448.f;     // largest finite e4m3
constexpr float kVMinAmax = 1e-20f;  // floor of a channel's max |V - mean|
constexpr float kShift = 8.f;        // p = 2^(s - m + kShift)
constexpr float kRescale = 0.f;

static_assert(kVGroup == kKGroup, "one K scale and one V tile per 64 keys");

// ---- fp8 PTX (sm_89+) -------------------------------------------------------

// 4 floats -> 4 e4m3 bytes (x0 in the lowest byte), round to nearest, saturating.
__device__ __forceinline__ uint32_t pack_e4m3x4(float x0, float x1, float x2, float x3) {
#if AF_FP8_MMA
  uint16_t lo, hi;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(lo) : "f"(x1), "f"(x0));
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(hi) : "f"(x3), "f"(x2));
  return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
#else
  return 0u;
#endif
}

// d = A*B (c = 0), m16n8k32 e4m3 x e4m3 -> f32.
__device__ __forceinline__ void mma_e4m3_z(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                           uint32_t b1) {
#if AF_FP8_MMA
  const float z = 0.f;
  asm("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%10,%10,%10,%10};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(z));
#endif
}

// d = A*B + d, m16n8k32 e4m3 x e4m3 -> f32.
__device__ __forceinline__ void mma_e4m3(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
#if AF_FP8_MMA
  asm("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Position of key k (0..15) inside its 16-key group of V^T (see the header).
__host__ __device__ constexpr int vt_pos(int k) {
  return k < 8 ? 4 * (k >> 1) + (k & 1) : 4 * ((k - 8) >> 1) + 2 + (k & 1);
}

// ---- V quantisation ---------------------------------------------------------

struct VArgs {
  const char* v;
  int64_t v_sb, v_sh, v_sn;  // element strides
  float* vpart;              // [b*hkv][splits][3][D]: sum, max, min
  float* vchan;              // [b*hkv][2][D]: mean, scale
  uint8_t* vt;               // [b*hkv][D][nk_pad] e4m3
  int hkv, seq_kv, splits, nk_pad;
};

// grid (splits, b*hkv): per-channel sum / max / min of V over a token split.
template <typename T, int D>
__global__ void __launch_bounds__(kVThreads) vstats_kernel(const VArgs a) {
  __shared__ float red[3][kVStatRows<D, kVThreads>][D + 4];
  v_split_stats<T, D, kVThreads>(a, red);
}

// grid (nk_pad / 64, b*hkv): 64 keys of one kv head -> e4m3 V^T columns.
template <typename T, int D>
__global__ void __launch_bounds__(kVThreads) vquant_kernel(const VArgs a) {
#if AF_FP8_MMA
  constexpr int CPR = D / 8;
  constexpr int RPP = kVThreads / CPR;
  constexpr int TROW = kVGroup + 16;  // bytes per smem row (16-byte aligned, fewer conflicts)
  __shared__ float s_mean[D], s_inv[D], s_hi[D], s_lo[D];
  __shared__ float xs[kVGroup][D + 1];  // (V - mean) * 448 / amax of the group's keys
  __shared__ __align__(16) uint8_t tile[D][TROW];
  const int kg = blockIdx.x, bhk = blockIdx.y;
  const int b = bhk / a.hkv, hk = bhk % a.hkv;
  for (int ch = threadIdx.x; ch < D; ch += kVThreads) {
    float sum, mx, mn;
    v_channel_stats<D>(a.vpart, a.splits, bhk, ch, sum, mx, mn);
    const float mean = sum / static_cast<float>(a.seq_kv);
    const float amax = fmaxf(fmaxf(mx - mean, mean - mn), kVMinAmax);
    const float inv = kFp8Max / amax;
    s_mean[ch] = mean;
    s_inv[ch] = inv;
    s_hi[ch] = (mx - mean) * inv;  // the column's extremes, computed as its elements are
    s_lo[ch] = (mn - mean) * inv;
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
      for (int i = 0; i < 8; ++i) x[i] = (x[i] - s_mean[c * 8 + i]) * s_inv[c * 8 + i];
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) x[i] = 0.f;  // padding keys: exact zeros (P is 0 there too)
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) xs[kl][c * 8 + i] = x[i];
  }
  __syncthreads();
  // One warp per channel: e4m3 with the group's rounding errors summing to
  // about zero, every value inside the channel's [min, max] (af_fp8.cuh).
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  for (int ch = warp; ch < D; ch += kVThreads / 32) {
    const float x2[2] = {xs[lane][ch], xs[lane + 32][ch]};
    uint32_t q[2];
    e4m3_round_zero_sum(x2, s_lo[ch], s_hi[ch], q);
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int kl = lane + 32 * i;
      tile[ch][(kl & ~15) + vt_pos(kl & 15)] = static_cast<uint8_t>(q[i]);
    }
  }
  __syncthreads();
  uint8_t* dst = a.vt + (int64_t)bhk * D * a.nk_pad + (int64_t)kg * kVGroup;
  for (int idx = threadIdx.x; idx < D * (kVGroup / 16); idx += kVThreads) {
    const int row = idx / (kVGroup / 16), ch = idx % (kVGroup / 16);
    *reinterpret_cast<uint4*>(dst + (int64_t)row * a.nk_pad + ch * 16) =
        *reinterpret_cast<const uint4*>(&tile[row][ch * 16]);
  }
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

// ---- attention mainloop -----------------------------------------------------

struct Fp8Args {
  FwdArgs f;            // int8 Q/K exactly as for the int8 mainloop; f.v unused
  const uint8_t* vt;    // [b*hkv][D][nk_pad] e4m3
  const float* vchan;   // [b*hkv][2][D]: mean, scale
  int nk_pad;
};

template <typename T_, int D_, int NWARPS_, int MT_, bool QREG_, int MINB_>
struct Fp8Cfg {
  using T = T_;
  static constexpr int D = D_;
  static constexpr int NWARPS = NWARPS_;
  static constexpr int MT = MT_;
  static constexpr int BN = kVGroup;
  static constexpr bool QREG = QREG_;
  static constexpr int MINB = MINB_;
  static constexpr int NT = NWARPS * 32;
  static constexpr int BM = 16 * MT * NWARPS;
  static constexpr int QROW = D;            // int8 Q/K row bytes
  static constexpr int VTROW = BN;          // e4m3 V^T row bytes (one channel)
  static constexpr int OROW = D * 2;        // fp16/bf16 output row bytes
  static constexpr int KSTEPS = QROW / 32;
  static constexpr int NTILE = BN / 8;
  static constexpr int DTILE = D / 8;
  static constexpr int Q_BYTES = BM * QROW;
  static constexpr int K_BYTES = BN * QROW;
  static constexpr int V_BYTES = D * VTROW;
  static constexpr int SMEM = Q_BYTES + 2 * K_BYTES + 2 * V_BYTES;
  static_assert(D == 64 || D == 128, "head_dim");
  static_assert(BM * OROW <= SMEM, "epilogue staging must fit");
};

template <class C>
__global__ void __launch_bounds__(C::NT, C::MINB) fp8_fwd_kernel(const Fp8Args A) {
#if AF_FP8_MMA
  using T = typename C::T;
  using H = Half16<T>;
  constexpr int BM = C::BM, BN = C::BN, D = C::D, MT = C::MT, NT = C::NT;
  constexpr int QROW = C::QROW, VTROW = C::VTROW, OROW = C::OROW;
  const FwdArgs& a = A.f;

  extern __shared__ __align__(128) char smem[];

  const int tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;

  int mb = blockIdx.x % a.m_blocks;
  const int bh = blockIdx.x / a.m_blocks;
  if (a.causal) mb = a.m_blocks - 1 - mb;  // longest rows first
  const int h = bh % a.hq, b = bh / a.hq;
  const int hk = h / a.group;
  const int bhk = b * a.hkv + hk;
  const int m0 = mb * BM;
  const int off = a.seq_kv - a.seq_q;

  int n_end = a.seq_kv;
  if (a.causal) n_end = min(n_end, m0 + BM + off);
  const int n_tiles = n_end > 0 ? (n_end + BN - 1) / BN : 0;

  const char* qg = a.q + b * a.q_sb + h * a.q_sh + (int64_t)m0 * a.q_sn;
  const char* kg = a.k + b * a.k_sb + hk * a.k_sh;
  const char* vtg = reinterpret_cast<const char*>(A.vt) + (int64_t)bhk * D * A.nk_pad;

  const uint32_t sQ = smem_addr(smem);
  const uint32_t sK = sQ + C::Q_BYTES;
  const uint32_t sV = sK + 2 * C::K_BYTES;

  load_tile<BM, QROW, NT>(sQ, qg, a.q_sn, a.seq_q - m0, tid);
  cp_async_commit();
  if (n_tiles > 0) load_tile<BN, QROW, NT>(sK, kg, a.k_sn, a.seq_kv, tid);
  cp_async_commit();
  if (n_tiles > 0) load_tile<D, VTROW, NT>(sV, vtg, A.nk_pad, D, tid);
  cp_async_commit();

  const QkLanes ql = qk_lanes(lane);
  const int v_lrow = lane & 7, v_lchunk = lane >> 3;  // V^T: 8 channels x 4 chunks of 16 keys

  const int wrow0 = m0 + warp * MT * 16;
  const int wrow_last = wrow0 + MT * 16 - 1;

  float qmul[MT];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    const int gi = (m0 >> 4) + warp * MT + mt;
    qmul[mt] = gi < a.q_groups ? __ldg(a.q_scale + (int64_t)bh * a.q_groups + gi) : 1.f;
  }

  QFrags<C> qf;
  load_q_frags<C>(qf, sQ, warp, ql);

  float o[MT][C::DTILE][4];
  float mrow[MT][2], lsum[MT][4];
  init_softmax_state<C>(o, mrow, lsum);

  const bool warp_has_rows = wrow0 < a.seq_q;

  for (int t = 0; t < n_tiles; ++t) {
    const int n0 = t * BN;
    const int stage = t & 1;
    const uint32_t sKt = sK + stage * C::K_BYTES;
    const uint32_t sVt = sV + stage * C::V_BYTES;

    const int kgi = n0 / kKGroup;
    const float kmul = __ldg(a.k_scale + (int64_t)bhk * a.k_groups + kgi);

    cp_async_wait<1>();  // K[t] landed (V[t] may be in flight)
    __syncthreads();     // ... for every thread; and everyone is done with K[t-1]
    if (t + 1 < n_tiles)
      load_tile<BN, QROW, NT>(sK + (stage ^ 1) * C::K_BYTES, kg + (int64_t)(n0 + BN) * a.k_sn,
                              a.k_sn, a.seq_kv - n0 - BN, tid);
    cp_async_commit();

    const bool active = warp_has_rows && (!a.causal || n0 <= wrow_last + off);

    float s[MT][C::NTILE][4];
    if (active) {
      int acc[MT][C::NTILE][4];
      uint32_t qa[MT][4];  // scratch: one k-step's Q fragments
      qk_product<C, true>(acc, qf, sQ, sKt, warp, ql, qa);

      float sc[MT];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) sc[mt] = qmul[mt] * kmul;

      // Masked scores get a sentinel far below any real int32 product
      // (|acc| <= 127*127*128 < 2^21); their p are zeroed after the exponent.
      constexpr int kMaskedI = -(1 << 30);
      const bool need_mask = (n0 + BN > a.seq_kv) || (a.causal && n0 + BN - 1 > wrow0 + off);
      if (need_mask) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int j = 0; j < C::NTILE; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int col = n0 + j * 8 + tq * 2 + (e & 1);
              const int row = wrow0 + mt * 16 + g + (e >> 1) * 8;
              if (col >= a.seq_kv || (a.causal && col > row + off)) acc[mt][j][e] = kMaskedI;
            }
      }

      float mnew[MT][2];
      bool any_move = false;
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          int tm[C::NTILE];  // scratch
          const int mi = int8_row_max<C::NTILE>(acc[mt], hr, tm);
          const float mx = mi == kMaskedI ? -INFINITY : static_cast<float>(mi) * sc[mt];
          const bool move = mx > mrow[mt][hr] + kRescale;  // also: first key seen
          mnew[mt][hr] = move ? mx : mrow[mt][hr];
          any_move |= move;
        }
      rescale_rows<C>(any_move, mnew, mrow, lsum, o);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          // No key seen yet: every p of this row is masked (forced to 0 below).
          const float nm = mrow[mt][hr] == -INFINITY ? 0.f : kShift - mrow[mt][hr];
          // acc + 0x4B400000 read as fp32 is 1.5*2^23 + acc exactly (one IADD, one FFMA).
          const float bias = fmaf(-12582912.0f, sc[mt], nm);
#pragma unroll
          for (int j = 0; j < C::NTILE; ++j)
#pragma unroll
            for (int e = 2 * hr; e < 2 * hr + 2; ++e) {
              float p = fast_exp2(fmaf(__int_as_float(acc[mt][j][e] + 0x4B400000), sc[mt], bias));
              if (need_mask && acc[mt][j][e] == kMaskedI) p = 0.f;
              s[mt][j][e] = p;
            }
        }
    }

    cp_async_wait<1>();  // V[t] landed
    __syncthreads();     // ... for every thread; and everyone is done with V[t-1]
    if (t + 1 < n_tiles)
      load_tile<D, VTROW, NT>(sV + (stage ^ 1) * C::V_BYTES, vtg + n0 + BN, A.nk_pad, D, tid);
    cp_async_commit();

    if (active) {
      // P -> e4m3 A fragments, one per 32-key chunk (see the permutation note).
      uint32_t pa[MT][2][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int kc = 0; kc < 2; ++kc) {
          const int j0 = 4 * kc;
          pa[mt][kc][0] = pack_e4m3x4(s[mt][j0][0], s[mt][j0][1], s[mt][j0 + 1][0], s[mt][j0 + 1][1]);
          pa[mt][kc][1] = pack_e4m3x4(s[mt][j0][2], s[mt][j0][3], s[mt][j0 + 1][2], s[mt][j0 + 1][3]);
          pa[mt][kc][2] = pack_e4m3x4(s[mt][j0 + 2][0], s[mt][j0 + 2][1], s[mt][j0 + 3][0], s[mt][j0 + 3][1]);
          pa[mt][kc][3] = pack_e4m3x4(s[mt][j0 + 2][2], s[mt][j0 + 2][3], s[mt][j0 + 3][2], s[mt][j0 + 3][3]);
        }
      constexpr uint32_t kOnes = 0x38383838u;  // four e4m3 1.0
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        float tl[4];
        mma_e4m3_z(tl, pa[mt][0], kOnes, kOnes);
        mma_e4m3(tl, pa[mt][1], kOnes, kOnes);
#pragma unroll
        for (int i = 0; i < 4; ++i) lsum[mt][i] += tl[i];
      }
#pragma unroll
      for (int n = 0; n < C::DTILE; ++n) {
        uint32_t v0, v1, v2, v3;  // keys 0-15, 16-31 (chunk 0), 32-47, 48-63 (chunk 1)
        ldsm_x4(v0, v1, v2, v3, sVt + swz<VTROW>(n * 8 + v_lrow, v_lchunk));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          float tv[4];
          mma_e4m3_z(tv, pa[mt][0], v0, v1);
          mma_e4m3(tv, pa[mt][1], v2, v3);
#pragma unroll
          for (int i = 0; i < 4; ++i) o[mt][n][i] += tv[i];  // flush to fp32 every 64 keys
        }
      }
    }
  }

  // Epilogue: O = o / l * scale + mean, optional LSE, staged through smem.
  cp_async_wait<0>();
  __syncthreads();
  const float* vmean = A.vchan + (int64_t)bhk * 2 * D;
  const float* vscale = vmean + D;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const float l = lsum[mt][2 * hr];
      const bool seen = l > 0.f;
      const float inv = seen ? 1.f / l : 0.f;
      const int lrow_local = (warp * MT + mt) * 16 + g + hr * 8;
      const int row = m0 + lrow_local;
      if (a.lse != nullptr && tq == 0 && row < a.seq_q) {
        float v = -INFINITY;
        if (seen) v = (mrow[mt][hr] - kShift + __log2f(l)) * 0.69314718055994531f +
                      a.lse_bias[(int64_t)bh * a.seq_q + row];
        a.lse[(int64_t)bh * a.seq_q + row] = v;
      }
#pragma unroll
      for (int j = 0; j < C::DTILE; ++j) {
        const int col = j * 8 + tq * 2;
        float2 mu = make_float2(0.f, 0.f), sf = make_float2(0.f, 0.f);
        if (seen) {
          mu = *reinterpret_cast<const float2*>(vmean + col);
          sf = *reinterpret_cast<const float2*>(vscale + col);
        }
        const uint32_t u = H::pack(fmaf(o[mt][j][2 * hr] * inv, sf.x, mu.x),
                                   fmaf(o[mt][j][2 * hr + 1] * inv, sf.y, mu.y));
        *reinterpret_cast<uint32_t*>(smem + swz<OROW>(lrow_local, j) + tq * 4) = u;
      }
    }
  __syncthreads();
  store_o_tile<BM, OROW, NT>(smem, a, b, h, m0, tid);
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

// ---- host -------------------------------------------------------------------

template <typename T, int D>
using F8Cfg = PerHeadDim<D, Fp8Cfg<T, 128, AF_F8_128_CFG>, Fp8Cfg<T, 64, AF_F8_64_CFG>>;

struct F8Ws {
  size_t vpart, vchan, vt, total;
  int splits, nk_pad;
};

inline size_t align256(size_t x) { return (x + 255) & ~size_t(255); }

inline F8Ws f8_layout(const af_attn_params* p) {
  F8Ws w{};
  const size_t BHK = static_cast<size_t>(p->batch) * p->heads_kv, D = p->head_dim;
  const int64_t bhk = static_cast<int64_t>(p->batch) * p->heads_kv;
  int64_t splits = bhk > 0 ? (512 + bhk - 1) / bhk : 1;  // enough CTAs for a large GPU
  const int64_t by_rows = (static_cast<int64_t>(p->seq_kv) + 255) / 256;
  if (splits > by_rows) splits = by_rows;
  if (splits > 32) splits = 32;
  if (splits < 1) splits = 1;
  w.splits = static_cast<int>(splits);
  w.nk_pad = (p->seq_kv + kVGroup - 1) / kVGroup * kVGroup;
  size_t o = align256(int8_qk_workspace_bytes(p));
  w.vpart = o; o = align256(o + sizeof(float) * 3 * splits * BHK * D);
  w.vchan = o; o = align256(o + sizeof(float) * 2 * BHK * D);
  w.vt = o;    o = align256(o + BHK * D * static_cast<size_t>(w.nk_pad));
  w.total = o;
  return w;
}

template <class C>
af_status launch_f8(const Fp8Args& args, cudaStream_t stream) {
  Fp8Args a = args;
  return launch_rows<C, Fp8Args>(fp8_fwd_kernel<C>, a, a.f, stream);
}

template <typename T, int D>
af_status run(const af_attn_params* p, char* ws, const F8Ws& w, cudaStream_t stream) {
  const int64_t bhk = static_cast<int64_t>(p->batch) * p->heads_kv;
  if (bhk > 65535) return AF_ERR_UNSUPPORTED;  // grid.y of the V passes
  Int8Qk qk{};
  af_status st = int8_qk_quantize(p, ws, stream, &qk);
  if (st != AF_OK) return st;

  VArgs va{};
  va.v = static_cast<const char*>(p->v.data);
  va.v_sb = p->v.stride_b; va.v_sh = p->v.stride_h; va.v_sn = p->v.stride_n;
  va.vpart = reinterpret_cast<float*>(ws + w.vpart);
  va.vchan = reinterpret_cast<float*>(ws + w.vchan);
  va.vt = reinterpret_cast<uint8_t*>(ws + w.vt);
  va.hkv = p->heads_kv;
  va.seq_kv = p->seq_kv;
  va.splits = w.splits;
  va.nk_pad = w.nk_pad;
  if (p->seq_kv > 0) {
    vstats_kernel<T, D><<<dim3(w.splits, static_cast<unsigned>(bhk)), kVThreads, 0, stream>>>(va);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e);
    vquant_kernel<T, D><<<dim3(w.nk_pad / kVGroup, static_cast<unsigned>(bhk)), kVThreads, 0, stream>>>(va);
    e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e);
  }

  Fp8Args a{};
  a.f = int8_fwd_args(p, qk);
  a.vt = va.vt;
  a.vchan = va.vchan;
  a.nk_pad = w.nk_pad;
  return launch_f8<F8Cfg<T, D>>(a, stream);
}

// The e4m3 mma exists from sm_89 (Ada) on; the kernels trap below that.
af_status device_has_fp8_mma() {
  int dev = 0, major = 0, minor = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  if (e != cudaSuccess) return cuda_fail(e);
  return major * 10 + minor >= 89 ? AF_OK : AF_ERR_UNSUPPORTED;
}

}  // namespace
}  // namespace af

extern "C" size_t af_attn_int8fp8_workspace_bytes(const af_attn_params* p) {
  if (af::validate_shape(p) != AF_OK) return 0;
  if (af::empty_work(p)) return 0;
  return af::f8_layout(p).total;
}

extern "C" af_status af_attn_int8fp8_fwd(const af_attn_params* p, void* workspace,
                                         size_t workspace_bytes, cudaStream_t stream) {
  bool empty = false;
  af_status st = af::validate_call(p, &empty);
  if (st != AF_OK || empty) return st;
  const af::F8Ws w = af::f8_layout(p);
  if (!af::workspace_ok(workspace, workspace_bytes, w.total)) return AF_ERR_INVALID;
  st = af::device_has_fp8_mma();
  if (st != AF_OK) return st;
  char* ws = static_cast<char*>(workspace);
  return af::dispatch_dtype_dim(p, [&](auto t, auto d) {
    return af::run<typename decltype(t)::type, decltype(d)::value>(p, ws, w, stream);
  });
}
