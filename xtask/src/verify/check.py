"""Load test of an installed attnfarm wheel, run by `cargo xtask verify`.

Runs inside a fresh environment holding one torch release and the wheel,
on a machine that may have no GPU. Prints one JSON object per check on
stdout, as soon as it is known, so a crash still leaves the checks before it:
    {"check": "<name>", "ok": true|false, "detail": "..."}
Arguments: the expected attnfarm version, the expected variant id.
Exit status 0 whatever the checks said; the farm judges the lines.
"""

import json
import subprocess
import sys
import traceback


def emit(check, ok, detail):
    print(json.dumps({"check": check, "ok": bool(ok), "detail": str(detail)}), flush=True)


def last_line(e):
    text = f"{type(e).__name__}: {e}".strip()
    return text.splitlines()[0] if text else type(e).__name__


def main():
    version, variant = sys.argv[1], sys.argv[2]

    from importlib import metadata

    try:
        got = metadata.version("attnfarm")
    except metadata.PackageNotFoundError as e:
        emit("installed", False, f"attnfarm is not installed: {e}")
        return
    import torch

    emit(
        "installed",
        got == version,
        f"attnfarm {got} under torch {torch.__version__} (CUDA {torch.version.cuda})"
        + ("" if got == version else f"; expected {version}"),
    )

    try:
        import attnfarm
    except Exception as e:  # ImportError from the guards, OSError from the loader
        emit("imported", False, last_line(e))
        return
    problem = getattr(attnfarm, "load_problem", None)
    info = attnfarm.build_info
    ok = problem is None and getattr(info, "VARIANT", None) == variant
    emit("imported", ok, problem or f"variant {getattr(info, 'VARIANT', '?')} loaded from {attnfarm.__file__}")
    if not ok:
        return

    # Every op the library registers, with a CUDA kernel for the real one and
    # a fake kernel for tracing.
    missing = [n for n in ("fwd", "kernels_abi_version", "_set_build_arches", "_fp8_sm90a_available") if not hasattr(torch.ops.attnfarm, n)]
    has = torch._C._dispatch_has_kernel_for_dispatch_key
    cuda_kernel = has("attnfarm::fwd", "CUDA") if not missing else False
    emit(
        "ops",
        not missing and cuda_kernel,
        f"missing ops: {', '.join(missing)}"
        if missing
        else (
            f"attnfarm::fwd{'' if cuda_kernel else ' has no CUDA kernel'}; "
            f"kernels ABI {torch.ops.attnfarm.kernels_abi_version()}"
        ),
    )

    # Shapes through the fake kernel, with fake CUDA tensors (no GPU needed),
    # and a whole graph through torch.compile on meta tensors.
    try:
        from torch._subclasses.fake_tensor import FakeTensorMode

        with FakeTensorMode(allow_non_fake_inputs=False):
            q = torch.empty(2, 4, 77, 64, dtype=torch.float16, device="cuda")
            kv = torch.empty(2, 2, 130, 64, dtype=torch.float16, device="cuda")
            out, lse = torch.ops.attnfarm.fwd(q, kv, kv, True, None, "exact", True, "HND")
            shapes = (tuple(out.shape), tuple(lse.shape), out.dtype, lse.dtype, out.device.type)
        want = ((2, 4, 77, 64), (2, 4, 77), torch.float16, torch.float32, "cuda")
        if shapes != want:
            emit("fake", False, f"fake kernel gave {shapes}, expected {want}")
        else:

            def f(q, k, v):
                return attnfarm.attention(q, k, v, layout="NHD", precision="int8") * 2

            m = torch.empty(1, 33, 8, 128, dtype=torch.bfloat16, device="meta")
            torch._dynamo.reset()
            o = torch.compile(f, fullgraph=True, backend="eager")(m, m, m)
            ok = tuple(o.shape) == (1, 33, 8, 128) and o.dtype == torch.bfloat16
            emit("fake", ok, f"fake CUDA call {shapes[0]} + LSE; torch.compile(fullgraph=True) on meta -> {tuple(o.shape)}")
    except Exception as e:
        emit("fake", False, last_line(e))

    # A CPU tensor is refused with a message that says what is wrong.
    try:
        c = torch.randn(1, 2, 16, 64, dtype=torch.float16)
        attnfarm.attention(c, c, c)
        emit("cpu_error", False, "a CPU tensor was accepted")
    except (RuntimeError, ValueError, TypeError) as e:
        msg = str(e)
        ok = "cuda" in msg.lower() and "attnfarm" in msg.lower()
        emit("cpu_error", ok, msg.splitlines()[0] if msg else type(e).__name__)
    except Exception as e:
        emit("cpu_error", False, f"unexpected {last_line(e)}")

    r = subprocess.run(
        [sys.executable, "-m", "attnfarm"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300
    )
    text = r.stdout
    ok = r.returncode == 0 and variant in text and "NOT LOADED" not in text
    first_bad = next((l for l in text.splitlines() if "NOT LOADED" in l or "Error" in l), "")
    emit("report", ok, f"exit {r.returncode}; {len(text.splitlines())} lines" + (f"; {first_bad.strip()}" if first_bad else ""))
    sys.stderr.write(text)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        emit("crash", False, traceback.format_exc().strip().splitlines()[-1])
