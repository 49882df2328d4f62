// attnfarm private: the block reduction of the per-channel statistics passes
// (K and Q in attn_int8.cu, V in af_fp8.cuh). Device code only.
//
// A pass's CTA reads rows of 8-channel chunks: thread (r0, c) keeps the sum /
// max / min of channels c*8..c*8+7 over its rows, stashes them in row slot r0
// of a __shared__ red[3][ROWS][W] (declared by the kernel), and after a
// barrier each channel is reduced over the ROWS slots.
#pragma once

#include <math.h>

namespace af {

// Thread (r0, c)'s partial sums / maxima / minima into its slot of red.
template <int ROWS, int W>
__device__ __forceinline__ void stash_partials(float (&red)[3][ROWS][W], int r0, int c, const float (&sum)[8],
                                               const float (&mx)[8], const float (&mn)[8]) {
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    red[0][r0][c * 8 + i] = sum[i];
    red[1][r0][c * 8 + i] = mx[i];
    red[2][r0][c * 8 + i] = mn[i];
  }
}

// Channel ch over every slot of red (after the barrier that follows the stash).
template <int ROWS, int W>
__device__ __forceinline__ void column_stats(const float (&red)[3][ROWS][W], int ch, float& s0, float& s1,
                                             float& s2) {
  s0 = 0.f;
  s1 = -INFINITY;
  s2 = INFINITY;
  for (int r = 0; r < ROWS; ++r) {
    s0 += red[0][r][ch];
    s1 = fmaxf(s1, red[1][r][ch]);
    s2 = fminf(s2, red[2][r][ch]);
  }
}

}  // namespace af
