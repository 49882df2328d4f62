#!/usr/bin/env python3
"""Benchmark attnfarm against torch SDPA, in one process, on one GPU.

    python bindings/bench/bench.py --quick --json out.json
    python bindings/bench/bench.py --json full.json          # the whole grid (long)

Methods per shape:
  sdpa        torch SDPA, default dispatch (cuDNN on H100 with torch 2.11)
  sdpa_flash  torch SDPA, flash backend only
  exact       attnfarm.attention(precision="exact")
  int8_e2e    attnfarm.attention(precision="int8"): quantization + attention
  int8_kern   the attention kernel alone of that call (from the profiler)
  i8f8_e2e    attnfarm.attention(precision="int8fp8") with the mma.sync FP8
              P·V kernel forced (sm_89+ only): quantization + attention
  i8f8_kern   its attention kernel alone (fp8_fwd_kernel, from the profiler)

Timing: CUDA events around each call, warm-up first, >= 20 timed calls, the
median. FLOPs = 4*b*h*Nq*Nkv*d, halved for causal (KERNELS.md). int8 results
are reported as TOPS, the same count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F


def shapes(quick: bool) -> List[Dict]:
    out: List[Dict] = []
    if quick:
        for d in (64, 128):
            for causal in (False, True):
                out.append(dict(name="grid", b=4, hq=32, hk=32, n=4096, nk=4096, d=d, causal=causal, dtype="fp16"))
        out.append(dict(name="grid", b=4, hq=32, hk=32, n=16384, nk=16384, d=128, causal=False, dtype="bf16"))
        out.append(dict(name="image-dit", b=1, hq=24, hk=24, n=4608, nk=4608, d=128, causal=False, dtype="bf16"))
        out.append(dict(name="llm-prefill-gqa", b=1, hq=32, hk=8, n=8192, nk=8192, d=128, causal=True, dtype="bf16"))
        return out
    for dtype in ("fp16", "bf16"):
        for d in (64, 128):
            for causal in (False, True):
                for n in (1024, 2048, 4096, 8192, 16384, 32768):
                    out.append(dict(name="grid", b=4, hq=32, hk=32, n=n, nk=n, d=d, causal=causal, dtype=dtype))
    for dtype in ("fp16", "bf16"):
        out.append(dict(name="image-dit", b=1, hq=24, hk=24, n=4608, nk=4608, d=128, causal=False, dtype=dtype))
        out.append(dict(name="video-dit", b=1, hq=40, hk=40, n=32760, nk=32760, d=128, causal=False, dtype=dtype))
        out.append(dict(name="llm-prefill-gqa", b=1, hq=32, hk=8, n=8192, nk=8192, d=128, causal=True, dtype=dtype))
    return out


def flops(s: Dict) -> float:
    f = 4.0 * s["b"] * s["hq"] * s["n"] * s["nk"] * s["d"]
    return f / 2 if s["causal"] else f


def time_events(fn: Callable[[], object], warmup: int, iters: int) -> List[float]:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for i in range(iters):
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends)]


def kernel_times(fn: Callable[[], object], name_part: str, iters: int) -> List[float]:
    """Device time (ms) of the kernels whose name contains name_part, per call."""
    import warnings

    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the profiler's notes on event cycles
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(iters):
                fn()
            torch.cuda.synchronize()
        for e in prof.events():
            if name_part in e.name and e.device_type == torch.autograd.DeviceType.CUDA:
                times.append(e.device_time / 1e3 if hasattr(e, "device_time") else e.cuda_time / 1e3)
    return times


def make_inputs(s: Dict, seed: int = 0):
    dtype = torch.float16 if s["dtype"] == "fp16" else torch.bfloat16
    g = torch.Generator(device="cuda").manual_seed(seed)
    q = torch.randn(s["b"], s["hq"], s["n"], s["d"], device="cuda", dtype=dtype, generator=g)
    k = torch.randn(s["b"], s["hk"], s["nk"], s["d"], device="cuda", dtype=dtype, generator=g)
    v = torch.randn(s["b"], s["hk"], s["nk"], s["d"], device="cuda", dtype=dtype, generator=g)
    return q, k, v


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return F.cosine_similarity(a.float().flatten(), b.float().flatten(), dim=0).item()


def bench_shape(s: Dict, warmup: int, min_iters: int) -> Dict:
    import attnfarm
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q, k, v = make_inputs(s)
    gqa = s["hq"] != s["hk"]
    kw = dict(is_causal=s["causal"])
    if gqa:
        kw["enable_gqa"] = True
    f = flops(s)
    # Enough timed calls to cover ~0.5 s, at least min_iters.
    methods: Dict[str, Callable[[], object]] = {
        "sdpa": lambda: F.scaled_dot_product_attention(q, k, v, **kw),
        "sdpa_flash": lambda: F.scaled_dot_product_attention(q, k, v, **kw),
        "exact": lambda: attnfarm.attention(q, k, v, causal=s["causal"], precision="exact"),
        "int8_e2e": lambda: attnfarm.attention(q, k, v, causal=s["causal"], precision="int8"),
    }
    if torch.cuda.get_device_capability() >= (8, 9):

        def i8f8():
            with attnfarm._ops.force_kernel("int8fp8", "mma_sync"):
                return attnfarm.attention(q, k, v, causal=s["causal"], precision="int8fp8")

        methods["i8f8_e2e"] = i8f8
    row: Dict = dict(shape=s, flops=f, results={})
    ref = None
    for name, fn in methods.items():
        try:
            ctx = sdpa_kernel([SDPBackend.FLASH_ATTENTION]) if name == "sdpa_flash" else None
            if ctx is not None:
                ctx.__enter__()
            try:
                t0 = time.perf_counter()
                fn()
                torch.cuda.synchronize()
                one = max(time.perf_counter() - t0, 1e-4)
                iters = max(min_iters, min(200, int(0.5 / one)))
                ts = time_events(fn, warmup, iters)
                out = fn()
            finally:
                if ctx is not None:
                    ctx.__exit__(None, None, None)
            med = statistics.median(ts)
            res = dict(median_ms=med, iters=iters, tflops=f / med / 1e9)
            if name == "sdpa":
                ref = out
            elif ref is not None:
                res["cos_vs_sdpa"] = cos(out, ref)
            row["results"][name] = res
        except Exception as e:  # an unsupported backend/shape is a result, not a crash
            row["results"][name] = dict(error=f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
    try:
        kt = kernel_times(methods["int8_e2e"], "attn_fwd_kernel", max(10, min_iters // 2))
        if kt:
            med = statistics.median(kt)
            row["results"]["int8_kern"] = dict(median_ms=med, iters=len(kt), tflops=f / med / 1e9)
        else:
            row["results"]["int8_kern"] = dict(error="no kernel named attn_fwd_kernel seen by the profiler")
    except Exception as e:
        row["results"]["int8_kern"] = dict(error=f"{type(e).__name__}: {e}")
    if "i8f8_e2e" in methods:
        try:
            kt = kernel_times(methods["i8f8_e2e"], "fp8_fwd_kernel", max(10, min_iters // 2))
            if kt:
                med = statistics.median(kt)
                row["results"]["i8f8_kern"] = dict(median_ms=med, iters=len(kt), tflops=f / med / 1e9)
            else:
                row["results"]["i8f8_kern"] = dict(error="no kernel named fp8_fwd_kernel seen by the profiler")
        except Exception as e:
            row["results"]["i8f8_kern"] = dict(error=f"{type(e).__name__}: {e}")
    del q, k, v, ref
    torch.cuda.empty_cache()
    return row


def fmt(res: Optional[Dict]) -> str:
    if not res:
        return "-"
    if "error" in res:
        return "err"
    return f"{res['tflops']:.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small subset of the grid (about a minute on an H100)")
    ap.add_argument("--json", metavar="PATH", help="write all results as JSON to PATH")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20, help="at least this many timed calls (default 20)")
    args = ap.parse_args(argv)
    if args.iters < 20:
        ap.error("--iters must be at least 20")
    if not torch.cuda.is_available():
        print("bench: no CUDA GPU visible to torch", file=sys.stderr)
        return 2
    import attnfarm

    env = dict(
        device=torch.cuda.get_device_name(),
        capability="sm_%d%d" % torch.cuda.get_device_capability(),
        torch=torch.__version__,
        torch_cuda=torch.version.cuda,
        attnfarm=attnfarm.__version__,
        variant=getattr(attnfarm.build_info, "VARIANT", None),
        revision=getattr(attnfarm.build_info, "REVISION", None),
    )
    print(f"# {env['device']} ({env['capability']}), torch {env['torch']}, attnfarm {env['attnfarm']}", file=sys.stderr)
    rows = []
    header = f"{'shape':<34} {'dt':<4} {'c':<1} | {'sdpa':>5} {'flash':>5} {'exact':>5} {'i8e2e':>5} {'i8krn':>5} {'f8e2e':>5} {'f8krn':>5} | {'ex/sdpa':>7} {'ex/fl':>6} {'i8/sdpa':>7} {'i8/fl':>6} {'f8/sdpa':>7} {'f8/i8':>6} | {'cos ex':>8} {'cos i8':>8} {'cos f8':>8}"
    print("TFLOPS (int8: TOPS), median of CUDA-event timings; ratios are speedups over torch SDPA (default, flash)")
    print(header)
    for s in shapes(args.quick):
        row = bench_shape(s, args.warmup, args.iters)
        rows.append(row)
        r = row["results"]

        def ratio(a, b):
            ra, rb = r.get(a, {}), r.get(b, {})
            if "tflops" in ra and "tflops" in rb:
                return f"{ra['tflops'] / rb['tflops']:.2f}x"
            return "-"

        shape = f"{s['name']} b{s['b']} h{s['hq']}/{s['hk']} n{s['n']} d{s['d']}"
        cex = r.get("exact", {}).get("cos_vs_sdpa")
        ci8 = r.get("int8_e2e", {}).get("cos_vs_sdpa")
        cf8 = r.get("i8f8_e2e", {}).get("cos_vs_sdpa")
        print(
            f"{shape:<34} {s['dtype']:<4} {'y' if s['causal'] else 'n':<1} | {fmt(r.get('sdpa')):>5} {fmt(r.get('sdpa_flash')):>5} "
            f"{fmt(r.get('exact')):>5} {fmt(r.get('int8_e2e')):>5} {fmt(r.get('int8_kern')):>5} "
            f"{fmt(r.get('i8f8_e2e')):>5} {fmt(r.get('i8f8_kern')):>5} | "
            f"{ratio('exact', 'sdpa'):>7} {ratio('exact', 'sdpa_flash'):>6} {ratio('int8_e2e', 'sdpa'):>7} {ratio('int8_e2e', 'sdpa_flash'):>6} "
            f"{ratio('i8f8_e2e', 'sdpa'):>7} {ratio('i8f8_e2e', 'int8_e2e'):>6} | "
            f"{cex if cex is None else round(cex, 6)!s:>8} {ci8 if ci8 is None else round(ci8, 6)!s:>8} "
            f"{cf8 if cf8 is None else round(cf8, 6)!s:>8}",
            flush=True,
        )
        for name, res in r.items():
            if "error" in res:
                print(f"    {name}: {res['error']}", flush=True)
    if args.json:
        import os

        tmp = args.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(dict(env=env, quick=args.quick, warmup=args.warmup, min_iters=args.iters, rows=rows), fh, indent=1)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
