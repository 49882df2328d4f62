#!/usr/bin/env python3
"""Benchmark attnfarm against torch SDPA, in one process, on one GPU.

    python bindings/bench/bench.py --quick --json out.json
    python bindings/bench/bench.py --json full.json          # the whole grid (long)

Methods per shape (all in this one process, on the same inputs):
  sdpa        torch SDPA, default dispatch (cuDNN on H100/H200 with torch 2.11)
  sdpa_cudnn  torch SDPA, cuDNN backend only
  sdpa_flash  torch SDPA, flash backend only
  exact       attnfarm.attention(precision="exact") as a user gets it (routed
              to torch SDPA where that is faster: attnfarm._route)
  exact_kern  attnfarm's own exact kernel (routing off); one launch, so this
              is its kernel time as well as its end-to-end time
  int8_e2e    attnfarm.attention(precision="int8"): quantization + attention
  int8_kern   the attention kernel alone of that call (from the profiler)
  auto        attnfarm.attention(precision="auto") as a user gets it
  i8f8_e2e    attnfarm.attention(precision="int8fp8") with the mma.sync FP8
              P·V kernel forced (sm_89+ only): quantization + attention
  i8f8_kern   its attention kernel alone (fp8_fwd_kernel, from the profiler)
  f8wg_e2e    the experimental sm_90a wgmma kernel (INT8 Q.K^T, FP8 P.V;
              private precision "_fp8_wgmma"), quantization included (sm_90, d=128)
  f8wg_kern   its attention kernel alone (fp8_wgmma_kernel, from the profiler)
  sdpa_again  with --again: torch's default SDPA a second time in the same
              interleave (how far one method differs from itself)
The "path" of exact and auto (attnfarm.plan) is recorded per shape.

Timing: CUDA events around each call, warm-up first, >= 20 timed calls, the
median. The methods of a shape take turns call by call (a rotating order), so
GPU clock and power state, and the order of measurement, fall on all alike. FLOPs = 4*b*h*Nq*Nkv*d, halved for causal (KERNELS.md). int8 results
are reported as TOPS, the same count.
"""

from __future__ import annotations

import argparse
import contextlib
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
        out.append(dict(name="grid", b=4, hq=32, hk=32, n=8192, nk=8192, d=128, causal=False, dtype="fp16"))
        out.append(dict(name="grid", b=4, hq=32, hk=32, n=8192, nk=8192, d=128, causal=True, dtype="fp16"))
        out.append(dict(name="grid", b=4, hq=32, hk=32, n=16384, nk=16384, d=128, causal=False, dtype="bf16"))
        out.append(dict(name="video-dit", b=1, hq=40, hk=40, n=32760, nk=32760, d=128, causal=False, dtype="bf16"))
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


@contextlib.contextmanager
def routing_off():
    """attnfarm's own kernels only (no routing to torch SDPA) inside the block."""
    import attnfarm

    before = attnfarm.torch_routing_enabled()
    attnfarm.set_torch_routing(False)
    try:
        yield
    finally:
        attnfarm.set_torch_routing(before)


def time_interleaved(
    methods: Dict[str, Callable[[], object]], setting: Callable[[str], object], rounds: int
) -> Dict[str, List[float]]:
    """CUDA-event time (ms) of single calls, the methods taking turns.

    Each round calls every method once, in an order rotated by one each
    round, so clock and power state, L2 contents and the order of measurement
    fall on all methods alike (timing each method in its own block let the
    first one measured run at a higher clock). `setting(name)` is the context
    one call of that method runs under; it is entered and left outside the
    timed region.
    """
    names = list(methods)
    pairs = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)] if names else []
        for n in order:
            with setting(n):
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                methods[n]()
                end.record()
            pairs[n].append((start, end))
    torch.cuda.synchronize()
    return {n: [a.elapsed_time(b) for a, b in ev] for n, ev in pairs.items()}


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


def extra_precisions() -> List[str]:
    """Precisions this attnfarm build has beyond exact/int8/int8fp8/auto
    (int8fp8 is measured as i8f8_e2e/i8f8_kern)."""
    from attnfarm import _ops

    return [p for p in getattr(_ops, "PRECISIONS", ()) if p not in ("exact", "int8", "int8fp8", "auto")]


def has_i8f8() -> bool:
    """The mma.sync FP8 P·V kernel of precision="int8fp8" runs here (sm_89+)."""
    return torch.cuda.get_device_capability() >= (8, 9)


def fp8_wgmma_available() -> bool:
    """The experimental sm_90a wgmma kernel (private precision "_fp8_wgmma") runs here."""
    op = getattr(torch.ops.attnfarm, "_fp8_sm90a_available", None)
    try:
        return bool(op(torch.cuda.current_device())) if op is not None else False
    except (RuntimeError, AttributeError):
        return False


def bench_shape(s: Dict, warmup: int, min_iters: int, budget_s: float = 0.5, again: bool = False) -> Dict:
    import attnfarm
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q, k, v = make_inputs(s)
    gqa = s["hq"] != s["hk"]
    kw = dict(is_causal=s["causal"])
    if gqa:
        kw["enable_gqa"] = True
    f = flops(s)
    sdpa = lambda: F.scaled_dot_product_attention(q, k, v, **kw)  # noqa: E731
    methods: Dict[str, Callable[[], object]] = {
        "sdpa": sdpa,
        "sdpa_cudnn": sdpa,
        "sdpa_flash": sdpa,
        "exact": lambda: attnfarm.attention(q, k, v, causal=s["causal"], precision="exact"),
        "exact_kern": lambda: attnfarm.attention(q, k, v, causal=s["causal"], precision="exact"),
        "int8_e2e": lambda: attnfarm.attention(q, k, v, causal=s["causal"], precision="int8"),
        "auto": lambda: attnfarm.attention(q, k, v, causal=s["causal"], precision="auto"),
    }
    for name in extra_precisions():
        methods[name] = lambda name=name: attnfarm.attention(q, k, v, causal=s["causal"], precision=name)
    if has_i8f8():

        def i8f8():
            with attnfarm._ops.force_kernel("int8fp8", "mma_sync"):
                return attnfarm.attention(q, k, v, causal=s["causal"], precision="int8fp8")

        methods["i8f8_e2e"] = i8f8
    if s["d"] == 128 and fp8_wgmma_available():
        methods["f8wg_e2e"] = lambda: torch.ops.attnfarm.fwd(q, k, v, s["causal"], None, "_fp8_wgmma", False, "HND")[0]
    backends = {"sdpa_flash": SDPBackend.FLASH_ATTENTION, "sdpa_cudnn": SDPBackend.CUDNN_ATTENTION}
    if again:  # torch's default twice in the same interleave: the spread of one method against itself
        methods["sdpa_again"] = sdpa
    row: Dict = dict(shape=s, flops=f, results={}, paths={})
    for p in ("exact", "auto"):
        row["paths"][p] = attnfarm.plan(q, k, v, causal=s["causal"], precision=p)

    def setting(name: str):
        """The state one call of `name` runs under: a backend choice or routing off."""
        if name in backends:
            return sdpa_kernel([backends[name]])
        if name == "exact_kern":
            return routing_off()
        return contextlib.nullcontext()

    outs: Dict[str, object] = {}
    one: Dict[str, float] = {}
    for name, fn in list(methods.items()):
        try:
            with setting(name):
                for _ in range(warmup):
                    fn()
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                outs[name] = fn()
                torch.cuda.synchronize()
                one[name] = max(time.perf_counter() - t0, 1e-5)
        except Exception as e:  # an unsupported backend/shape is a result, not a crash
            row["results"][name] = dict(error=f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
            del methods[name]
    # Enough rounds to cover ~budget_s per method, at least min_iters, at most 200.
    rounds = max(min_iters, min(200, int(budget_s * max(len(one), 1) / max(sum(one.values()), 1e-5))))
    times = time_interleaved(methods, setting, rounds)
    ref = outs.get("sdpa")
    for name, ts in times.items():
        med = statistics.median(ts)
        res = dict(median_ms=med, iters=len(ts), tflops=f / med / 1e9)
        if name != "sdpa" and ref is not None:
            res["cos_vs_sdpa"] = cos(outs[name], ref)
        row["results"][name] = res
    outs.clear()
    # Device time of the kernel alone, per quantised path present.
    for method, kernel, key in (
        ("int8_e2e", "attn_fwd_kernel", "int8_kern"),
        ("i8f8_e2e", "fp8_fwd_kernel", "i8f8_kern"),
        ("f8wg_e2e", "fp8_wgmma_kernel", "f8wg_kern"),
    ):
        if method in methods:
            row["results"][key] = kernel_result(methods[method], kernel, max(10, min_iters // 2), f)
        elif method == "int8_e2e":  # always planned: its row says why it is missing
            row["results"][key] = dict(error=f"{method} failed (see its result)")
    del q, k, v, ref
    torch.cuda.empty_cache()
    return row


def kernel_result(fn: Callable[[], object], kernel: str, iters: int, flops: float) -> Dict:
    """The median device time of `kernel` per call of `fn`, as a result row
    (median_ms, iters, tflops), or its error."""
    try:
        kt = kernel_times(fn, kernel, iters)
        if not kt:
            return dict(error=f"no kernel named {kernel} seen by the profiler")
        med = statistics.median(kt)
        return dict(median_ms=med, iters=len(kt), tflops=flops / med / 1e9)
    except Exception as e:
        return dict(error=f"{type(e).__name__}: {e}")


def write_json(path: str, doc: Dict) -> None:
    import os

    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1)
    os.replace(tmp, path)


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
    ap.add_argument("--only-d", type=int, default=0, help="only shapes of this head_dim")
    ap.add_argument("--again", action="store_true", help="time torch's default SDPA twice in the same interleave (sdpa_again)")
    ap.add_argument("--budget", type=float, default=0.5, help="seconds of timed calls per method, when more than --iters fit (default 0.5)")
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
    extra = extra_precisions()
    cols = ["sdpa", "sdpa_cudnn", "sdpa_flash", "exact", "exact_kern", "int8_e2e", "int8_kern", "auto"] + extra
    if has_i8f8():
        cols += ["i8f8_e2e", "i8f8_kern"]
    if fp8_wgmma_available():
        cols += ["f8wg_e2e", "f8wg_kern"]
    if args.again:
        cols += ["sdpa_again"]
    short = dict(sdpa="sdpa", sdpa_cudnn="cudnn", sdpa_flash="flash", exact="exact", exact_kern="exKrn",
                 int8_e2e="i8e2e", int8_kern="i8krn", auto="auto", i8f8_e2e="f8e2e", i8f8_kern="f8krn",
                 f8wg_e2e="f8wgE", f8wg_kern="f8wgK", sdpa_again="sdAgn")
    heads = " ".join(f"{short.get(c, c[:6]):>6}" for c in cols)
    ratios = ["exact", "exact_kern", "int8_e2e", "auto"] + extra + [
        c for c in ("i8f8_e2e", "f8wg_e2e", "f8wg_kern", "sdpa_again") if c in cols
    ]
    rheads = " ".join(f"{short.get(c, c[:6]) + '/sd':>8}" for c in ratios)
    f8i8 = f" {'f8/i8':>6}" if "i8f8_e2e" in cols else ""
    cosf8 = f" {'cos f8':>8}" if "i8f8_e2e" in cols else ""
    header = f"{'shape':<34} {'dt':<4} {'c':<1} | {heads} | {rheads}{f8i8} | {'ex path':<10} {'auto path':<10} | {'cos exK':>8} {'cos i8':>8}{cosf8}"
    print("TFLOPS (int8: TOPS), median of CUDA-event timings; ratios are speedups over torch SDPA's default dispatch (sdpa)")
    print(header)
    for s in shapes(args.quick):
        if args.only_d and s["d"] != args.only_d:
            continue
        row = bench_shape(s, args.warmup, args.iters, args.budget, args.again)
        rows.append(row)
        r = row["results"]

        def ratio(a, b):
            ra, rb = r.get(a, {}), r.get(b, {})
            if "tflops" in ra and "tflops" in rb:
                return f"{ra['tflops'] / rb['tflops']:.2f}x"
            return "-"

        shape = f"{s['name']} b{s['b']} h{s['hq']}/{s['hk']} n{s['n']} d{s['d']}"
        cex = r.get("exact_kern", {}).get("cos_vs_sdpa")
        ci8 = r.get("int8_e2e", {}).get("cos_vs_sdpa")
        cf8 = r.get("i8f8_e2e", {}).get("cos_vs_sdpa")
        vals = " ".join(f"{fmt(r.get(c)):>6}" for c in cols)
        rats = " ".join(f"{ratio(c, 'sdpa'):>8}" for c in ratios)
        if f8i8:
            rats += f" {ratio('i8f8_e2e', 'int8_e2e'):>6}"
        cf8s = f" {cf8 if cf8 is None else round(cf8, 6)!s:>8}" if cosf8 else ""
        print(
            f"{shape:<34} {s['dtype']:<4} {'y' if s['causal'] else 'n':<1} | {vals} | {rats} | "
            f"{row['paths']['exact']:<10} {row['paths']['auto']:<10} | "
            f"{cex if cex is None else round(cex, 6)!s:>8} {ci8 if ci8 is None else round(ci8, 6)!s:>8}{cf8s}",
            flush=True,
        )
        for name, res in r.items():
            if "error" in res:
                print(f"    {name}: {res['error']}", flush=True)
        if args.json:  # after every shape, so a run cut short keeps what it measured
            write_json(args.json, dict(env=env, quick=args.quick, warmup=args.warmup, min_iters=args.iters,
                                       budget_s=args.budget, argv=sys.argv, rows=rows))
    if args.json:
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
