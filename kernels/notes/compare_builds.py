#!/usr/bin/env python3
"""Bit-for-bit comparison of two builds' kernels, for refactors meant to keep
behaviour (run on a GPU machine, one build importable at a time):

    PYTHONPATH=<site of build A> python3 kernels/notes/compare_builds.py dump a.pt
    PYTHONPATH=<site of build B> python3 kernels/notes/compare_builds.py dump b.pt
    python3 kernels/notes/compare_builds.py compare a.pt b.pt

`dump` runs every kernel the op can be asked for directly (exact, int8, the
mma.sync FP8 P·V kernel and, on sm_90, the wgmma one) on fixed-seed inputs:
fp16 and bf16, head_dim 64 and 128, causal or not, ragged lengths with GQA
and a square case; it saves the outputs and LSEs with each case's CosSim
against an fp32 reference. `compare` prints, per kernel, how many cases are
identical to the bit and, for the others, the largest difference and both
CosSims; it exits 1 if a case is missing from either file.
"""
import sys

import torch

CASES = [  # (batch, heads_q, heads_kv, n_q, n_kv)
    (1, 4, 2, 200, 333),
    (2, 8, 8, 1024, 1024),
]
KERNELS = {"exact": "exact", "int8": "int8", "int8fp8_mma": "_int8fp8_mma", "fp8_wgmma": "_fp8_wgmma"}


def cos(a, b):
    return torch.nn.functional.cosine_similarity(a.double().flatten(), b.double().flatten(), dim=0).item()


def dump(path):
    import attnfarm  # noqa: F401  (loads the library, registers the op)

    dev = torch.cuda.current_device()
    wgmma = bool(torch.ops.attnfarm._fp8_sm90a_available(dev))
    res = {"version": attnfarm.__version__, "cases": {}}
    for (b, hq, hk, nq, nk) in CASES:
        for d in (64, 128):
            for dt in (torch.float16, torch.bfloat16):
                for causal in (False, True):
                    g = torch.Generator(device="cuda").manual_seed(1234 + nq + d)
                    q = torch.randn(b, hq, nq, d, device="cuda", dtype=dt, generator=g)
                    k = torch.randn(b, hk, nk, d, device="cuda", dtype=dt, generator=g)
                    v = torch.randn(b, hk, nk, d, device="cuda", dtype=dt, generator=g)
                    mask = None
                    if causal:
                        mask = torch.arange(nk, device="cuda")[None] <= torch.arange(nq, device="cuda")[:, None] + (nk - nq)
                    ref = torch.nn.functional.scaled_dot_product_attention(
                        q.float(), k.float(), v.float(), attn_mask=mask, enable_gqa=True)
                    for name, prec in KERNELS.items():
                        if name == "fp8_wgmma" and (not wgmma or d != 128):
                            continue
                        out, lse = torch.ops.attnfarm.fwd(q, k, v, causal, None, prec, True, "HND")
                        torch.cuda.synchronize()
                        key = f"{name} b{b} h{hq}/{hk} n{nq}/{nk} d{d} {str(dt)[6:]} causal={causal}"
                        res["cases"][key] = {"out": out.cpu(), "lse": lse.cpu(), "cos": cos(out, ref)}
    torch.save(res, path)
    print(f"{path}: {len(res['cases'])} cases, attnfarm {res['version']}")


def compare(pa, pb):
    a, b = torch.load(pa), torch.load(pb)
    print(f"A: {pa} (attnfarm {a['version']}), B: {pb} (attnfarm {b['version']})")
    missing = sorted(set(a["cases"]) ^ set(b["cases"]))
    for k in missing:
        print(f"  missing in {'B' if k in a['cases'] else 'A'}: {k}")
    per = {}
    for k in sorted(set(a["cases"]) & set(b["cases"])):
        ca, cb = a["cases"][k], b["cases"][k]
        same = torch.equal(ca["out"], cb["out"]) and torch.equal(ca["lse"], cb["lse"])
        name = k.split()[0]
        n_same, n = per.get(name, (0, 0))
        per[name] = (n_same + same, n + 1)
        if not same:
            do = (ca["out"].float() - cb["out"].float()).abs().max().item()
            dl = (ca["lse"] - cb["lse"]).abs().max().item()
            print(f"  differs: {k}: max |dO| {do:.3g}, max |dLSE| {dl:.3g}, CosSim A {ca['cos']:.6f} B {cb['cos']:.6f}")
    for name, (n_same, n) in per.items():
        print(f"{name}: {n_same}/{n} cases identical to the bit")
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
