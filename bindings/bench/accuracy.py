#!/usr/bin/env python3
"""Accuracy table: attnfarm exact / int8 / int8fp8 (mma.sync FP8 kernel forced)
and, where it runs (sm_90 wheel, d=128), the sm_90a wgmma FP8 kernel
("wgmma", private precision "_fp8_wgmma") against an fp32 math reference,
over the test suite's input kinds.

    python bindings/bench/accuracy.py [--fp8-only]

Prints CosSim, rel-L1, the largest absolute error, the worst violation of
[min V, max V] per column (in units of max |V|; <= 0 means inside), NaN/Inf
counts and the LSE max error.
Run from a checkout (it imports bindings/tests/_support.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _support import errors, make_qkv, reference  # noqa: E402

CASES = [
    # (kind, b, hq, hk, nq, nk, d, dtype, causal)
    ("normal", 2, 4, 4, 1025, 1025, 128, torch.float16, False),
    ("normal", 2, 4, 4, 1025, 1025, 128, torch.bfloat16, True),
    ("normal", 1, 2, 2, 4097, 4097, 64, torch.float16, False),
    ("normal", 2, 4, 4, 77, 77, 128, torch.float16, True),
    ("normal", 1, 32, 8, 1025, 1025, 128, torch.bfloat16, True),
    ("normal", 2, 4, 4, 77, 1025, 128, torch.float16, True),
    ("normal", 1, 8, 8, 4096, 4096, 128, torch.float16, False),
    ("normal", 1, 8, 8, 4096, 4096, 128, torch.bfloat16, False),
    ("normal", 1, 8, 8, 4096, 4096, 128, torch.float16, True),
    ("normal", 1, 4, 4, 16384, 16384, 128, torch.bfloat16, False),
    ("vbias", 1, 4, 4, 1025, 1025, 128, torch.float16, True),
    ("vlarge", 1, 4, 4, 1025, 1025, 128, torch.bfloat16, True),
    ("vlarge", 1, 4, 4, 777, 777, 64, torch.float16, False),
    ("outliers", 1, 4, 4, 1025, 1025, 128, torch.float16, True),
    ("qk_outliers", 1, 4, 4, 1025, 1025, 128, torch.float16, False),
]


def main() -> int:
    import attnfarm
    from attnfarm import _ops

    fp8_only = "--fp8-only" in sys.argv[1:]
    fp8 = torch.cuda.get_device_capability() >= (8, 9)
    wgmma = bool(torch.ops.attnfarm._fp8_sm90a_available(torch.cuda.current_device()))
    precs = ([] if fp8_only else ["exact", "int8"]) + (["int8fp8"] if fp8 else []) + (["wgmma"] if wgmma else [])
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, attnfarm {attnfarm.__version__}")
    print(f"{'case':<44} {'prec':<8} {'CosSim':>9} {'rel-L1':>9} {'maxabs':>9} {'range':>9} {'nonfin':>6} {'LSE err':>8}")
    for kind, b, hq, hk, nq, nk, d, dt, causal in CASES:
        q, k, v = make_qkv(b, hq, hk, nq, nk, d, dt, kind=kind, seed=0)
        ref, ref_lse, valid = reference(q, k, v, causal)
        vf = v.float().repeat_interleave(hq // hk, dim=1)
        vmin, vmax = vf.amin(2, keepdim=True), vf.amax(2, keepdim=True)
        vabs = v.float().abs().max().item()
        for p in precs:
            if p == "wgmma":
                if d != 128:
                    continue
                out, lse = torch.ops.attnfarm.fwd(q, k, v, causal, None, "_fp8_wgmma", True, "HND")
                out = out.to(q.dtype)
            else:
                ctx = _ops.force_kernel("int8fp8", "mma_sync") if p == "int8fp8" else None
                if ctx:
                    ctx.__enter__()
                try:
                    out, lse = attnfarm.attention(q, k, v, causal=causal, precision=p, return_lse=True)
                finally:
                    if ctx:
                        ctx.__exit__(None, None, None)
            o = out[:, :, valid].float()
            e = errors(o, ref[:, :, valid])
            maxabs = (o - ref[:, :, valid]).abs().max().item()
            over = torch.maximum(vmin - o, o - vmax).max().item() / vabs
            nonfin = (~torch.isfinite(o)).sum().item()
            lse_err = (lse[:, :, valid] - ref_lse[:, :, valid]).abs().max().item()
            name = f"{kind} b{b} h{hq}/{hk} n{nq}/{nk} d{d} {str(dt)[6:]}{' causal' if causal else ''}"
            print(f"{name:<44} {p:<8} {e.cos:>9.6f} {e.rel_l1:>9.2e} {maxabs:>9.2e} {over:>9.1e} {nonfin:>6} {lse_err:>8.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
