// attnfarm kernels: INT8-QK + FP8 (e4m3) P.V attention forward with
// mma.sync.m16n8k32 (sm_89 and newer: Ada, Hopper, Blackwell).
//
//   1-3. Q and K: the passes of attn_int8.cu (af_int8_qk.h): K smoothed by its
//        mean, per-channel range migration, int8 with per-block scales.
//   4-5. V (af_fp8.cuh): per (batch, kv head) and channel, over token splits:
//                       sum / max / min of V; then
//                       mean(V) and scale = max|V - mean| / 448 per channel;
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

constexpr int kShift = 8;            // p = 2^(s - m + kShift)
constexpr int kRescale = 0;          // the running max is exact

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

// d = the 64-key product of A (two 32-key chunks a[0], a[1]) and B (b0, b1
// for keys 0-31, b2, b3 for 32-63), from zero.
__device__ __forceinline__ void mma_e4m3_64(float (&d)[4], const uint32_t (&a)[2][4], uint32_t b0, uint32_t b1,
                                            uint32_t b2, uint32_t b3) {
  mma_e4m3_z(d, a[0], b0, b1);
  mma_e4m3(d, a[1], b2, b3);
}

// Position of key k (0..15) inside its 16-key group of V^T (see the header).
__host__ __device__ constexpr int vt_pos(int k) {
  return k < 8 ? 4 * (k >> 1) + (k & 1) : 4 * ((k - 8) >> 1) + 2 + (k & 1);
}

// V^T order of af_fp8.cuh's quantisation pass: key k of a 64-key group at
// vt_pos inside its 16-key group.
struct VtOrder {
  __device__ __forceinline__ static int pos(int kl) { return (kl & ~15) + vt_pos(kl & 15); }
};

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

  const RowBlock rb = row_block<BM, BN>(a);
  const int bh = rb.bh, b = rb.b, h = rb.h, hk = rb.hk, m0 = rb.m0, off = rb.off, n_tiles = rb.n_tiles;
  const int bhk = b * a.hkv + hk;

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
  int8_q_scales<MT>(qmul, a, bh, m0, warp);

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

    const float kmul = int8_k_scale(a, bhk, n0);

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

      const bool need_mask = (n0 + BN > a.seq_kv) || (a.causal && n0 + BN - 1 > wrow0 + off);
      if (need_mask) mask_scores<C>(acc, a, n0, wrow0, off, g, tq);
      softmax_tile<C, kShift, kRescale>(acc, sc, need_mask, mrow, lsum, o, s);
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
        mma_e4m3_64(tl, pa[mt], kOnes, kOnes, kOnes, kOnes);
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
          mma_e4m3_64(tv, pa[mt], v0, v1, v2, v3);
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

// The workspace: the Q/K passes' buffers, then the V passes'.
inline VWs f8_layout(const af_attn_params* p) { return v_workspace(p, int8_qk_workspace_bytes(p), kVGroup); }

template <class C>
af_status launch_f8(const Fp8Args& args, cudaStream_t stream) {
  Fp8Args a = args;
  return launch_rows<C, Fp8Args>(fp8_fwd_kernel<C>, a, a.f, stream);
}

template <typename T, int D>
af_status run(const af_attn_params* p, char* ws, const VWs& w, cudaStream_t stream) {
  Int8Qk qk{};
  af_status st = int8_qk_quantize(p, ws, stream, &qk);
  if (st != AF_OK) return st;
  VArgs va{};
  st = enqueue_v_passes<T, D, VtOrder>(p, ws, w, stream, &va);
  if (st != AF_OK) return st;

  Fp8Args a{};
  a.f = int8_fwd_args(p, qk);
  a.vt = va.vt;
  a.vchan = va.vchan;
  a.nk_pad = va.nk_pad;
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
  return af::workspace_bytes_of(p, af::f8_layout);
}

extern "C" af_status af_attn_int8fp8_fwd(const af_attn_params* p, void* workspace,
                                         size_t workspace_bytes, cudaStream_t stream) {
  return af::with_workspace(p, workspace, workspace_bytes, af::f8_layout, [&](char* ws, const af::VWs& w) {
    const af_status st = af::device_has_fp8_mma();
    if (st != AF_OK) return st;
    return af::dispatch_dtype_dim(p, [&](auto t, auto d) {
      return af::run<typename decltype(t)::type, decltype(d)::value>(p, ws, w, stream);
    });
  });
}
