#!/usr/bin/env python3
"""Stable vs per-minor attnfarm wheel, same kernels, one process, one GPU.

The per-minor cu13-torch2.11 wheel is imported as `attnfarm` (torch.ops.attnfarm);
the stable cu13-torchstable2.10 library, compiled from the same source with only
its op namespace renamed (-DATTNFARM_OPS_NS=attnfarm_stable), is loaded beside it
(torch.ops.attnfarm_stable). torch SDPA (default dispatch and flash) is timed in
the same process. CUDA events, 5 warm-up + 30 timed calls, median; the two
attnfarm libraries alternate call by call so drift hits both.
"""
import json, statistics, sys
import torch, torch.nn.functional as F
import attnfarm

torch.ops.load_library(sys.argv[1])
per_minor, stable = torch.ops.attnfarm.fwd, torch.ops.attnfarm_stable.fwd
print("torch", torch.__version__, "| per-minor", attnfarm.build_info.VARIANT, "| stable lib", sys.argv[1])
print("GPU", torch.cuda.get_device_name(0))

SHAPES = [
    dict(b=4, h=32, hk=32, n=4096, d=128, causal=False, dt=torch.float16),
    dict(b=4, h=32, hk=32, n=4096, d=128, causal=True, dt=torch.float16),
    dict(b=4, h=32, hk=32, n=16384, d=128, causal=False, dt=torch.bfloat16),
    dict(b=4, h=32, hk=32, n=8192, d=64, causal=False, dt=torch.bfloat16),
    dict(b=1, h=32, hk=8, n=8192, d=128, causal=True, dt=torch.bfloat16),
    dict(b=1, h=24, hk=24, n=4608, d=128, causal=False, dt=torch.bfloat16),
]


def timed(fns, iters=30, warmup=5):
    for f in fns:
        for _ in range(warmup):
            f()
    out = [[] for _ in fns]
    for _ in range(iters):
        for i, f in enumerate(fns):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record(); f(); e.record(); e.synchronize()
            out[i].append(s.elapsed_time(e))
    return [statistics.median(x) for x in out]


rows = []
for s in SHAPES:
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(s["b"], s["h"], s["n"], s["d"], device="cuda", dtype=s["dt"], generator=g)
    k = torch.randn(s["b"], s["hk"], s["n"], s["d"], device="cuda", dtype=s["dt"], generator=g)
    v = torch.randn(s["b"], s["hk"], s["n"], s["d"], device="cuda", dtype=s["dt"], generator=g)
    fl = 4.0 * s["b"] * s["h"] * s["n"] * s["n"] * s["d"] / (2 if s["causal"] else 1)
    kw = dict(enable_gqa=True) if s["hk"] != s["h"] else {}
    sdpa = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=s["causal"], **kw)
    def flash():
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.FLASH_ATTENTION):
            return F.scaled_dot_product_attention(q, k, v, is_causal=s["causal"], **kw)
    for prec in ("exact", "int8"):
        a = lambda: per_minor(q, k, v, s["causal"], None, prec, False, "HND")
        b = lambda: stable(q, k, v, s["causal"], None, prec, False, "HND")
        same = torch.equal(a()[0], b()[0])
        t_pm, t_st, t_sdpa, t_flash = timed([a, b, sdpa, flash])
        r = dict(shape=f"b{s['b']} h{s['h']}/{s['hk']} n{s['n']} d{s['d']} {'causal' if s['causal'] else 'full'} {str(s['dt'])[6:]}",
                 precision=prec, per_minor_ms=t_pm, stable_ms=t_st, sdpa_ms=t_sdpa, flash_ms=t_flash,
                 stable_over_per_minor_time=t_st / t_pm, identical_output=same,
                 tflops_per_minor=fl / t_pm / 1e9, tflops_stable=fl / t_st / 1e9,
                 stable_speed_vs_sdpa=t_sdpa / t_st, stable_speed_vs_flash=t_flash / t_st)
        rows.append(r)
        print(f"{r['shape']:<38} {prec:<5} per-minor {t_pm:7.3f} ms ({r['tflops_per_minor']:5.0f})  stable {t_st:7.3f} ms ({r['tflops_stable']:5.0f})"
              f"  stable/per-minor time {r['stable_over_per_minor_time']:.3f}  identical {same}  vs SDPA {r['stable_speed_vs_sdpa']:.2f}x  vs flash {r['stable_speed_vs_flash']:.2f}x", flush=True)
ratios = [r["stable_over_per_minor_time"] for r in rows]
print(f"stable/per-minor time: geomean {statistics.geometric_mean(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}, over {len(ratios)} cases")
json.dump(rows, open(sys.argv[2], "w"), indent=1)
