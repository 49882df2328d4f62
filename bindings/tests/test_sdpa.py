"""attnfarm.sdpa: drop-in behaviour, fallback with one warning per reason, and
the fallback switched off."""

from __future__ import annotations

import warnings

import pytest
torch = pytest.importorskip("torch", reason="torch is not installed: these tests need torch and a built attnfarm wheel")
import torch.nn.functional as F


def _qkv(shape=(2, 4, 128, 64), device="cuda", dtype=torch.float16, kv_heads=None, nk=None):
    b, h, n, d = shape
    q = torch.randn(b, h, n, d, device=device, dtype=dtype)
    k = torch.randn(b, kv_heads or h, nk or n, d, device=device, dtype=dtype)
    v = torch.randn(b, kv_heads or h, nk or n, d, device=device, dtype=dtype)
    return q, k, v


def _fallback_warnings(record):
    import attnfarm

    return [w for w in record if issubclass(w.category, attnfarm.FallbackWarning)]


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("gqa", [False, True])
def test_supported_call_uses_attnfarm(causal, gqa):
    import attnfarm

    q, k, v = _qkv(kv_heads=2 if gqa else None)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = attnfarm.sdpa(q, k, v, is_causal=causal, enable_gqa=gqa)
    assert not _fallback_warnings(record)
    ours = attnfarm.attention(q, k, v, causal=causal, precision="exact")
    torch.testing.assert_close(out, ours, rtol=0, atol=0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa), rtol=2e-3, atol=2e-3)


@pytest.mark.gpu
def test_scale_is_passed():
    import attnfarm

    q, k, v = _qkv()
    torch.testing.assert_close(attnfarm.sdpa(q, k, v, scale=0.05), F.scaled_dot_product_attention(q, k, v, scale=0.05), rtol=2e-3, atol=2e-3)


FALLBACKS = [
    ("mask", lambda q, k, v: dict(attn_mask=torch.ones(q.shape[2], k.shape[2], dtype=torch.bool, device=q.device)), "attn_mask is given"),
    ("dropout", lambda q, k, v: dict(dropout_p=0.5), "dropout_p=0.5"),
    ("causal_l_ne_s", None, "is_causal with L != S"),
]


@pytest.mark.gpu
@pytest.mark.parametrize("case", FALLBACKS, ids=[c[0] for c in FALLBACKS])
def test_fallback_warns_once_per_reason(case):
    import attnfarm

    name, kwargs_fn, reason = case
    if name == "causal_l_ne_s":
        q, k, v = _qkv(nk=200)
        kwargs = dict(is_causal=True)
    else:
        q, k, v = _qkv()
        kwargs = kwargs_fn(q, k, v)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        torch.manual_seed(0)
        out = attnfarm.sdpa(q, k, v, **kwargs)
        for _ in range(3):
            attnfarm.sdpa(q, k, v, **kwargs)
    got = _fallback_warnings(record)
    assert len(got) == 1, [str(w.message) for w in got]
    assert reason in str(got[0].message)
    if name != "dropout":
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, **kwargs))


def test_fallback_cpu_float32_no_gpu_needed():
    import attnfarm

    q, k, v = _qkv(device="cpu", dtype=torch.float32)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = attnfarm.sdpa(q, k, v, is_causal=True)
        attnfarm.sdpa(q, k, v, is_causal=True)
        q16 = q.half()
        attnfarm.sdpa(q16, k.half(), v.half())  # another reason? no: still "not on CUDA"
    got = _fallback_warnings(record)
    assert len(got) == 1 and "not on CUDA" in str(got[0].message)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))


@pytest.mark.gpu
def test_distinct_reasons_warn_separately():
    import attnfarm

    q, k, v = _qkv()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(2):
            attnfarm.sdpa(q.float(), k.float(), v.float())
            attnfarm.sdpa(q, k, v, dropout_p=0.1)
    assert len(_fallback_warnings(record)) == 2


def test_fallback_off_raises(monkeypatch):
    import attnfarm

    q, k, v = _qkv(device="cpu", dtype=torch.float32)
    attnfarm.set_fallback(False)
    assert not attnfarm.fallback_enabled()
    with pytest.raises(attnfarm.UnsupportedInputError, match=r"cannot run this call: tensors not on CUDA.*fallback to torch SDPA is off"):
        attnfarm.sdpa(q, k, v)
    attnfarm.set_fallback(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attnfarm.sdpa(q, k, v)


def test_fallback_off_by_environment(monkeypatch):
    import attnfarm
    from attnfarm import _sdpa

    monkeypatch.setattr(_sdpa, "_fallback_enabled", None)
    monkeypatch.setenv("ATTNFARM_NO_FALLBACK", "1")
    assert not attnfarm.fallback_enabled()
    q, k, v = _qkv(device="cpu", dtype=torch.float32)
    with pytest.raises(attnfarm.UnsupportedInputError, match="ATTNFARM_NO_FALLBACK=1"):
        attnfarm.sdpa(q, k, v, attn_mask=None)
    monkeypatch.setenv("ATTNFARM_NO_FALLBACK", "0")
    assert attnfarm.fallback_enabled()


@pytest.mark.gpu
def test_fallback_off_gpu_mask():
    import attnfarm

    attnfarm.set_fallback(False)
    q, k, v = _qkv()
    with pytest.raises(attnfarm.UnsupportedInputError, match="attn_mask is given"):
        attnfarm.sdpa(q, k, v, attn_mask=torch.zeros(128, 128, device="cuda", dtype=torch.float16))
