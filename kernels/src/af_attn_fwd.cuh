// attnfarm private: the one attention-forward mainloop shared by the exact
// (fp16/bf16 QK^T) and the INT8-QK kernels.
//
// A CTA owns BM = 16*MT*NWARPS query rows of one (batch, q-head); each warp
// owns MT m16 tiles (16*MT consecutive rows). K/V tiles of BN keys stream
// through shared memory with cp.async, double buffered (K[t+1] loads while
// S = Q.K[t]^T and the softmax run, V[t+1] while O += P.V[t]). Fragments come
// from ldmatrix (.trans for V), products from mma.sync with fp32 (or int32)
// accumulation, and the softmax is online, in fp32, in the log2 domain.
//
// QK policy (the INT8 flag): Q and K tiles hold either 16-bit elements or
// int8. A k-step of the QK^T product covers 32 bytes of a row in both cases
// (m16n8k16 for 16-bit, m16n8k32 for int8), so the shared-memory layout,
// ldmatrix addressing and fragment registers are identical; only the mma and
// the dequantisation of the accumulator differ.
#pragma once

#include <math.h>
#include <stdint.h>

#include <type_traits>

#include "af_ptx.cuh"

namespace af {

struct FwdArgs {
  const char* q;
  const char* k;
  const char* v;
  char* o;
  // strides in bytes
  int64_t q_sb, q_sh, q_sn;
  int64_t k_sb, k_sh, k_sn;
  int64_t v_sb, v_sh, v_sn;
  int64_t o_sb, o_sh, o_sn;
  float* lse;              // optional, contiguous [batch, hq, seq_q]
  // INT8 only
  const float* q_scale;    // [batch*hq][q_groups]: scale of 16 q rows, times sm_scale*log2(e)
  const float* k_scale;    // [batch*hkv][k_groups]: scale of 64 keys
  const float* lse_bias;   // [batch*hq*seq_q]: sm_scale * q . mean(k) (natural log units)
  int q_groups, k_groups;
  int batch, hq, hkv, group, seq_q, seq_kv;
  int m_blocks;
  int causal;
  float scale_log2;        // exact only: sm_scale * log2(e)
};

#ifndef AF_ONE_SYNC
#define AF_ONE_SYNC 0
#endif

constexpr int kQGroup = 16;  // INT8: rows of Q sharing one scale (one m16 tile)
constexpr int kKGroup = 64;  // INT8: keys sharing one scale

template <typename T_, int D_, int NWARPS_, int MT_, int BN_, bool QREG_, int MINB_, bool INT8_>
struct FwdCfg {
  using T = T_;
  static constexpr int D = D_;
  static constexpr int NWARPS = NWARPS_;
  static constexpr int MT = MT_;
  static constexpr int BN = BN_;
  static constexpr bool QREG = QREG_;  // keep the Q fragments in registers
  static constexpr int MINB = MINB_;
  static constexpr bool INT8 = INT8_;

  static constexpr int NT = NWARPS * 32;
  static constexpr int BM = 16 * MT * NWARPS;
  static constexpr int QK_ELEM = INT8 ? 1 : 2;
  static constexpr int QROW = D * QK_ELEM;  // bytes of one Q/K row in smem
  static constexpr int VROW = D * 2;        // bytes of one V/O row
  static constexpr int KSTEPS = QROW / 32;  // QK^T k-steps
  static constexpr int NTILE = BN / 8;      // n8 tiles of S
  static constexpr int DTILE = D / 8;       // n8 tiles of O
  static constexpr int Q_BYTES = BM * QROW;
  static constexpr int K_BYTES = BN * QROW;
  static constexpr int V_BYTES = BN * VROW;
  static constexpr int SMEM = Q_BYTES + 2 * K_BYTES + 2 * V_BYTES;
  static constexpr int O_BYTES = BM * VROW;  // epilogue staging, reuses smem from 0

  static_assert(D == 64 || D == 128, "head_dim");
  static_assert(BN % 16 == 0, "BN");
  static_assert(!INT8 || kKGroup % BN == 0, "one k scale per tile");
  static_assert(O_BYTES <= SMEM, "epilogue staging must fit");
};

// Copy a ROWS x ROW_BYTES tile (rows row_stride bytes apart) into swizzled
// smem; rows >= rows_valid are zero-filled and not read.
template <int ROWS, int ROW_BYTES, int NT>
__device__ __forceinline__ void load_tile(uint32_t sbase, const char* g, int64_t row_stride,
                                          int rows_valid, int tid) {
  constexpr int CPR = ROW_BYTES / 16;
  constexpr int CHUNKS = ROWS * CPR;
  static_assert(NT % CPR == 0, "threads vs chunks per row");
  constexpr int RSTEP = NT / CPR;
  constexpr int ITERS = (CHUNKS + NT - 1) / NT;
  const int c = tid % CPR;
  const int r0 = tid / CPR;
  const char* src = g + c * 16 + r0 * row_stride;
#pragma unroll
  for (int it = 0; it < ITERS; ++it) {
    const int r = r0 + it * RSTEP;
    if (CHUNKS % NT == 0 || r < ROWS) {
      const bool ok = r < rows_valid;
      cp_async16(sbase + swz<ROW_BYTES>(r, c), ok ? src : g, ok);
    }
    src += RSTEP * row_stride;
  }
}

// ---- mainloop pieces shared with the FP8 P.V kernel (attn_int8fp8.cu) ------
// C is a tile configuration with T, MT, BN, QREG, QROW, KSTEPS, NTILE, DTILE
// (FwdCfg or Fp8Cfg). Everything is force-inlined. Arrays that a helper
// needs as scratch across a caller's loop are declared by the caller (an
// array local to an inlined helper renumbers the PTX registers, and ptxas
// may then allocate differently). kernels/notes/sass_identity.sh shows what a
// refactor changes in the machine code, per source and arch.

// The query rows and key range of this CTA: blockIdx.x = (b * hq + h) *
// m_blocks + m block, and causal grids run the longest rows first.
struct RowBlock {
  int bh, b, h, hk;  // bh = b * hq + h; hk: the kv head of q head h
  int m0;            // first query row
  int off;           // query i sees key j iff j <= i + off (causal)
  int n_tiles;       // key tiles of BN any row of the block sees
};
template <int BM, int BN>
__device__ __forceinline__ RowBlock row_block(const FwdArgs& a) {
  RowBlock r;
  int mb = blockIdx.x % a.m_blocks;
  r.bh = blockIdx.x / a.m_blocks;
  if (a.causal) mb = a.m_blocks - 1 - mb;  // longest rows first
  r.h = r.bh % a.hq;
  r.b = r.bh / a.hq;
  r.hk = r.h / a.group;
  r.m0 = mb * BM;
  r.off = a.seq_kv - a.seq_q;
  int n_end = a.seq_kv;
  if (a.causal) n_end = min(n_end, r.m0 + BM + r.off);
  r.n_tiles = n_end > 0 ? (n_end + BN - 1) / BN : 0;
  return r;
}

// INT8: the scale of each of this warp's m16 Q tiles (one per kQGroup rows,
// sm_scale*log2(e) folded in; 1 past the last group).
template <int MT>
__device__ __forceinline__ void int8_q_scales(float (&qmul)[MT], const FwdArgs& a, int bh, int m0, int warp) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    const int gi = (m0 >> 4) + warp * MT + mt;
    qmul[mt] = gi < a.q_groups ? __ldg(a.q_scale + (int64_t)bh * a.q_groups + gi) : 1.f;
  }
}

// INT8: the scale of the key tile from n0 (one per kKGroup keys; 1 past the
// last group). bhk = b * hkv + kv head.
__device__ __forceinline__ float int8_k_scale(const FwdArgs& a, int bhk, int n0) {
  const int gi = n0 / kKGroup;
  return gi < a.k_groups ? __ldg(a.k_scale + (int64_t)bhk * a.k_groups + gi) : 1.f;
}

// Per-lane ldmatrix coordinates of the Q (A operand) and K (B, n-major) tiles.
struct QkLanes {
  int q_lrow, q_lchunk, k_lrow, k_lchunk;
};
__device__ __forceinline__ QkLanes qk_lanes(int lane) {
  return {lane & 15, lane >> 4, (lane & 7) + ((lane >> 4) << 3), (lane >> 3) & 1};
}

template <class C>
using QFrags = uint32_t[C::QREG ? C::MT : 1][C::QREG ? C::KSTEPS : 1][4];

// QREG: wait for the Q tile (the oldest of three cp.async groups) and keep
// this warp's Q fragments in registers for the whole mainloop.
template <class C>
__device__ __forceinline__ void load_q_frags(QFrags<C>& qf, uint32_t sQ, int warp, const QkLanes& l) {
  if constexpr (C::QREG) {
    cp_async_wait<2>();
    __syncthreads();
#pragma unroll
    for (int mt = 0; mt < C::MT; ++mt)
#pragma unroll
      for (int ks = 0; ks < C::KSTEPS; ++ks)
        ldsm_x4(qf[mt][ks][0], qf[mt][ks][1], qf[mt][ks][2], qf[mt][ks][3],
                sQ + swz<C::QROW>((warp * C::MT + mt) * 16 + l.q_lrow, ks * 2 + l.q_lchunk));
  }
}

// O = 0, running max = -inf, row sums = 0.
template <class C>
__device__ __forceinline__ void init_softmax_state(float (&o)[C::MT][C::DTILE][4], float (&mrow)[C::MT][2],
                                                   float (&lsum)[C::MT][4]) {
#pragma unroll
  for (int mt = 0; mt < C::MT; ++mt) {
#pragma unroll
    for (int j = 0; j < C::DTILE; ++j) o[mt][j][0] = o[mt][j][1] = o[mt][j][2] = o[mt][j][3] = 0.f;
    mrow[mt][0] = mrow[mt][1] = -INFINITY;
    lsum[mt][0] = lsum[mt][1] = lsum[mt][2] = lsum[mt][3] = 0.f;
  }
}

// acc = Q.K[t]^T for this warp's MT m16 tiles and the tile's BN keys: int8
// (mma_s8, int32 accumulators) or 16-bit (Half16<T>::mma, fp32). qa: the
// caller's scratch for one k-step's Q fragments.
template <class C, bool INT8, typename Acc>
__device__ __forceinline__ void qk_product(Acc (&acc)[C::MT][C::NTILE][4], const QFrags<C>& qf,
                                           uint32_t sQ, uint32_t sKt, int warp, const QkLanes& l,
                                           uint32_t (&qa)[C::MT][4]) {
  using H = Half16<typename C::T>;
  constexpr int MT = C::MT;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int j = 0; j < C::NTILE; ++j) acc[mt][j][0] = acc[mt][j][1] = acc[mt][j][2] = acc[mt][j][3] = 0;

#pragma unroll
  for (int ks = 0; ks < C::KSTEPS; ++ks) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      if constexpr (C::QREG) {
#pragma unroll
        for (int i = 0; i < 4; ++i) qa[mt][i] = qf[mt][ks][i];
      } else {
        ldsm_x4(qa[mt][0], qa[mt][1], qa[mt][2], qa[mt][3],
                sQ + swz<C::QROW>((warp * MT + mt) * 16 + l.q_lrow, ks * 2 + l.q_lchunk));
      }
    }
#pragma unroll
    for (int np = 0; np < C::BN / 16; ++np) {
      uint32_t b0, b1, b2, b3;
      ldsm_x4(b0, b1, b2, b3, sKt + swz<C::QROW>(np * 16 + l.k_lrow, ks * 2 + l.k_lchunk));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        if constexpr (INT8) {
          mma_s8(acc[mt][2 * np], qa[mt], b0, b1);
          mma_s8(acc[mt][2 * np + 1], qa[mt], b2, b3);
        } else {
          H::mma(acc[mt][2 * np], qa[mt], b0, b1);
          H::mma(acc[mt][2 * np + 1], qa[mt], b2, b3);
        }
      }
    }
  }
}

// The int32 max of row half hr (row g or g+8) of one m16 tile's scores: over
// this thread's values (a tree, short dependency chains), then its quad.
// t: the caller's scratch.
template <int NTILE>
__device__ __forceinline__ int int8_row_max(const int (&acc)[NTILE][4], int hr, int (&t)[NTILE]) {
#pragma unroll
  for (int j = 0; j < NTILE; ++j) t[j] = max(acc[j][2 * hr], acc[j][2 * hr + 1]);
#pragma unroll
  for (int w = NTILE / 2; w > 0; w >>= 1)
#pragma unroll
    for (int j = 0; j < w; ++j) t[j] = max(t[j], t[j + w]);
  int mi = t[0];
  mi = max(mi, __shfl_xor_sync(0xffffffffu, mi, 1));
  mi = max(mi, __shfl_xor_sync(0xffffffffu, mi, 2));
  return mi;
}

// Where any row of the warp moves its running max: mrow = mnew, and O and the
// row sums are rescaled by 2^(old - new).
template <class C>
__device__ __forceinline__ void rescale_rows(bool any_move, const float (&mnew)[C::MT][2],
                                             float (&mrow)[C::MT][2], float (&lsum)[C::MT][4],
                                             float (&o)[C::MT][C::DTILE][4]) {
  if (__any_sync(0xffffffffu, any_move)) {
#pragma unroll
    for (int mt = 0; mt < C::MT; ++mt)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const float alpha =
            mnew[mt][hr] == mrow[mt][hr] ? 1.f : fast_exp2(mrow[mt][hr] - mnew[mt][hr]);
        mrow[mt][hr] = mnew[mt][hr];
        lsum[mt][2 * hr] *= alpha;
        lsum[mt][2 * hr + 1] *= alpha;
#pragma unroll
        for (int j = 0; j < C::DTILE; ++j) {
          o[mt][j][2 * hr] *= alpha;
          o[mt][j][2 * hr + 1] *= alpha;
        }
      }
  }
}

// INT8: the int32 score of a masked key, far below any real product
// (|acc| <= 127*127*128 < 2^21); its p is zeroed after the exponent.
constexpr int kMaskedI = -(1 << 30);

// Scores of keys past seq_kv or (causal) after their row's diagonal become
// -inf (fp32 scores) or kMaskedI (int32). n0: the tile's first key, wrow0:
// the warp's first query row; g, tq: the lane's row and column in its quad.
template <class C, typename Acc>
__device__ __forceinline__ void mask_scores(Acc (&acc)[C::MT][C::NTILE][4], const FwdArgs& a, int n0, int wrow0,
                                            int off, int g, int tq) {
#pragma unroll
  for (int mt = 0; mt < C::MT; ++mt)
#pragma unroll
    for (int j = 0; j < C::NTILE; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int col = n0 + j * 8 + tq * 2 + (e & 1);
        const int row = wrow0 + mt * 16 + g + (e >> 1) * 8;
        const bool masked = col >= a.seq_kv || (a.causal && col > row + off);
        if constexpr (std::is_same<Acc, int>::value) {
          if (masked) acc[mt][j][e] = kMaskedI;
        } else {
          if (masked) acc[mt][j][e] = -INFINITY;
        }
      }
}

// Online softmax of one tile's scores (rows g and g+8 of each m16 tile; a
// row lives in a quad): s = 2^(raw * sc - m + SHIFT), with m the running row
// max in scaled log2 units and masked scores giving 0. The running max only
// moves (and O and the row sums are rescaled) where a row's tile max exceeds
// it by more than RESCALE; in between p <= 2^(SHIFT + RESCALE), which the P
// format must hold. The scale is folded into the exponent, so sc > 0 is
// required (sm_scale > 0 is part of the contract; int8 scales are floored
// above 0).
template <class C, int SHIFT, int RESCALE, typename Acc>
__device__ __forceinline__ void softmax_tile(const Acc (&acc)[C::MT][C::NTILE][4], const float (&sc)[C::MT],
                                             bool need_mask, float (&mrow)[C::MT][2], float (&lsum)[C::MT][4],
                                             float (&o)[C::MT][C::DTILE][4], float (&s)[C::MT][C::NTILE][4]) {
  constexpr bool INT8 = std::is_same<Acc, int>::value;
  constexpr int MT = C::MT;
  float mnew[MT][2];
  bool any_move = false;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float mx;
      if constexpr (INT8) {
        int t[C::NTILE];  // scratch
        const int mi = int8_row_max<C::NTILE>(acc[mt], hr, t);
        mx = mi == kMaskedI ? -INFINITY : static_cast<float>(mi) * sc[mt];
      } else {
        float t[C::NTILE];
#pragma unroll
        for (int j = 0; j < C::NTILE; ++j) t[j] = fmaxf(acc[mt][j][2 * hr], acc[mt][j][2 * hr + 1]);
#pragma unroll
        for (int w = C::NTILE / 2; w > 0; w >>= 1)
#pragma unroll
          for (int j = 0; j < w; ++j) t[j] = fmaxf(t[j], t[j + w]);
        mx = t[0];
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        mx = mx == -INFINITY ? -INFINITY : mx * sc[mt];
      }
      const bool move = mx > mrow[mt][hr] + static_cast<float>(RESCALE);  // also: first key seen
      mnew[mt][hr] = move ? mx : mrow[mt][hr];
      any_move |= move;
    }
  rescale_rows<C>(any_move, mnew, mrow, lsum, o);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      // No key seen yet: every p of this row is masked (0).
      float nm;
      if constexpr (SHIFT == 0) {
        nm = mrow[mt][hr] == -INFINITY ? 0.f : -mrow[mt][hr];
      } else {
        nm = mrow[mt][hr] == -INFINITY ? 0.f : static_cast<float>(SHIFT) - mrow[mt][hr];
      }
#pragma unroll
      for (int j = 0; j < C::NTILE; ++j)
#pragma unroll
        for (int e = 2 * hr; e < 2 * hr + 2; ++e) {
          float p;
          if constexpr (INT8) {
            // acc + 0x4B400000 read as fp32 is 1.5*2^23 + acc exactly, so
            // raw*sc - m = that*sc + (nm - 1.5*2^23*sc): one IADD, one FFMA.
            const float bias = fmaf(-12582912.0f, sc[mt], nm);
            p = fast_exp2(fmaf(__int_as_float(acc[mt][j][e] + 0x4B400000), sc[mt], bias));
            if (need_mask && acc[mt][j][e] == kMaskedI) p = 0.f;
          } else {
            p = fast_exp2(fmaf(acc[mt][j][e], sc[mt], nm));
          }
          s[mt][j][e] = p;
        }
    }
}

// Copy the BM x ROW_BYTES output tile staged (swizzled) at smem 0 to rows
// m0.. of the output head (b, h), 16-byte stores, rows >= seq_q skipped.
template <int BM, int ROW_BYTES, int NT>
__device__ __forceinline__ void store_o_tile(const char* smem, const FwdArgs& a, int b, int h, int m0, int tid) {
  constexpr int CPR = ROW_BYTES / 16;
  constexpr int CHUNKS = BM * CPR;
  static_assert(CHUNKS % NT == 0, "epilogue");
  char* og = a.o + b * a.o_sb + h * a.o_sh;
#pragma unroll
  for (int it = 0; it < CHUNKS / NT; ++it) {
    const int idx = it * NT + tid;
    const int r = idx / CPR, c = idx % CPR;
    if (m0 + r < a.seq_q) {
      const uint4 val = *reinterpret_cast<const uint4*>(smem + swz<ROW_BYTES>(r, c));
      *reinterpret_cast<uint4*>(og + (int64_t)(m0 + r) * a.o_sn + c * 16) = val;
    }
  }
}

template <class C>
__global__ void __launch_bounds__(C::NT, C::MINB) attn_fwd_kernel(const FwdArgs a) {
  using T = typename C::T;
  using H = Half16<T>;
  using Acc = typename std::conditional<C::INT8, int, float>::type;
  constexpr int BM = C::BM, BN = C::BN, D = C::D, MT = C::MT, NT = C::NT;
  constexpr int QROW = C::QROW, VROW = C::VROW;

  extern __shared__ __align__(128) char smem[];

  const int tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;

  const RowBlock rb = row_block<BM, BN>(a);
  const int bh = rb.bh, b = rb.b, h = rb.h, hk = rb.hk, m0 = rb.m0, off = rb.off, n_tiles = rb.n_tiles;

  const char* qg = a.q + b * a.q_sb + h * a.q_sh + (int64_t)m0 * a.q_sn;
  const char* kg = a.k + b * a.k_sb + hk * a.k_sh;
  const char* vg = a.v + b * a.v_sb + hk * a.v_sh;

  const uint32_t sQ = smem_addr(smem);
  const uint32_t sK = sQ + C::Q_BYTES;
  const uint32_t sV = sK + 2 * C::K_BYTES;

  // Prologue: Q, K[0], V[0] as three cp.async groups (always committed so
  // that the wait_group counts below hold for every CTA).
  load_tile<BM, QROW, NT>(sQ, qg, a.q_sn, a.seq_q - m0, tid);
  cp_async_commit();
  if (n_tiles > 0) load_tile<BN, QROW, NT>(sK, kg, a.k_sn, a.seq_kv, tid);
  cp_async_commit();
  if (n_tiles > 0) load_tile<BN, VROW, NT>(sV, vg, a.v_sn, a.seq_kv, tid);
  cp_async_commit();

  // Per-lane ldmatrix coordinates.
  const QkLanes ql = qk_lanes(lane);
  const int v_lrow = (lane & 7) + (((lane >> 3) & 1) << 3), v_lchunk = lane >> 4;  // B, trans

  const int wrow0 = m0 + warp * MT * 16;  // first query row of this warp
  const int wrow_last = wrow0 + MT * 16 - 1;

  // INT8: per-m16-tile Q scale (sm_scale*log2e folded in); exact: the scale.
  float qmul[MT];
  if constexpr (C::INT8) {
    int8_q_scales<MT>(qmul, a, bh, m0, warp);
  } else {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) qmul[mt] = a.scale_log2;
  }

  QFrags<C> qf;
  load_q_frags<C>(qf, sQ, warp, ql);

  float o[MT][C::DTILE][4];
  // Running row max (scaled, log2 units) and row sum. The row sum is
  // accumulated by the tensor cores as P.1 (an extra n8 tile whose B operand
  // is all ones), i.e. from the same rounded fp16/bf16 P that multiplies V:
  // the normalised output is then an exact convex combination of V rows.
  float mrow[MT][2], lsum[MT][4];
  init_softmax_state<C>(o, mrow, lsum);

  const bool warp_has_rows = wrow0 < a.seq_q;

  // K / V of the tile after the one at n0 into the stage tile `stage` does not use.
  auto prefetch_k = [&](int stage, int n0) {
    load_tile<BN, QROW, NT>(sK + (stage ^ 1) * C::K_BYTES, kg + (int64_t)(n0 + BN) * a.k_sn,
                            a.k_sn, a.seq_kv - n0 - BN, tid);
  };
  auto prefetch_v = [&](int stage, int n0) {
    load_tile<BN, VROW, NT>(sV + (stage ^ 1) * C::V_BYTES, vg + (int64_t)(n0 + BN) * a.v_sn,
                            a.v_sn, a.seq_kv - n0 - BN, tid);
  };

  for (int t = 0; t < n_tiles; ++t) {
    const int n0 = t * BN;
    const int stage = t & 1;
    const uint32_t sKt = sK + stage * C::K_BYTES;
    const uint32_t sVt = sV + stage * C::V_BYTES;

    const float kmul = C::INT8 ? int8_k_scale(a, b * a.hkv + hk, n0) : 1.f;

#if AF_ONE_SYNC
    // One barrier per tile: K[t], V[t] (issued a whole tile ago) have landed
    // for every thread, and every warp is done with K[t-1], V[t-1], whose
    // buffers now receive K[t+1], V[t+1].
    cp_async_wait<0>();
    __syncthreads();
    if (t + 1 < n_tiles) {
      prefetch_k(stage, n0);
      prefetch_v(stage, n0);
    }
    cp_async_commit();
#else
    cp_async_wait<1>();  // K[t] landed (V[t] may be in flight)
    __syncthreads();     // ... for every thread; and everyone is done with K[t-1]
    if (t + 1 < n_tiles) prefetch_k(stage, n0);
    cp_async_commit();
#endif

    // Causal: a warp whose rows see none of this tile's keys skips it.
    const bool active = warp_has_rows && (!a.causal || n0 <= wrow_last + off);

    float s[MT][C::NTILE][4];
    if (active) {
      Acc acc[MT][C::NTILE][4];
      uint32_t qa[MT][4];  // scratch: one k-step's Q fragments
      qk_product<C, C::INT8>(acc, qf, sQ, sKt, warp, ql, qa);

      float sc[MT];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) sc[mt] = qmul[mt] * kmul;

      const bool need_mask =
          (n0 + BN > a.seq_kv) || (a.causal && n0 + BN - 1 > wrow0 + off);
      if (need_mask) mask_scores<C>(acc, a, n0, wrow0, off, g, tq);

      // p <= 2^8 between moves of the running max: fp16/bf16 P and fp32 O absorb it.
      softmax_tile<C, 0, 8>(acc, sc, need_mask, mrow, lsum, o, s);
    }

#if !AF_ONE_SYNC
    cp_async_wait<1>();  // V[t] landed
    __syncthreads();     // ... for every thread; and everyone is done with V[t-1]
    if (t + 1 < n_tiles) prefetch_v(stage, n0);
    cp_async_commit();
#endif

    if (active) {
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        uint32_t pa[MT][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          pa[mt][0] = H::pack(s[mt][2 * kk][0], s[mt][2 * kk][1]);
          pa[mt][1] = H::pack(s[mt][2 * kk][2], s[mt][2 * kk][3]);
          pa[mt][2] = H::pack(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
          pa[mt][3] = H::pack(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        }
        const uint32_t ones = H::pack(1.f, 1.f);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) H::mma(lsum[mt], pa[mt], ones, ones);
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          uint32_t v0, v1, v2, v3;
          ldsm_x4_t(v0, v1, v2, v3, sVt + swz<VROW>(kk * 16 + v_lrow, dp * 2 + v_lchunk));
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            H::mma(o[mt][2 * dp], pa[mt], v0, v1);
            H::mma(o[mt][2 * dp + 1], pa[mt], v2, v3);
          }
        }
      }
    }
  }

  // Epilogue: normalise, optional LSE, stage O through smem, 16-byte stores.
  cp_async_wait<0>();
  __syncthreads();
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const float l = lsum[mt][2 * hr];  // complete row sum (every column of P.1)
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const int lrow_local = (warp * MT + mt) * 16 + g + hr * 8;
      const int row = m0 + lrow_local;
      if (a.lse != nullptr && tq == 0 && row < a.seq_q) {
        float v = -INFINITY;
        if (l > 0.f) {
          v = (mrow[mt][hr] + __log2f(l)) * 0.69314718055994531f;
          if constexpr (C::INT8) v += a.lse_bias[(int64_t)bh * a.seq_q + row];
        }
        a.lse[(int64_t)bh * a.seq_q + row] = v;
      }
#pragma unroll
      for (int j = 0; j < C::DTILE; ++j) {
        const uint32_t u = H::pack(o[mt][j][2 * hr] * inv, o[mt][j][2 * hr + 1] * inv);
        *reinterpret_cast<uint32_t*>(smem + swz<VROW>(lrow_local, j) + tq * 4) = u;
      }
    }
  __syncthreads();
  store_o_tile<BM, VROW, NT>(smem, a, b, h, m0, tid);
}

}  // namespace af
