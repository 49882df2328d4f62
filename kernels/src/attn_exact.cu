// attnfarm kernels: exact (FlashAttention-2-style) attention forward.
#include "attnfarm/kernels.h"
#include "af_host.h"

// Tile configuration (overridable for tuning builds; the defaults are what
// kernels/README.md documents and what was measured).
#ifndef AF_EX128_CFG
#define AF_EX128_CFG 4, 2, 64, false, 2  // NWARPS, MT, BN, QREG, MINB
#endif
#ifndef AF_EX64_CFG
#define AF_EX64_CFG 4, 2, 64, true, 2
#endif

namespace af {
namespace {

template <typename T, int D>
using ExactCfg = PerHeadDim<D, FwdCfg<T, 128, AF_EX128_CFG, false>, FwdCfg<T, 64, AF_EX64_CFG, false>>;

template <typename T>
af_status run(const af_attn_params* p, const FwdArgs& a, cudaStream_t s) {
  if (p->head_dim == 128) return launch_fwd<ExactCfg<T, 128>>(a, s);
  return launch_fwd<ExactCfg<T, 64>>(a, s);
}

}  // namespace
}  // namespace af

extern "C" af_status af_attn_exact_fwd(const af_attn_params* p, cudaStream_t stream) {
  bool empty = false;
  af_status st = af::validate_call(p, &empty);
  if (st != AF_OK || empty) return st;
  const af::FwdArgs a = af::base_args(p);
  if (p->dtype == AF_F16) return af::run<__half>(p, a, stream);
  return af::run<__nv_bfloat16>(p, a, stream);
}
