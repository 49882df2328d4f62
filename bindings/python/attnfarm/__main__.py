"""`python -m attnfarm`: print what is installed and what runs on this machine."""

from __future__ import annotations

import platform
import sys
from typing import List, Optional, Tuple


def _probe(precision: str, device: int) -> Tuple[bool, str]:
    """Run one small attention call and compare it with torch's math."""
    import torch

    import attnfarm

    g = torch.Generator(device=f"cuda:{device}").manual_seed(0)
    shape = (1, 2, 96, 64)
    q, k, v = (torch.randn(shape, device=f"cuda:{device}", dtype=torch.float16, generator=g) for _ in range(3))
    try:
        out = attnfarm.attention(q, k, v, precision=precision)
        torch.cuda.synchronize(device)
    except Exception as e:  # the report must print, whatever goes wrong
        return False, f"{type(e).__name__}: {e}"
    ref = torch.softmax((q.float() @ k.float().transpose(-1, -2)) / 8.0, dim=-1) @ v.float()
    cos = torch.nn.functional.cosine_similarity(out.float().flatten(), ref.flatten(), dim=0).item()
    return True, f"ran a {list(shape)} fp16 check, CosSim {cos:.6f} vs fp32 math"


def report() -> List[str]:
    lines: List[str] = []
    add = lines.append
    add(f"Python           {sys.version.split()[0]} ({platform.python_implementation()}, {platform.platform()})")
    try:
        import torch
    except ImportError as e:
        add(f"torch            not importable: {e}")
        return lines
    add(f"torch            {torch.__version__}")
    add(f"torch CUDA       {torch.version.cuda or 'none (CPU-only or ROCm build)'}")

    import attnfarm
    from attnfarm import _compat

    info = _compat.load_build_info()
    if info is None:
        add("attnfarm         source checkout: no _build_info.py and no compiled library")
    else:
        add(f"attnfarm         {info.VERSION}  variant {info.VARIANT}")
        if _compat.is_stable(info):
            add(f"  serves         torch {info.TORCH_MINOR} and later (stable ABI), CUDA {info.CUDA_MAJOR}.x builds of torch")
        else:
            add(f"  serves         torch {info.TORCH_MINOR}.x only (per-minor), CUDA {info.CUDA_MAJOR}.x builds of torch")
        add(f"  built with     torch {info.TORCH_BUILT_WITH}, CUDA toolkit {info.CUDA_TOOLKIT}, revision {info.REVISION}")
        add(f"  arches         {_compat.arches_present(_compat.sass_list(info), info.PTX_ARCH)}")
        if getattr(info, "INDEX_URL", None):
            add(f"  index          {info.INDEX_URL}")
        if getattr(info, "LANDING_URL", None):
            add(f"  all variants   {info.LANDING_URL}")
    add(f"  location       {attnfarm.__file__}")
    problem = attnfarm.load_problem
    if problem:
        add(f"  NOT LOADED     {problem}")
    else:
        abi = torch.ops.attnfarm.kernels_abi_version()
        add(f"  loaded         yes (kernels C ABI version {abi})")

    if not torch.cuda.is_available():
        add("GPU              none visible to torch: attnfarm needs a CUDA GPU")
        return lines
    for idx in range(torch.cuda.device_count()):
        major, minor = torch.cuda.get_device_capability(idx)
        name = torch.cuda.get_device_name(idx)
        add(f"GPU {idx}            {name}, sm_{major}{minor}")
        if info is None or problem:
            add("  kernels        unavailable (attnfarm not loaded)")
            continue
        code: Optional[str] = _compat.code_for_device(major, minor, _compat.sass_list(info), info.PTX_ARCH)
        if code is None:
            add(f"  kernels        unavailable: {_compat.arch_problem(major, minor, name, _compat.sass_list(info), info.PTX_ARCH, info.VARIANT)}")
            continue
        add(f"  code           {code}")
        from attnfarm import _route

        # Probe attnfarm's own kernels (routing to torch off for the probe).
        results = {}
        kernels = (("exact", "af_attn_exact_fwd"), ("int8", "af_attn_int8_fwd"), ("int8fp8", "af_attn_int8fp8_fwd"))
        saved = _route._routing_enabled
        _route.set_torch_routing(False)
        try:
            for precision, kernel in kernels:
                if precision == "int8fp8" and not _compat.has_fp8_mma(major, minor):
                    results[precision] = False
                    add(f"  {precision:<13}  not available on sm_{major}{minor}: FP8 (e4m3) tensor cores need sm_89 or newer")
                    continue
                ok, detail = _probe(precision, idx)
                results[precision] = ok
                state = f"{kernel}: {detail}" if ok else f"not available: {detail}"
                add(f"  {precision:<13}  {state}")
        finally:
            _route._routing_enabled = saved
        first = _compat.auto_precision(major, minor)
        where = "where auto quantises (see routes)"
        if first == "int8fp8" and results["int8fp8"]:
            add(f"  auto           int8fp8 kernel {where} (af_attn_int8fp8_fwd; falls back to int8, then exact, for requests it does not support)")
        elif results["int8"]:
            if not _compat.has_fp8_mma(major, minor):
                why = f"no FP8 tensor cores on sm_{major}{minor}"
            elif first == "int8fp8":
                why = "int8fp8 failed its check above"
            else:
                why = "auto picks int8fp8 only on sm_89 and sm_120"
            add(f"  auto           int8 kernel {where} (af_attn_int8_fwd, INT8 Q·Kᵀ + fp16/bf16 P·V; {why}; falls back to exact for requests it does not support)")
        elif results["exact"]:
            add("  auto           exact kernel (int8 not available here)")
        else:
            add("  auto           not available")
        on = "on" if _route.torch_routing_enabled() else "off (set_torch_routing(False) or ATTNFARM_NO_TORCH_ROUTING=1)"
        add(f"  routes         what each precision runs on sm_{major}{minor} (d=128 long keys; routing to torch SDPA {on}):")
        for precision, text in _route.table_for((major, minor)).items():
            add(f"    {precision:<11}  {text}")
    add("Paths by GPU arch (precision=\"exact\" and \"auto\"; any precision can be asked for explicitly):")
    lines.extend(f"  {row}" for row in _compat.arch_paths_table())
    return lines


def main() -> int:
    for line in report():
        print(line)
    import attnfarm

    return 1 if attnfarm.load_problem else 0


if __name__ == "__main__":
    sys.exit(main())
