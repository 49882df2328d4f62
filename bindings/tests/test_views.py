"""Strided views: passed to the kernel as strides (no copy) when the kernel's
16-byte contract holds, copied (and still correct) when it does not."""

from __future__ import annotations

import pytest
torch = pytest.importorskip("torch", reason="torch is not installed: these tests need torch and a built attnfarm wheel")

from _support import check_finite_and_range, errors, reference, skip_unless_fp8_mma

pytestmark = pytest.mark.gpu


def _extra_bytes_during(fn):
    """Peak bytes the call allocated beyond what was live before it."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    result = fn()
    torch.cuda.synchronize()
    return result, torch.cuda.max_memory_allocated() - base


def _check(out_hnd, q, k, v, causal, min_cos=0.99999):
    ref, _, valid = reference(q, k, v, causal)
    check_finite_and_range(out_hnd, v, valid)
    err = errors(out_hnd[:, :, valid], ref[:, :, valid])
    assert err.cos >= min_cos, str(err)


@pytest.mark.parametrize("precision", ["exact", "int8", "int8fp8"])
def test_fused_qkv_slices_are_not_copied(precision):
    import attnfarm

    if precision == "int8fp8":
        skip_unless_fp8_mma()

    b, n, h, d = 2, 1025, 8, 128
    qkv = torch.randn(b, n, 3, h, d, device="cuda", dtype=torch.float16)
    q, k, v = qkv.unbind(dim=2)  # NHD views with row stride 3*h*d
    assert not q.is_contiguous()
    attnfarm.attention(q, k, v, layout="NHD", precision=precision)  # warm-up
    out, extra = _extra_bytes_during(lambda: attnfarm.attention(q, k, v, layout="NHD", causal=True, precision=precision))
    out_bytes = out.numel() * out.element_size()
    # The output plus (int8) a workspace far smaller than a copy of q, k and v.
    assert extra < out_bytes + 2 * q.numel() * q.element_size(), f"{extra} bytes allocated, output is {out_bytes}"
    if precision == "exact":
        assert extra < out_bytes + (1 << 20), f"exact kernel allocated {extra} bytes for a {out_bytes}-byte output"
    min_cos = 0.99999 if precision == "exact" else 0.999
    _check(out.transpose(1, 2), q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), True, min_cos)


def test_fused_qkv_hnd_slices():
    import attnfarm

    b, h, n, d = 1, 4, 700, 64
    qkv = torch.randn(b, h, n, 3 * d, device="cuda", dtype=torch.bfloat16)
    q, k, v = qkv.split(d, dim=-1)  # HND views with row stride 3*d
    out = attnfarm.attention(q, k, v, precision="exact")
    _check(out, q, k, v, False)


def test_misaligned_view_is_copied_and_correct():
    import attnfarm

    base = torch.randn(2, 4, 300, 72, device="cuda", dtype=torch.float16)
    q = base[..., 1:65]  # data pointer 2 bytes off 16-byte alignment, row stride 72
    k = base[..., 3:67]
    v = base[..., 5:69]
    out = attnfarm.attention(q, k, v, causal=True, precision="exact")
    _check(out, q, k, v, True)


def test_row_stride_not_multiple_of_8_is_copied_and_correct():
    import attnfarm

    base = torch.randn(1, 4, 257, 68, device="cuda", dtype=torch.float16)
    q = k = v = base[..., :64]  # 16-byte aligned start, row stride 68 elements
    out = attnfarm.attention(q, k, v, precision="exact")
    _check(out, q, k, v, False)


def test_broadcast_kv_heads_stride_zero():
    import attnfarm

    q = torch.randn(2, 8, 200, 128, device="cuda", dtype=torch.float16)
    k1 = torch.randn(2, 1, 200, 128, device="cuda", dtype=torch.float16)
    v1 = torch.randn(2, 1, 200, 128, device="cuda", dtype=torch.float16)
    k, v = k1.expand(2, 8, 200, 128), v1.expand(2, 8, 200, 128)
    out = attnfarm.attention(q, k, v, precision="exact")
    _check(out, q, k1.expand(2, 8, 200, 128).contiguous(), v1.expand(2, 8, 200, 128).contiguous(), False)


def test_empty_query_returns_empty_output():
    import attnfarm

    k = torch.randn(1, 2, 10, 64, device="cuda", dtype=torch.float16)
    for q in (torch.randn(1, 2, 0, 64, device="cuda", dtype=torch.float16), torch.randn(0, 2, 5, 64, device="cuda", dtype=torch.float16)[:, :, :, :]):
        kk = k if q.shape[0] == 1 else k[:0]
        out, lse = attnfarm.attention(q, kk, kk, return_lse=True)
        assert out.shape == q.shape and lse.shape == q.shape[:3]


def test_sm_scale_is_used():
    import attnfarm

    q, k, v = (torch.randn(1, 2, 129, 64, device="cuda", dtype=torch.float16) for _ in range(3))
    out = attnfarm.attention(q, k, v, sm_scale=0.3, precision="exact")
    ref, _, _ = reference(q, k, v, False, sm_scale=0.3)
    assert errors(out, ref).cos >= 0.99999
