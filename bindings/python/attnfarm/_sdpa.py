"""attnfarm.sdpa: a drop-in for torch.nn.functional.scaled_dot_product_attention."""

from __future__ import annotations

import math
import os
import threading
import warnings
from typing import Optional, Set

import torch
import torch.nn.functional as F

from . import _ops


class FallbackWarning(UserWarning):
    """attnfarm.sdpa handed a call to torch's SDPA (once per distinct reason)."""


class UnsupportedInputError(RuntimeError):
    """attnfarm.sdpa cannot serve a call and the fallback is turned off."""


_lock = threading.Lock()
_warned: Set[str] = set()
_fallback_enabled: Optional[bool] = None  # None: follow ATTNFARM_NO_FALLBACK


def set_fallback(enabled: bool) -> None:
    """Turn the torch-SDPA fallback of attnfarm.sdpa on or off (default on;
    the environment variable ATTNFARM_NO_FALLBACK=1 turns it off)."""
    global _fallback_enabled
    _fallback_enabled = bool(enabled)


def fallback_enabled() -> bool:
    if _fallback_enabled is not None:
        return _fallback_enabled
    return os.environ.get("ATTNFARM_NO_FALLBACK", "").strip().lower() not in ("1", "true", "yes", "on")


def _reset_warnings() -> None:
    """For tests: forget which fallback reasons were already warned about."""
    with _lock:
        _warned.clear()


def unsupported_reason(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa) -> Optional[str]:
    """Why attnfarm's kernels cannot serve this SDPA call, or None if they can."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, torch.Tensor):
            return f"{name} is not a torch.Tensor"
    if attn_mask is not None:
        return "attn_mask is given (attnfarm supports no mask other than is_causal)"
    if dropout_p != 0.0:
        return f"dropout_p={dropout_p} (attnfarm has no dropout)"
    if any(t.is_nested for t in (query, key, value)):
        return "nested tensors"
    if not (query.is_cuda and key.is_cuda and value.is_cuda):
        return f"tensors not on CUDA (query on {query.device}, key on {key.device}, value on {value.device})"
    if not (query.device == key.device == value.device):
        return "tensors on different devices"
    if query.dtype not in (torch.float16, torch.bfloat16):
        return f"dtype {query.dtype} (attnfarm runs float16 and bfloat16)"
    if not (query.dtype == key.dtype == value.dtype):
        return "query, key and value have different dtypes"
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        return "inputs are not 4-d [batch, heads, seq, head_dim]"
    if torch.is_grad_enabled() and (query.requires_grad or key.requires_grad or value.requires_grad):
        return "inputs require grad (attnfarm is forward-only)"
    b, hq, nq, d = query.shape
    bk, hk, nk, dk = key.shape
    if tuple(value.shape) != (bk, hk, nk, dk):
        return f"value shape {tuple(value.shape)} differs from key shape {tuple(key.shape)}"
    if bk != b or dk != d:
        return "query and key differ in batch or head_dim"
    if d > 128:
        return f"head_dim {d} > 128"
    if nk == 0 or nq == 0 or b == 0:
        return "empty sequence or batch"
    if hq != hk:
        if not enable_gqa:
            return "query and key have different head counts and enable_gqa=False"
        if hq % hk != 0:
            return f"query heads {hq} are not a multiple of key heads {hk}"
    if is_causal and nq != nk:
        return "is_causal with L != S (torch SDPA aligns the mask top-left, attnfarm bottom-right)"
    if query.stride(-1) != 1 or key.stride(-1) != 1 or value.stride(-1) != 1:
        return "last dimension not contiguous"
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        return f"scale={scale} (attnfarm's kernels take a finite positive scale)"
    return None


def _fallback(reason: str) -> None:
    if not fallback_enabled():
        raise UnsupportedInputError(
            f"attnfarm.sdpa cannot run this call: {reason}; the fallback to torch SDPA is off "
            f"(attnfarm.set_fallback(False) or ATTNFARM_NO_FALLBACK=1)"
        )
    with _lock:
        first = reason not in _warned
        _warned.add(reason)
    if first:
        warnings.warn(
            f"attnfarm.sdpa: falling back to torch SDPA: {reason} (warned once per reason)",
            FallbackWarning,
            stacklevel=3,
        )


def sdpa(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: Optional[torch.Tensor] = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: Optional[float] = None,
    enable_gqa: bool = False,
    *,
    precision: str = "exact",
) -> torch.Tensor:
    """Drop-in for torch.nn.functional.scaled_dot_product_attention (layout
    [batch, heads, seq, head_dim]).

    What runs: calls that attnfarm cannot serve (a mask, dropout, grad, ...) go
    to torch's SDPA with one FallbackWarning per distinct reason. The others go
    to attnfarm.attention with this precision ("exact" (default), "int8",
    "int8fp8" or "auto"), which follows the routing table of attnfarm._route:
    precision="exact" runs torch's SDPA itself (no warning: it is the faster
    exact path) on GPUs where that beats attnfarm's exact kernel (Hopper sm_90,
    Blackwell sm_100), attnfarm's exact kernel elsewhere; "int8" and "int8fp8"
    always run attnfarm's kernel of that name; "auto" the fastest path meeting
    the int8 accuracy bar. attnfarm.plan(query, key, value, causal=is_causal,
    precision=...) names the path of a call.
    """
    reason = unsupported_reason(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if reason is None and not torch.compiler.is_compiling():
        if _ops._state["disabled"] is not None:
            reason = "attnfarm is not loaded: " + str(_ops._state["disabled"])
        else:
            try:
                _ops._check_device_arch(query.device)
            except RuntimeError as e:
                reason = str(e)
    if reason is not None:
        _fallback(reason)
        kwargs = {}
        if enable_gqa:
            kwargs["enable_gqa"] = True
        return F.scaled_dot_product_attention(
            query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale, **kwargs
        )
    return _ops.attention(query, key, value, causal=is_causal, layout="HND", sm_scale=scale, precision=precision)
