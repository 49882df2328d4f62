"""Shared fixtures of the attnfarm tests.

Every test needs the installed package (a wheel, or a hand-assembled package
dir on PYTHONPATH); tests marked `gpu` also need a CUDA device. Without them
the tests skip and say why (CI has no GPU and no built library).
"""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    import torch
except ImportError as e:  # pragma: no cover - depends on the machine
    torch = None
    _TORCH_PROBLEM = f"torch is not importable: {e}"
else:
    _TORCH_PROBLEM = None

_PKG_PROBLEM = None
attnfarm = None
if torch is not None:
    try:
        import attnfarm  # noqa: F811
    except ImportError as e:
        _PKG_PROBLEM = f"attnfarm is not importable (build a wheel or assemble a package dir first): {e}"


def _gpu_problem():
    if torch is None or not torch.cuda.is_available():
        return "no CUDA GPU visible to torch"
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU")


_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    base = _TORCH_PROBLEM or _PKG_PROBLEM
    gpu = _gpu_problem()
    for item in items:
        # This hook sees every collected item; only judge this directory's.
        if _HERE not in Path(str(item.fspath)).resolve().parents:
            continue
        if base:
            item.add_marker(pytest.mark.skip(reason=base))
        elif gpu and item.get_closest_marker("gpu"):
            item.add_marker(pytest.mark.skip(reason=gpu))


@pytest.fixture(autouse=True)
def _reset_sdpa_state():
    if attnfarm is None:
        yield
        return
    from attnfarm import _route, _sdpa

    saved = _sdpa._fallback_enabled
    saved_routing = _route._routing_enabled
    _sdpa._reset_warnings()
    # The kernel tests test attnfarm's own kernels: routing exact/auto requests
    # to torch's SDPA is off unless a test turns it on (test_route.py does).
    _route.set_torch_routing(False)
    yield
    _route._routing_enabled = saved_routing
    _sdpa._fallback_enabled = saved
    _sdpa._reset_warnings()
