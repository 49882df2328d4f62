"""attnfarm: fast attention kernels (exact and INT8-QK) as torch custom ops.

    import attnfarm
    out = attnfarm.attention(q, k, v, causal=True)              # [b, h, n, d]
    out = attnfarm.sdpa(q, k, v, is_causal=True)                 # drop-in for F.scaled_dot_product_attention

`python -m attnfarm` prints what is installed and what runs on this machine.
"""

from __future__ import annotations

import os as _os

# torch first: the compiled library links against libtorch and registers its
# ops into torch's dispatcher.
import torch as _torch

from . import _compat, _ops
from ._ops import attention
from ._route import plan, set_torch_routing, torch_routing_enabled
from ._sdpa import FallbackWarning, UnsupportedInputError, fallback_enabled, sdpa, set_fallback

__all__ = [
    "attention",
    "sdpa",
    "plan",
    "set_torch_routing",
    "torch_routing_enabled",
    "set_fallback",
    "fallback_enabled",
    "FallbackWarning",
    "UnsupportedInputError",
    "build_info",
    "load_problem",
]

_LIB_NAMES = ("_C.abi3.so", "_C.pyd", "_C.so")


def _find_library() -> str:
    here = _os.path.dirname(_os.path.abspath(__file__))
    for name in _LIB_NAMES:
        path = _os.path.join(here, name)
        if _os.path.exists(path):
            return path
    raise ImportError(
        f"attnfarm: the compiled library (one of {', '.join(_LIB_NAMES)}) is missing from {here}; "
        "the wheel is incomplete. Reinstall attnfarm for your torch and CUDA."
    )


def _load() -> None:
    info = _compat.load_build_info()
    if info is None:
        raise ImportError(_compat.MISSING_BUILD_INFO.format(path=_os.path.dirname(_os.path.abspath(__file__))))
    _ops._state["info"] = info
    # Before loading the library: a torch/CUDA mismatch would otherwise be an
    # `undefined symbol` OSError, or worse, a crash.
    problem = _compat.version_problem(info, _torch.__version__, _torch.version.cuda)
    if problem is not None:
        raise ImportError(problem)
    path = _find_library()
    try:
        _torch.ops.load_library(path)
    except OSError as e:
        raise ImportError(
            f"attnfarm: could not load {path} into torch {_torch.__version__} "
            f"(this wheel: {info.VARIANT}, built against torch {info.TORCH_BUILT_WITH}): {e}"
        ) from e
    _torch.ops.attnfarm._set_build_arches(_compat.arches_present(_compat.sass_list(info), info.PTX_ARCH))
    _ops.register_fake()


try:
    _load()
    load_problem = None
except ImportError as _e:
    if not _compat.running_as_main():
        raise
    # `python -m attnfarm`: keep the package importable so the report can say
    # what is wrong; every API call raises this ImportError.
    load_problem = str(_e)
    _ops._state["disabled"] = load_problem

build_info = _ops._state["info"]
__version__ = getattr(build_info, "VERSION", "0+unknown")
