#!/usr/bin/env python3
"""Small FP8 P.V calls for compute-sanitizer (memcheck / racecheck): the
mma.sync kernel (int8fp8, forced) at d=64 and d=128 and, on an sm_90 wheel,
the wgmma kernel; ragged lengths, causal, GQA, fp16 and bf16.

    compute-sanitizer --tool memcheck python kernels/notes/sanitize_fp8.py
"""
import sys

import torch

import attnfarm
from attnfarm import _ops

torch.manual_seed(0)
ok = True
for d in (64, 128):
    for dt in (torch.float16, torch.bfloat16):
        for causal in (False, True):
            q = torch.randn(1, 4, 200, d, device="cuda", dtype=dt)
            k = torch.randn(1, 2, 333, d, device="cuda", dtype=dt)
            v = torch.randn(1, 2, 333, d, device="cuda", dtype=dt)
            ref = torch.nn.functional.scaled_dot_product_attention(
                q.float(), k.float(), v.float(), enable_gqa=True,
                attn_mask=(torch.arange(333, device="cuda")[None] <= torch.arange(200, device="cuda")[:, None] + 133) if causal else None)
            outs = {}
            with _ops.force_kernel("int8fp8", "mma_sync"):
                outs["mma_sync"] = attnfarm.attention(q, k, v, causal=causal, precision="int8fp8")
            if d == 128 and torch.ops.attnfarm._fp8_sm90a_available(torch.cuda.current_device()):
                outs["wgmma"] = torch.ops.attnfarm.fwd(q, k, v, causal, None, "_fp8_wgmma", False, "HND")[0]
            for name, o in outs.items():
                cos = torch.nn.functional.cosine_similarity(o.float().flatten(), ref.flatten(), dim=0).item()
                good = bool(torch.isfinite(o).all()) and cos > 0.999
                ok &= good
                print(f"{name} d{d} {str(dt)[6:]} causal={causal}: CosSim {cos:.6f} {'ok' if good else 'BAD'}")
torch.cuda.synchronize()
sys.exit(0 if ok else 1)
