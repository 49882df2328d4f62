"""Which code serves an attnfarm.attention call: the routing table.

attnfarm's promise is attention that is never slower than torch's own. On GPUs
where torch's SDPA is faster than our kernels for a request, ``precision="exact"``
and ``precision="auto"`` hand the request to torch's SDPA (default dispatch)
instead of running our kernel. ``precision="int8"`` always runs our INT8 kernel
and ``precision="int8fp8"`` our INT8-QK + FP8 P·V kernel (explicit requests).
Where ``auto`` runs a quantised kernel, it is the one of
``attnfarm._compat.auto_precision``: int8fp8 on sm_89 and sm_120 (native e4m3
mma.sync), int8 everywhere else (never int8fp8 on sm_80/86/90/100); the op then
falls back to int8 and exact for requests that kernel does not support.
``attnfarm._compat.ARCH_PATHS`` is this table per arch, as the READMEs and
``python -m attnfarm`` show it.

The table (measured on an H200, sm_90, torch 2.11.0+cu130, one process:
bindings/bench/results/2026-12-02-h200-*.txt; H100 figures of kernels/README.md
agree):

| GPU arch | precision | request class | runs |
|---|---|---|---|
| sm_90 (Hopper) | exact | torch-routable (below) | torch SDPA (cuDNN, 1.3-1.9x faster than our mma.sync exact kernel on every grid shape) |
| sm_90 | exact | not torch-routable | attnfarm exact kernel |
| sm_90 | auto | torch-routable | torch SDPA (also faster than our INT8 kernel end to end on every grid shape) |
| sm_90 | auto | not torch-routable | attnfarm int8 at d=128 and n_kv >= 8192, else exact |
| sm_100, sm_103 (Blackwell DC) | as sm_90 | | as sm_90 (not measured: torch ships cuDNN kernels for it, our kernels are mma.sync) |
| sm_80/86/89/120 | exact | any | attnfarm exact kernel (FA2 class; >= torch's FA2 flash backend, the default there) |
| sm_80/86 | auto | any | attnfarm int8 at d=128 and n_kv >= 4096, else exact (from H100 mma.sync ratios; not measured on these GPUs) |
| sm_89/120 | auto | any | attnfarm int8fp8 at d=128 and n_kv >= 4096, else exact (not measured on these GPUs) |

A request is *torch-routable* when torch's SDPA computes exactly what was asked:
no LSE requested (torch's public SDPA does not return it) and not causal with
n_q != n_kv (torch aligns that mask top-left, attnfarm bottom-right).

``set_torch_routing(False)`` or ``ATTNFARM_NO_TORCH_ROUTING=1`` turns routing
off: every call then runs attnfarm's own kernels (for tests and comparisons).
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Tuple

import torch

from . import _compat

TORCH = "torch-sdpa"
EXACT = "exact"
INT8 = "int8"
INT8FP8 = "int8fp8"

# What each path is, for reports.
DESCRIPTIONS = {
    TORCH: "torch SDPA, default dispatch (torch.nn.functional.scaled_dot_product_attention)",
    EXACT: "attnfarm exact kernel (af_attn_exact_fwd)",
    INT8: "attnfarm INT8-QK kernel (af_attn_int8_fwd)",
    INT8FP8: "attnfarm INT8-QK + FP8 P·V kernel (af_attn_int8fp8_fwd)",
}

# Arch families whose torch SDPA beats our mma.sync kernels (cuDNN / wgmma).
_TORCH_FASTER_MAJORS = (9, 10)

_routing_enabled: Optional[bool] = None  # None: follow ATTNFARM_NO_TORCH_ROUTING
_caps: Dict[int, Tuple[int, int]] = {}


def set_torch_routing(enabled: bool) -> None:
    """Allow (default) or forbid handing exact/auto requests to torch's SDPA
    where it is faster. The environment variable ATTNFARM_NO_TORCH_ROUTING=1
    forbids it too."""
    global _routing_enabled
    _routing_enabled = bool(enabled)


def torch_routing_enabled() -> bool:
    if _routing_enabled is not None:
        return _routing_enabled
    return os.environ.get("ATTNFARM_NO_TORCH_ROUTING", "").strip().lower() not in ("1", "true", "yes", "on")


def choose(
    cap: Tuple[int, int],
    precision: str,
    *,
    head_dim: int,
    n_kv: int,
    torch_routable: bool,
    routing: bool = True,
) -> str:
    """The path for one request (pure: the table in this module's docstring)."""
    if precision in (INT8, INT8FP8):
        return precision
    torch_faster = cap[0] in _TORCH_FASTER_MAJORS
    if precision == EXACT:
        return TORCH if (torch_faster and torch_routable and routing) else EXACT
    if precision != "auto":
        raise ValueError(f"attnfarm: no route for precision {precision!r}")
    quantised = _compat.auto_precision(cap[0], cap[1])  # int8fp8 on sm_89/sm_120, else int8
    if torch_faster:
        if torch_routable and routing:
            return TORCH
        return quantised if head_dim > 64 and n_kv >= 8192 else EXACT
    return quantised if head_dim > 64 and n_kv >= 4096 else EXACT


def _capability(device: torch.device) -> Tuple[int, int]:
    index = device.index if device.index is not None else torch.cuda.current_device()
    cap = _caps.get(index)
    if cap is None:
        cap = tuple(torch.cuda.get_device_capability(index))  # type: ignore[assignment]
        _caps[index] = cap  # type: ignore[assignment]
    return cap  # type: ignore[return-value]


def _device_facts(index: int) -> Tuple[Tuple[int, int], bool]:
    return _capability(torch.device("cuda", index)), torch_routing_enabled()


# Under torch.compile the arch and the routing switch are trace-time constants
# (no graph break; a compiled function keeps the route it was traced with).
_device_facts_const = getattr(torch.compiler, "assume_constant_result", lambda f: f)(_device_facts)


def _shapes_ok(q, k, v, layout: str) -> bool:
    """The call is well-formed (else the op raises its own clear error)."""
    ts = (q, k, v)
    if not all(isinstance(t, torch.Tensor) for t in ts):
        return False
    if not all(t.is_cuda and t.dim() == 4 and t.layout == torch.strided for t in ts):
        return False
    if q.dtype not in (torch.float16, torch.bfloat16) or not (q.dtype == k.dtype == v.dtype):
        return False
    if not (q.device == k.device == v.device) or k.shape != v.shape:
        return False
    if any(t.stride(-1) != 1 and t.size(-1) != 1 for t in ts):
        return False
    hd = 2 if layout == "NHD" else 1
    sd = 1 if layout == "NHD" else 2
    if q.shape[0] != k.shape[0] or q.shape[3] != k.shape[3] or not (1 <= q.shape[3] <= 128):
        return False
    if k.shape[hd] < 1 or q.shape[hd] % k.shape[hd] != 0 or k.shape[sd] < 1:
        return False
    return True


def plan(q, k, v, *, causal: bool = False, layout: str = "HND", precision: str = "auto", return_lse: bool = False) -> str:
    """The path attnfarm.attention would take for these arguments:
    "torch-sdpa", "exact", "int8" or "int8fp8" (see DESCRIPTIONS)."""
    if precision in (INT8, INT8FP8):
        return precision
    if not _shapes_ok(q, k, v, layout):
        return EXACT
    sd = 1 if layout == "NHD" else 2
    n_q, n_kv, d = q.shape[sd], k.shape[sd], q.shape[3]
    routable = not return_lse and not (causal and n_q != n_kv)
    index = q.device.index if q.device.index is not None else torch.cuda.current_device()
    cap, routing = _device_facts_const(index)
    return choose(cap, precision, head_dim=d, n_kv=n_kv, torch_routable=routable, routing=routing)


def run_torch(q, k, v, *, causal: bool, layout: str, sm_scale: Optional[float]) -> torch.Tensor:
    """torch SDPA on attnfarm.attention's arguments; output contiguous in `layout`."""
    nhd = layout == "NHD"
    qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v)) if nhd else (q, k, v)
    kwargs = {}
    if qh.shape[1] != kh.shape[1]:
        kwargs["enable_gqa"] = True
    out = torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, is_causal=bool(causal), scale=sm_scale, **kwargs)
    if nhd:
        out = out.transpose(1, 2)
    return out.contiguous()


def table_for(cap: Tuple[int, int]) -> Dict[str, str]:
    """Human-readable routes of each precision on a GPU of this capability."""
    rows = {}
    for precision in (EXACT, INT8, INT8FP8, "auto"):
        r_big = choose(cap, precision, head_dim=128, n_kv=8192, torch_routable=True, routing=torch_routing_enabled())
        r_lse = choose(cap, precision, head_dim=128, n_kv=8192, torch_routable=False)
        r_small = choose(cap, precision, head_dim=64, n_kv=1024, torch_routable=False)
        text = DESCRIPTIONS[r_big]
        if r_lse != r_big:
            text += f"; with return_lse or causal n_q != n_kv: {DESCRIPTIONS[r_lse]}"
            if r_small != r_lse:
                text += f" (d=64 or short keys: {DESCRIPTIONS[r_small]})"
        elif r_small != r_big:
            text += f"; d=64 or short keys: {DESCRIPTIONS[r_small]}"
        rows[precision] = text
    return rows
