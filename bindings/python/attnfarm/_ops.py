"""attnfarm.attention and the fake (meta) kernel of the attnfarm::fwd op."""

from __future__ import annotations

import contextlib
import re
from typing import Dict, Iterator, Optional, Tuple, Union

import torch

from . import _compat, _route

LAYOUTS = ("HND", "NHD")
PRECISIONS = ("exact", "int8", "int8fp8", "auto")

# Test-only kernel overrides (see force_kernel): public precision -> kernel
# name -> the private precision string the op takes for that exact kernel.
KERNELS: Dict[str, Dict[str, str]] = {
    "int8fp8": {
        "mma_sync": "_int8fp8_mma",  # INT8 Q·Kᵀ + e4m3 P·V, mma.sync m16n8k32, sm_89+
        "wgmma": "_fp8_wgmma",  # the same on sm_90a wgmma, d=128 only (experimental, kernels/README.md)
    },
}

# Filled in by __init__ once the library is loaded.
_state: Dict[str, object] = {"info": None, "disabled": None}
_arch_ok: Dict[int, bool] = {}
_forced: Dict[str, str] = {}  # see force_kernel


@contextlib.contextmanager
def force_kernel(precision: str, kernel: str) -> Iterator[None]:
    """Test-only: inside the block, calls with `precision` run exactly `kernel`.

    `with attnfarm._ops.force_kernel("int8fp8", "mma_sync"):` runs the
    mma.sync FP8 P·V kernel on any sm_89+ GPU, even where "int8fp8" normally
    picks another implementation (the GPU tests use this on Hopper). Not a
    public API: the names may change; not thread-safe.
    """
    try:
        private = KERNELS[precision][kernel]
    except KeyError:
        known = ", ".join(f"{p}/{k}" for p, ks in KERNELS.items() for k in ks)
        raise ValueError(f"attnfarm._ops.force_kernel: unknown kernel {precision!r}/{kernel!r} (known: {known})") from None
    saved = _forced.get(precision)
    _forced[precision] = private
    try:
        yield
    finally:
        if saved is None:
            _forced.pop(precision, None)
        else:
            _forced[precision] = saved


def _check_device_arch(device: torch.device) -> None:
    """First call per device: raise if the wheel has no code for its arch."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index in _arch_ok:
        return
    info = _state["info"]
    major, minor = torch.cuda.get_device_capability(index)
    problem = _compat.arch_problem(
        major,
        minor,
        torch.cuda.get_device_name(index),
        _compat.sass_list(info),
        getattr(info, "PTX_ARCH", None),
        getattr(info, "VARIANT", "?"),
    )
    if problem is not None:
        raise RuntimeError(problem)
    _arch_ok[index] = True


def _require_loaded() -> None:
    problem = _state["disabled"]
    if problem is not None:
        raise ImportError(problem)


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    layout: str = "HND",
    sm_scale: Optional[float] = None,
    precision: str = "auto",
    return_lse: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Scaled dot-product attention forward on CUDA.

    q: [b, h_q, n_q, d] (layout "HND") or [b, n_q, h_q, d] (layout "NHD");
    k, v: the same with h_kv heads and n_kv tokens; h_q % h_kv == 0 (GQA/MQA).
    fp16 or bf16; head_dim 64 or 128 natively, 1..127 zero-padded, > 128 refused.
    causal: bottom-right aligned (query i sees key j iff j <= i + n_kv - n_q).
    sm_scale: defaults to 1/sqrt(d) of the real head_dim.
    precision: "exact" (the exact result: attnfarm's exact kernel, or torch's
    SDPA on GPUs where that is faster, e.g. Hopper), "int8" (always attnfarm's
    INT8 kernel: int8 Q·Kᵀ, fp16/bf16 P·V with fp32 accumulation), "int8fp8"
    (always attnfarm's INT8-QK + FP8 kernel: int8 Q·Kᵀ, fp8 e4m3 P·V flushed to
    fp32 every 64 keys; sm_89+) or "auto" (the fastest path that meets the int8
    accuracy bar on this GPU and shape; where that is a quantised kernel, int8fp8
    on sm_89 and sm_120, int8 on other GPUs, each where it supports the request,
    exact otherwise). The routing table is in attnfarm._route (per arch:
    attnfarm._compat.ARCH_PATHS); attnfarm.plan(...) names the path a call
    takes, `python -m attnfarm` prints the table for your GPU, and
    attnfarm.set_torch_routing(False) (or ATTNFARM_NO_TORCH_ROUTING=1) forces
    attnfarm's own kernels.
    Returns the output in q's layout and dtype (contiguous), and with
    return_lse also the fp32 natural-log sum-exp [b, h_q, n_q].
    """
    _require_loaded()
    if layout not in LAYOUTS:
        raise ValueError(
            f'attnfarm.attention: layout must be "HND" ([batch, heads, seq, head_dim]) or "NHD" '
            f"([batch, seq, heads, head_dim]), got {layout!r}"
        )
    if precision not in PRECISIONS:
        raise ValueError(
            f'attnfarm.attention: precision must be "exact", "int8", "int8fp8" or "auto", got {precision!r}'
        )
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"attnfarm.attention: {name} must be a torch.Tensor, got {type(t).__name__}")
    if not torch.compiler.is_compiling() and q.is_cuda:
        _check_device_arch(q.device)
    path = _route.plan(q, k, v, causal=causal, layout=layout, precision=precision, return_lse=return_lse)
    if path == _route.TORCH:
        return _route.run_torch(q, k, v, causal=causal, layout=layout, sm_scale=sm_scale)
    # "auto" that chose a quantised kernel keeps the op's fallbacks (int8fp8 ->
    # int8 -> exact) for requests that kernel does not support.
    op_precision = _route.EXACT if path == _route.EXACT else (precision if precision == "auto" else path)
    if _forced and precision in _forced:
        op_precision = _forced[precision]
    args = (q, k, v, bool(causal), None if sm_scale is None else float(sm_scale), op_precision, bool(return_lse), layout)
    if torch.compiler.is_compiling():
        out, lse = torch.ops.attnfarm.fwd(*args)
    else:
        try:
            out, lse = torch.ops.attnfarm.fwd(*args)
        except RuntimeError as e:
            found = untag(str(e))
            if found is None:
                raise
            kind, message = found
            raise kind(message) from None
    if return_lse:
        return out, lse
    return out


# A stable-ABI build raises every error as RuntimeError (STD_TORCH_CHECK
# throws std::runtime_error), prefixed with the function and source line and
# tagged with the type the per-minor build raises (bindings/csrc/attention_core.h).
_TAG_RE = re.compile(r"\[attnfarm:(ValueError|TypeError|RuntimeError)\] ")
_TYPES = {"ValueError": ValueError, "TypeError": TypeError, "RuntimeError": RuntimeError}


def untag(message: str) -> Optional[Tuple[type, str]]:
    """``"fwd_cuda, x.cpp:12, [attnfarm:ValueError] msg"`` -> ``(ValueError, "msg")``;
    None for a message without a tag (a per-minor build, or torch's own error)."""
    m = _TAG_RE.search(message)
    if m is None:
        return None
    return _TYPES[m.group(1)], message[m.end():]


def register_fake() -> None:
    @torch.library.register_fake("attnfarm::fwd")
    def _fwd_fake(q, k, v, causal, sm_scale, precision, return_lse, layout):
        torch._check(q.dim() == 4 and k.dim() == 4 and v.dim() == 4, lambda: "attnfarm.attention: q, k, v must be 4-d")
        torch._check(q.dtype in (torch.float16, torch.bfloat16), lambda: f"attnfarm.attention: q must be torch.float16 or torch.bfloat16, got {q.dtype}")
        torch._check(q.dtype == k.dtype == v.dtype, lambda: "attnfarm.attention: q, k and v must have the same dtype")
        if layout == "NHD":
            b, n_q, h_q, d = q.shape
        else:
            b, h_q, n_q, d = q.shape
        out = torch.empty_like(q, memory_format=torch.contiguous_format)
        if return_lse:
            lse = q.new_empty((b, h_q, n_q), dtype=torch.float32)
        else:
            lse = q.new_empty((0,), dtype=torch.float32)
        return out, lse
