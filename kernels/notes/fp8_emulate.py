#!/usr/bin/env python3
"""CPU emulation of the INT8-QK + FP8 (e4m3) P.V kernels' arithmetic, to split
their error budget (numpy + ml_dtypes; no GPU, no torch).

    python kernels/notes/fp8_emulate.py [--quick]

What it models, as kernels/src/attn_int8fp8.cu ("mma", 64-key tiles) and
kernels/src/attn_fp8_sm90a.cu ("wgmma", 128-key tiles) compute:
  * inputs N(0,1) rounded to fp16 / bf16;
  * int8 Q/K: K minus its per-channel mean, per-channel migration
    f = sqrt(max|Q| / max|K - mean|), one Q scale per 16 rows, one K scale per
    64 keys, round to nearest (even);
  * scores in log2 units; online softmax per tile: "mma" moves the running
    max only when a tile's max exceeds it by more than 2 and uses
    p = 2^(s - m + 6); "wgmma" uses the exact running max and p = 2^(s - m + 8);
  * P rounded to e4m3 (RNE, satfinite), the row sum over the rounded P;
  * V - mean(V) scaled per channel to 448, rounded to e4m3 (a value rounded
    past its column's range steps one e4m3 value inwards);
  * optionally V split into hi + lo e4m3 parts (two MMAs);
  * output o / l * scale + mean, rounded to the input dtype.
The tensor core's own accumulation is not modelled bit for bit (its internal
rounding is not documented); --mma-bits B emulates a truncating accumulator
of B bits relative to the largest term per k=32 MMA step.
"""

from __future__ import annotations

import argparse
import math

import ml_dtypes
import numpy as np

E4M3 = ml_dtypes.float8_e4m3fn
LOG2E = 1.4426950408889634


def e4m3(x):
    x = np.clip(x, -448.0, 448.0).astype(np.float32)
    return x.astype(E4M3).astype(np.float64)


def round_dtype(x, dt):
    if dt == "fp16":
        return x.astype(np.float16).astype(np.float64)
    return x.astype(np.float32).astype(ml_dtypes.bfloat16).astype(np.float64)


def rne(x):
    return np.rint(x)  # numpy rounds half to even


def quant_qk(q, k, group):
    """q [hq,nq,d], k [hk,nk,d] -> (q8, qs, k8, ks) with q8 @ k8.T * qs * ks = q . (k - mean)."""
    hq, nq, d = q.shape
    hk, nk, _ = k.shape
    mean = k.mean(axis=1, keepdims=True)
    kc = k - mean
    qa = np.abs(q).reshape(hk, group, nq, d).max(axis=(1, 2))  # [hk, d]
    ka = np.abs(kc).max(axis=1)  # [hk, d]
    f = np.where((ka > 0) & (qa > 0), np.sqrt(qa / np.maximum(ka, 1e-30)), 1.0)
    kf = kc * f[:, None, :]
    qf = q / np.repeat(f, group, axis=0)[:, None, :]
    # K: one scale per 64 keys (padding rows are the mean -> 0)
    nkp = (nk + 63) // 64 * 64
    kp = np.zeros((hk, nkp, d))
    kp[:, :nk] = kf
    kb = kp.reshape(hk, nkp // 64, 64, d)
    kamax = np.maximum(np.abs(kb).max(axis=(2, 3)), 1e-20)
    k8 = rne(kb * (127.0 / kamax)[:, :, None, None]).reshape(hk, nkp, d)[:, :nk]
    ks = np.repeat(kamax / 127.0, 64, axis=1)[:, :nk]  # [hk, nk]
    nqp = (nq + 15) // 16 * 16
    qp = np.zeros((hq, nqp, d))
    qp[:, :nq] = qf
    qb = qp.reshape(hq, nqp // 16, 16, d)
    qamax = np.maximum(np.abs(qb).max(axis=(2, 3)), 1e-20)
    q8 = rne(qb * (127.0 / qamax)[:, :, None, None]).reshape(hq, nqp, d)[:, :nq]
    qs = np.repeat(qamax / 127.0, 16, axis=1)[:, :nq]  # [hq, nq]
    return q8, qs, k8, ks


def quant_v(v, mode):
    """v [hk,nk,d] -> (vq [hk,nk,d] in scaled units, mean, scale)."""
    mean = v.mean(axis=1, keepdims=True)
    vc = v - mean
    mx = vc.max(axis=1, keepdims=True)
    mn = vc.min(axis=1, keepdims=True)
    amax = np.maximum(np.maximum(mx, -mn), 1e-20)
    scale = amax / 448.0
    x = vc / scale
    if mode == "exact":
        return x, mean, scale
    hi = e4m3(x)
    # one e4m3 step inwards where rounding left the column's range
    hi_lim, lo_lim = mx / scale, mn / scale
    bad = (hi > hi_lim) | (hi < lo_lim)
    if bad.any():
        b = hi[bad].astype(np.float32).astype(E4M3).view(np.uint8) - 1
        hi[bad] = b.view(E4M3).astype(np.float64)
    if mode == "e4m3":
        return hi, mean, scale
    if mode == "e4m3_zm":  # ideal: every 64-key block's rounding errors sum to 0 (per channel)
        return hi - block_mean(hi - x), mean, scale
    if mode == "e4m3_flip":  # realisable: flip roundings so each 64-key block's errors sum to ~0
        return flip_to_zero_sum(x, hi, hi_lim, lo_lim), mean, scale
    if mode == "hilo":
        lo = e4m3((x - hi) * 16.0) / 16.0
        return hi + lo, mean, scale
    raise ValueError(mode)


def block_mean(e, bn=64):
    hk, nk, d = e.shape
    nkp = (nk + bn - 1) // bn * bn
    ep = np.zeros((hk, nkp, d))
    ep[:, :nk] = e
    m = ep.reshape(hk, nkp // bn, bn, d).sum(axis=2, keepdims=True) / bn
    return np.broadcast_to(m, (hk, nkp // bn, bn, d)).reshape(hk, nkp, d)[:, :nk]


def e4m3_step(q, away):
    """The e4m3 neighbour of q one step away from (away) or toward zero."""
    b = q.astype(np.float32).astype(E4M3).view(np.uint8).astype(np.int32)
    mag = (b & 0x7F) + np.where(away, 1, -1)
    ok = (mag >= 0) & (mag <= 0x7E)
    mag = np.clip(mag, 0, 0x7E)
    out = ((b & 0x80) | mag).astype(np.uint8).view(E4M3).astype(np.float64)
    out = np.where((b & 0x7F) == 0, np.where(away, 2.0 ** -9, 0.0) * np.sign(q), out)
    return out, ok


FLIP_W = 4.0  # kZeroSumWeight
FLIP_ITERS = 3  # kZeroSumFlips in kernels/src/af_fp8.cuh


def flip_to_zero_sum(x, q, hi_lim, lo_lim, bn=64, iters=None):
    iters = FLIP_ITERS if iters is None else iters
    """Greedy: within each (block, channel), flip the rounding of the element whose
    flip costs the least squared error and lowers |sum of errors|, until none does."""
    hk, nk, d = x.shape
    nkp = (nk + bn - 1) // bn * bn
    X = np.zeros((hk, nkp, d)); X[:, :nk] = x
    Q = np.zeros((hk, nkp, d)); Q[:, :nk] = q
    X = X.reshape(hk, nkp // bn, bn, d); Q = Q.reshape(hk, nkp // bn, bn, d)
    valid = np.zeros((nkp,), bool); valid[:nk] = True
    valid = valid.reshape(nkp // bn, bn)[None, :, :, None]
    hl = hi_lim[:, :, None, :] if hi_lim.ndim == 3 else hi_lim
    ll = lo_lim[:, :, None, :] if lo_lim.ndim == 3 else lo_lim
    hl = hl.reshape(hk, 1, 1, d); ll = ll.reshape(hk, 1, 1, d)
    for _ in range(iters):
        E = Q - X
        S = E.sum(axis=2, keepdims=True)
        # the other rounding of each element: one e4m3 step across x
        away = np.abs(Q) < np.abs(X)  # Q rounded toward zero -> alternative is away
        alt, ok = e4m3_step(Q, away)
        ok &= (alt <= hl) & (alt >= ll) & valid & (E != 0)
        Ealt = alt - X
        newS = S - E + Ealt
        improve = np.abs(newS) < np.abs(S) - 1e-12
        cost = FLIP_W * (Ealt ** 2 - E ** 2) - (S ** 2 - newS ** 2)  # squared-error increase minus sum-squared decrease
        cost = np.where(ok & improve & (cost < 0), cost, np.inf)
        best = cost.argmin(axis=2)[:, :, None, :]
        bc = np.take_along_axis(cost, best, axis=2)
        if not np.isfinite(bc).any():
            break
        mask = np.zeros_like(cost, bool)
        np.put_along_axis(mask, best, np.isfinite(bc), axis=2)
        Q = np.where(mask, alt, Q)
    return Q.reshape(hk, nkp, d)[:, :nk]


def trunc_acc(prods, bits):
    """Sum over the last axis with every term truncated toward zero to `bits`
    bits below the exponent of the largest term (a fixed-point aligner)."""
    mx = np.abs(prods).max(axis=-1, keepdims=True)
    e = np.floor(np.log2(np.where(mx > 0, mx, 1.0)))
    ulp = 2.0 ** (e - bits)
    return (np.trunc(prods / ulp) * ulp).sum(axis=-1)


def attention_emul(q, k, v, causal, dt, kernel="mma", qk="int8", p_fmt="e4m3", v_mode="e4m3", mma_bits=None):
    hq, nq, d = q.shape
    hk, nk, _ = k.shape
    group = hq // hk
    sm = 1.0 / math.sqrt(d)
    if qk == "int8":
        q8, qs, k8, ks = quant_qk(q, k, group)
    vq, vmean, vscale = quant_v(v, v_mode)
    bn, shift, lazy = {"mma": (64, 6.0, 2.0), "wgmma": (128, 8.0, 0.0), "mma_exactmax": (64, 8.0, 0.0)}[kernel]
    out = np.zeros((hq, nq, d))
    i = np.arange(nq)[:, None]
    j = np.arange(nk)[None, :]
    mask = (j > i + nk - nq) if causal else np.zeros((nq, nk), bool)
    for h in range(hq):
        kh = h // group
        if qk == "int8":
            s = (q8[h] @ k8[kh].T) * (qs[h][:, None] * sm * LOG2E) * ks[kh][None, :]
        else:
            s = (q[h] @ k[kh].T) * sm * LOG2E
        s = np.where(mask, -np.inf, s)
        # running max per tile (what the kernel's m is when it rounds tile t)
        nt = (nk + bn - 1) // bn
        m = np.full(nq, -np.inf)
        mt = np.empty((nq, nk))
        for t in range(nt):
            sl = slice(t * bn, min(nk, (t + 1) * bn))
            tmx = s[:, sl].max(axis=1)
            move = tmx > m + lazy if lazy > 0 else tmx > m
            m = np.where(move, tmx, m)
            mt[:, sl] = m[:, None]
        mfin = m
        with np.errstate(invalid="ignore", over="ignore"):
            p = np.exp2(s - mt + shift)
        p = np.where(mask | np.isinf(mt), 0.0, p)
        if p_fmt == "e4m3":
            p = e4m3(p)
        with np.errstate(invalid="ignore"):
            w = np.exp2(np.where(np.isinf(mt), -np.inf, mt - mfin[:, None]))  # alpha rescale to the final max
        w = np.nan_to_num(w)
        l = (p * w).sum(axis=1)
        if mma_bits is None:
            o = (p * w) @ vq[kh]
        else:
            # per k=32 step: terms p_i*v_i truncated relative to the largest
            o = np.zeros((nq, d))
            for c0 in range(0, nk, 32):
                c1 = min(nk, c0 + 32)
                prods = p[:, None, c0:c1] * vq[kh].T[None, :, c0:c1]  # [nq, d, 32]
                o += trunc_acc(prods, mma_bits) * w[:, c0][:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[h] = np.where(l[:, None] > 0, o / l[:, None] * vscale[kh] + vmean[kh], 0.0)
    return round_dtype(out, dt)


def reference(q, k, v, causal):
    hq, nq, d = q.shape
    hk, nk, _ = k.shape
    group = hq // hk
    i = np.arange(nq)[:, None]
    j = np.arange(nk)[None, :]
    mask = (j > i + nk - nq) if causal else np.zeros((nq, nk), bool)
    out = np.zeros((hq, nq, d))
    for h in range(hq):
        s = q[h] @ k[h // group].T / math.sqrt(d)
        s = np.where(mask, -np.inf, s)
        s = s - s.max(axis=1, keepdims=True)
        p = np.exp(s)
        out[h] = p @ v[h // group] / p.sum(axis=1, keepdims=True)
    valid = ~mask.all(axis=1)
    return out, valid


def errors(o, r):
    o, r = o.ravel(), r.ravel()
    cos = float(o @ r / (np.linalg.norm(o) * np.linalg.norm(r)))
    l1 = float(np.abs(o - r).sum() / np.abs(r).sum())
    return cos, l1, float(np.abs(o - r).max())


SHAPES = [
    # name, b, hq, hk, nq, nk, d, dtype, causal
    ("b2h4 n1025 d128 fp16", 2, 4, 4, 1025, 1025, 128, "fp16", False),
    ("b2h4 n1025 d128 bf16 causal", 2, 4, 4, 1025, 1025, 128, "bf16", True),
    ("b1h2 n4097 d64 fp16", 1, 2, 2, 4097, 4097, 64, "fp16", False),
    ("b2h4 n77 d128 fp16 causal", 2, 4, 4, 77, 77, 128, "fp16", True),
    ("b1h32/8 n1025 d128 bf16 causal", 1, 32, 8, 1025, 1025, 128, "bf16", True),
    ("b1h8 n4096 d128 fp16", 1, 8, 8, 4096, 4096, 128, "fp16", False),
    ("b1h8 n4096 d128 fp16 causal", 1, 8, 8, 4096, 4096, 128, "fp16", True),
]

VARIANTS = [
    # label, kwargs
    ("P,V e4m3 only (exact QK)", dict(qk="exact", p_fmt="e4m3", v_mode="e4m3")),
    ("P e4m3 only", dict(qk="exact", p_fmt="e4m3", v_mode="exact")),
    ("V e4m3 only", dict(qk="exact", p_fmt="exact", v_mode="e4m3")),
    ("int8 QK only", dict(qk="int8", p_fmt="exact", v_mode="exact")),
    ("kernel mma (int8+P+V)", dict(kernel="mma")),
    ("kernel wgmma (int8+P+V)", dict(kernel="wgmma")),
    ("mma, V hi+lo", dict(kernel="mma", v_mode="hilo")),
    ("mma, V block-zero-mean ideal", dict(kernel="mma", v_mode="e4m3_zm")),
    ("mma, V zero-sum flips", dict(kernel="mma", v_mode="e4m3_flip")),
    ("wgmma, V zero-sum flips", dict(kernel="wgmma", v_mode="e4m3_flip")),
    ("mma exact max, V flips", dict(kernel="mma_exactmax", v_mode="e4m3_flip")),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="first 4 shapes only")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--mma-bits", type=int, default=None, help="also run the kernels with a B-bit truncating MMA")
    ap.add_argument("--shapes", type=str, default=None, help="comma list of shape indices")
    args = ap.parse_args()
    shapes = SHAPES[:4] if args.quick else SHAPES
    if args.shapes:
        shapes = [SHAPES[int(x)] for x in args.shapes.split(",")]
    variants = list(VARIANTS)
    if args.mma_bits:
        variants.append((f"kernel mma, {args.mma_bits}-bit MMA", dict(kernel="mma", mma_bits=args.mma_bits)))
    print(f"{'shape':<34} {'variant':<28} {'CosSim':>9} {'rel-L1':>8} {'maxabs':>8}")
    for name, b, hq, hk, nq, nk, d, dt, causal in shapes:
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            acc = {lab: [] for lab, _ in variants}
            refs = []
            for bi in range(b):
                q = round_dtype(rng.standard_normal((hq, nq, d)), dt)
                k = round_dtype(rng.standard_normal((hk, nk, d)), dt)
                v = round_dtype(rng.standard_normal((hk, nk, d)), dt)
                ref, valid = reference(q, k, v, causal)
                refs.append(ref[:, valid])
                for lab, kw in variants:
                    acc[lab].append(attention_emul(q, k, v, causal, dt, **kw)[:, valid])
            r = np.concatenate(refs)
            for lab, _ in variants:
                c, l1, mx = errors(np.concatenate(acc[lab]), r)
                print(f"{name:<34} {lab:<28} {c:>9.6f} {l1:>8.4f} {mx:>8.4f}", flush=True)


if __name__ == "__main__":
    main()
