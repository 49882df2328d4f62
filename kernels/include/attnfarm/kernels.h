// attnfarm kernels: the C ABI between kernels/ (CUDA only) and bindings/ (torch).
//
// This header includes CUDA headers only, never torch. Every entry point takes
// plain pointers, element strides, sizes and a stream, and returns an
// af_status. Contracts (layouts, alignment, supported sizes) are stated at each
// declaration; the bindings validate all of them before calling, so a call that
// breaks a contract here is a bug in the caller and is answered with
// AF_ERR_INVALID, never with a launch.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AF_KERNELS_ABI_VERSION 1

typedef enum af_dtype { AF_F16 = 0, AF_BF16 = 1 } af_dtype;

typedef enum af_status {
  AF_OK = 0,
  AF_ERR_INVALID = 1,      // a contract below is broken (sizes, alignment, NULL)
  AF_ERR_UNSUPPORTED = 2,  // valid request this build/device cannot serve
  AF_ERR_CUDA = 3          // a CUDA call failed; see af_last_cuda_error()
} af_status;

// A 4-d view [batch, heads, seq, head_dim] of fp16/bf16 elements. The head_dim
// stride is 1; the other strides are in elements, may be any non-negative
// value (HND, NHD and slices of a fused QKV tensor are all just strides), and
// must be multiples of 8 so rows are 16-byte aligned. data is 16-byte aligned.
typedef struct af_tensor4 {
  void* data;
  int64_t stride_b, stride_h, stride_n;
} af_tensor4;

typedef struct af_attn_params {
  af_tensor4 q;        // [batch, heads_q,  seq_q,  head_dim]
  af_tensor4 k;        // [batch, heads_kv, seq_kv, head_dim]
  af_tensor4 v;        // [batch, heads_kv, seq_kv, head_dim]
  af_tensor4 o;        // [batch, heads_q,  seq_q,  head_dim], written
  float* lse;          // optional: contiguous fp32 [batch, heads_q, seq_q],
                       // natural-log sum-exp of sm_scale*q.k; NULL if unwanted
  int batch, heads_q, heads_kv, seq_q, seq_kv, head_dim;
  float sm_scale;      // softmax scale (usually 1/sqrt(head_dim)); finite and > 0
  int causal;          // 1: bottom-right aligned mask (query i sees key j iff
                       //    j <= i + seq_kv - seq_q), as FlashAttention;
                       //    torch SDPA is_causal aligns top-left instead
  af_dtype dtype;      // of q, k, v and o alike
} af_attn_params;

int af_kernels_abi_version(void);
const char* af_status_string(af_status s);
// The CUDA error that caused the last AF_ERR_CUDA on this thread.
cudaError_t af_last_cuda_error(void);

// Exact attention forward. See kernels/README.md for the supported sizes.
// head_dim 64 or 128; heads_q a multiple of heads_kv; batch, seq_q, seq_kv
// >= 0 (batch == 0 or seq_q == 0: AF_OK, nothing launched; seq_kv == 0: every
// row outputs 0 and lse -inf, and k/v may then be NULL). Rows that see no key
// (causal with seq_q > seq_kv) output 0 and lse -inf.
af_status af_attn_exact_fwd(const af_attn_params* p, cudaStream_t stream);

// INT8-QK attention forward, same contract as af_attn_exact_fwd. Needs a
// device workspace of at least af_attn_int8_workspace_bytes(p) bytes,
// 256-byte aligned (returns 0 for invalid or empty problems). The workspace
// is scratch for this call only (it may be reused once the call's work on
// `stream` has finished). The LSE is approximate (int8 scores).
size_t af_attn_int8_workspace_bytes(const af_attn_params* p);
af_status af_attn_int8_fwd(const af_attn_params* p, void* workspace,
                           size_t workspace_bytes, cudaStream_t stream);

// INT8-QK + FP8 (e4m3) P.V attention forward (mma.sync m16n8k32 e4m3, sm_89
// and newer), same contract and workspace rules as af_attn_int8_fwd, with its
// own size (af_attn_int8fp8_workspace_bytes). V is quantised to e4m3 per
// channel after subtracting its mean over the keys; the scales and the mean
// are folded into the output. AF_ERR_UNSUPPORTED on a device below sm_89
// (checked on the current device before any launch). The LSE is approximate.
size_t af_attn_int8fp8_workspace_bytes(const af_attn_params* p);
af_status af_attn_int8fp8_fwd(const af_attn_params* p, void* workspace,
                              size_t workspace_bytes, cudaStream_t stream);

// Hopper (sm_90a) INT8-QK + FP8 (e4m3) P.V attention forward: wgmma for both
// products, P.V summed from zero per 128-key tile and added to fp32 (two-level
// accumulation), V quantised per channel after subtracting its mean.
// Same contract as af_attn_int8_fwd with its own workspace size, except:
// head_dim 128 only, and seq_kv >= 1 (else AF_ERR_UNSUPPORTED). Runs only on
// an sm_90 device with a library built with this kernel's sm_90a code
// (af_attn_fp8_sm90a_available(device) == 1); AF_ERR_UNSUPPORTED otherwise,
// before any launch. The LSE is approximate. Experimental (see kernels/README.md).
int af_attn_fp8_sm90a_available(int device);
size_t af_attn_fp8_sm90a_workspace_bytes(const af_attn_params* p);
af_status af_attn_fp8_sm90a_fwd(const af_attn_params* p, void* workspace,
                                size_t workspace_bytes, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
