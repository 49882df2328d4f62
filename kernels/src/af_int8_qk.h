// attnfarm private: the INT8 Q/K quantisation passes of attn_int8.cu, shared
// with the other INT8-QK kernels (attn_int8fp8.cu).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "attnfarm/kernels.h"
#include "af_host.h"

namespace af {

// Device pointers into the workspace, valid once int8_qk_quantize's work on
// its stream has run. Layouts: q8 [batch*hq][seq_q][D], k8 [batch*hkv][seq_kv][D]
// int8; qs [batch*hq][q_groups] (times sm_scale*log2(e)), ks [batch*hkv][k_groups];
// qkm [batch*hq*seq_q] (the LSE correction, see FwdArgs::lse_bias).
struct Int8Qk {
  const int8_t* q8;
  const int8_t* k8;
  const float* qs;
  const float* ks;
  const float* qkm;
  int q_groups, k_groups;
};

// Bytes of workspace the passes use, from offset 0 (a multiple of 256).
// p must pass validate_shape and describe non-empty work.
size_t int8_qk_workspace_bytes(const af_attn_params* p);

// Enqueues passes 1-3 (statistics, smoothing factors, int8 quantisation) on
// `stream`. p must pass validate_shape/validate_tensors; ws is 256-byte
// aligned and at least int8_qk_workspace_bytes(p) long.
af_status int8_qk_quantize(const af_attn_params* p, char* ws, cudaStream_t stream, Int8Qk* out);

// The FwdArgs of the int8 mainloop: base_args(p) with Q/K pointing at q8/k8.
inline FwdArgs int8_fwd_args(const af_attn_params* p, const Int8Qk& qk) {
  FwdArgs a = base_args(p);
  const int64_t D = p->head_dim;
  a.q = reinterpret_cast<const char*>(qk.q8);
  a.k = reinterpret_cast<const char*>(qk.k8);
  a.q_sn = D; a.q_sh = static_cast<int64_t>(p->seq_q) * D; a.q_sb = a.q_sh * p->heads_q;
  a.k_sn = D; a.k_sh = static_cast<int64_t>(p->seq_kv) * D; a.k_sb = a.k_sh * p->heads_kv;
  a.q_scale = qk.qs;
  a.k_scale = qk.ks;
  a.lse_bias = qk.qkm;
  a.q_groups = qk.q_groups;
  a.k_groups = qk.k_groups;
  return a;
}

}  // namespace af
