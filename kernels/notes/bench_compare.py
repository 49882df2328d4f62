#!/usr/bin/env python3
"""Before/after table of the FP8 columns of two bench.py --json files
(same machine, back to back): TFLOPS, ms and ratios to torch's default SDPA
and to the INT8 kernel of the same run.

    python kernels/notes/bench_compare.py before.json after.json
"""
import json
import sys


def rows(path):
    d = json.load(open(path))
    out = {}
    for r in d["rows"]:
        s = r["shape"]
        key = f"{s['name']} b{s['b']} h{s['hq']}/{s['hk']} n{s['n']} d{s['d']} {s['dtype']}{' causal' if s['causal'] else ''}"
        out[key] = r["results"]
    return out


def main():
    b, a = rows(sys.argv[1]), rows(sys.argv[2])
    cols = [("i8f8_e2e", "f8 e2e"), ("i8f8_kern", "f8 kern"), ("f8wg_e2e", "wg e2e"), ("f8wg_kern", "wg kern")]
    print(f"{'shape':<40} {'method':<8} {'before':>7} {'after':>7} {'after/before':>12} {'/sdpa b':>8} {'/sdpa a':>8} {'/int8 b':>8} {'/int8 a':>8}")
    for key, ra in a.items():
        rb = b.get(key, {})
        for col, name in cols:
            x, y = rb.get(col), ra.get(col)
            if not x or not y or "tflops" not in x or "tflops" not in y:
                continue
            i8b, i8a = rb["int8_e2e" if "e2e" in col else "int8_kern"]["tflops"], ra["int8_e2e" if "e2e" in col else "int8_kern"]["tflops"]
            sb, sa = rb["sdpa"]["tflops"], ra["sdpa"]["tflops"]
            print(f"{key:<40} {name:<8} {x['tflops']:>7.0f} {y['tflops']:>7.0f} {y['tflops'] / x['tflops']:>11.2f}x "
                  f"{x['tflops'] / sb:>7.2f}x {y['tflops'] / sa:>7.2f}x {x['tflops'] / i8b:>7.2f}x {y['tflops'] / i8a:>7.2f}x")


if __name__ == "__main__":
    main()
