// attnfarm kernels: ABI version, status strings, CUDA error bookkeeping.
#include "attnfarm/kernels.h"
#include "af_host.h"

namespace af {
namespace {
thread_local cudaError_t g_last_cuda_error = cudaSuccess;
}
void set_cuda_error(cudaError_t e) { g_last_cuda_error = e; }
}  // namespace af

extern "C" int af_kernels_abi_version(void) { return AF_KERNELS_ABI_VERSION; }

extern "C" const char* af_status_string(af_status s) {
  switch (s) {
    case AF_OK: return "ok";
    case AF_ERR_INVALID: return "invalid argument (a contract in attnfarm/kernels.h is broken)";
    case AF_ERR_UNSUPPORTED: return "unsupported request for this build or device";
    case AF_ERR_CUDA: return "CUDA error (see af_last_cuda_error)";
  }
  return "unknown af_status";
}

extern "C" cudaError_t af_last_cuda_error(void) { return af::g_last_cuda_error; }
