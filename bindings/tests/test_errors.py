"""Every bad input is refused before a launch, with a message that says what
was expected and what was given; the process stays usable afterwards."""

from __future__ import annotations

import pytest
torch = pytest.importorskip("torch", reason="torch is not installed: these tests need torch and a built attnfarm wheel")

pytestmark = pytest.mark.gpu


def t(*shape, dtype=torch.float16, device="cuda"):
    return torch.randn(*shape, device=device, dtype=torch.float32).to(dtype)


def good():
    return t(2, 4, 64, 64), t(2, 4, 64, 64), t(2, 4, 64, 64)


# (id, builder of (q, k, v, kwargs), exception type, regex of the message)
CASES = [
    ("q_on_cpu", lambda: (t(2, 4, 64, 64, device="cpu"), *good()[1:], {}), ValueError, r"q must be a CUDA tensor, got device cpu"),
    ("all_on_cpu", lambda: (t(1, 1, 8, 64, device="cpu"),) * 3 + ({},), ValueError, r"must be CUDA tensors, got q on cpu"),
    ("float32", lambda: (t(2, 4, 64, 64, dtype=torch.float32),) * 3 + ({},), TypeError, r"q must be torch.float16 or torch.bfloat16, got torch.float32"),
    ("mixed_dtype", lambda: (good()[0], t(2, 4, 64, 64, dtype=torch.bfloat16), good()[2], {}), TypeError, r"same dtype, got q torch.float16, k torch.bfloat16, v torch.float16"),
    ("three_d", lambda: (t(4, 64, 64),) * 3 + ({},), ValueError, r"q must be 4-d .*got 3-d with shape \[4, 64, 64\]"),
    ("five_d", lambda: (t(1, 2, 4, 64, 64), *good()[1:], {}), ValueError, r"q must be 4-d .*got 5-d"),
    ("bad_layout", lambda: (*good(), {"layout": "BHSD"}), ValueError, r'layout must be "HND" .* or "NHD" .*got \'BHSD\''),
    ("bad_precision", lambda: (*good(), {"precision": "fp8"}), ValueError, r'precision must be "exact", "int8", "int8fp8" or "auto", got \'fp8\''),
    ("heads_not_multiple", lambda: (t(2, 6, 64, 64), t(2, 4, 64, 64), t(2, 4, 64, 64), {}), ValueError, r"number of q heads must be a multiple of the number of k/v heads .*got q 6 and k/v 4"),
    ("more_kv_heads", lambda: (t(2, 2, 64, 64), t(2, 4, 64, 64), t(2, 4, 64, 64), {}), ValueError, r"got q 2 and k/v 4"),
    ("head_dim_256", lambda: (t(1, 2, 16, 256),) * 3 + ({},), ValueError, r"head_dim \(dim 3\) must be between 1 and 128 .*got 256"),
    ("head_dim_mismatch", lambda: (t(2, 4, 64, 64), t(2, 4, 64, 128), t(2, 4, 64, 128), {}), ValueError, r"same head_dim \(dim 3\), got q 64 and k/v 128"),
    ("batch_mismatch", lambda: (t(3, 4, 64, 64), t(2, 4, 64, 64), t(2, 4, 64, 64), {}), ValueError, r"same batch size \(dim 0\), got q 3 and k/v 2"),
    ("kv_shape_mismatch", lambda: (t(2, 4, 64, 64), t(2, 4, 64, 64), t(2, 4, 65, 64), {}), ValueError, r"k and v must have the same shape, got k \[2, 4, 64, 64\] and v \[2, 4, 65, 64\]"),
    ("last_dim_strided", lambda: (t(2, 4, 64, 64).transpose(-1, -2), *good()[1:], {}), ValueError, r"q must have a contiguous last \(head_dim\) dimension \(stride 1\), got strides .*call .contiguous\(\)"),
    ("empty_kv", lambda: (t(2, 4, 64, 64), t(2, 4, 0, 64), t(2, 4, 0, 64), {}), ValueError, r"at least one key .*got an empty key sequence"),
    ("zero_heads", lambda: (t(2, 0, 64, 64), t(2, 0, 64, 64), t(2, 0, 64, 64), {}), ValueError, r"number of heads .* must be at least 1"),
    ("nan_scale", lambda: (*good(), {"sm_scale": float("nan")}), ValueError, r"sm_scale must be a finite positive number, got nan"),
    ("zero_scale", lambda: (*good(), {"sm_scale": 0.0}), ValueError, r"sm_scale must be a finite positive number, got 0"),
    ("negative_scale", lambda: (*good(), {"sm_scale": -0.125}), ValueError, r"sm_scale must be a finite positive number, got -0.125"),
    ("not_a_tensor", lambda: ([[1.0]], *good()[1:], {}), TypeError, r"q must be a torch.Tensor, got list"),
    ("nhd_heads", lambda: (t(2, 64, 6, 64), t(2, 64, 4, 64), t(2, 64, 4, 64), {"layout": "NHD"}), ValueError, r'dim 2 in layout "NHD"\), got q 6 and k/v 4'),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused(case):
    import attnfarm

    _, build, exc, pattern = case
    q, k, v, kwargs = build()
    with pytest.raises(exc, match=pattern):
        attnfarm.attention(q, k, v, **kwargs)


OP_CASES = [
    ("op_bad_layout", dict(layout="XYZ"), ValueError, r'layout must be "HND"'),
    ("op_bad_precision", dict(precision="int4"), ValueError, r'precision must be "exact", "int8", "int8fp8" or "auto", got "int4"'),
]


def op_raises(exc, pattern):
    """What calling the op directly raises. A per-minor build raises `exc`; a
    stable-ABI build raises RuntimeError (STD_TORCH_CHECK) whose message
    carries the same text behind the tag `[attnfarm:<exc>]`, which
    attnfarm.attention turns back into `exc`."""
    import attnfarm

    if attnfarm._compat.is_stable(attnfarm.build_info):
        return pytest.raises(RuntimeError, match=rf"\[attnfarm:{exc.__name__}\] .*?{pattern}")
    return pytest.raises(exc, match=pattern)


@pytest.mark.parametrize("case", OP_CASES, ids=[c[0] for c in OP_CASES])
def test_op_validates_without_python_wrapper(case):
    """The C++ op checks its arguments itself (torch.ops.attnfarm.fwd directly)."""
    _, override, exc, pattern = case
    args = dict(causal=False, sm_scale=None, precision="exact", return_lse=False, layout="HND")
    args.update(override)
    q, k, v = good()
    with op_raises(exc, pattern):
        torch.ops.attnfarm.fwd(q, k, v, args["causal"], args["sm_scale"], args["precision"], args["return_lse"], args["layout"])


def test_op_refuses_cpu_tensors_directly():
    q = t(1, 1, 8, 64, device="cpu")
    with op_raises(ValueError, "must be CUDA tensors"):
        torch.ops.attnfarm.fwd(q, q, q, False, None, "exact", False, "HND")


def test_devices_differ():
    import attnfarm

    q, k, v = good()
    with pytest.raises(ValueError, match=r"CUDA tensor, got device cpu|same device"):
        attnfarm.attention(q, k.cpu(), v)


def test_process_still_healthy_after_errors():
    import attnfarm

    for _, build, exc, _ in CASES:
        q, k, v, kwargs = build()
        with pytest.raises(exc):
            attnfarm.attention(q, k, v, **kwargs)
    q, k, v = good()
    out = attnfarm.attention(q, k, v, precision="exact")
    torch.cuda.synchronize()
    assert torch.isfinite(out).all()
