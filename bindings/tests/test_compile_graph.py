"""torch.compile(fullgraph=True) and CUDA-graph capture of the attnfarm op."""

from __future__ import annotations

import pytest
torch = pytest.importorskip("torch", reason="torch is not installed: these tests need torch and a built attnfarm wheel")



def _qkv(shape=(2, 8, 300, 128), kv_heads=None, dtype=torch.float16, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    b, h, n, d = shape
    hk = kv_heads or h
    q = torch.randn(b, h, n, d, device="cuda", dtype=dtype, generator=g)
    k = torch.randn(b, hk, n, d, device="cuda", dtype=dtype, generator=g)
    v = torch.randn(b, hk, n, d, device="cuda", dtype=dtype, generator=g)
    return q, k, v


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["exact", "int8", "int8fp8"])
def test_compile_fullgraph(precision):
    import attnfarm
    from _support import skip_unless_fp8_mma

    if precision == "int8fp8":
        skip_unless_fp8_mma()

    torch._dynamo.reset()

    def f(q, k, v):
        o, lse = attnfarm.attention(q, k, v, causal=True, precision=precision, return_lse=True)
        return o * 2 + 1, lse.exp()

    q, k, v = _qkv(kv_heads=2)
    eager = f(q, k, v)
    compiled = torch.compile(f, fullgraph=True)(q, k, v)
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(compiled[1], eager[1], rtol=1e-6, atol=1e-6)


@pytest.mark.gpu
def test_compile_fullgraph_nhd_odd_dim_and_sdpa():
    import attnfarm

    torch._dynamo.reset()

    def f(q, k, v, qs, ks, vs):
        a = attnfarm.attention(q, k, v, layout="NHD", precision="exact")
        b = attnfarm.sdpa(qs, ks, vs, is_causal=True)
        return a.sum() + b.sum(), a, b

    q = torch.randn(2, 200, 4, 80, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(2, 200, 4, 80, device="cuda", dtype=torch.bfloat16)
    v = torch.randn(2, 200, 4, 80, device="cuda", dtype=torch.bfloat16)
    qs, ks, vs = _qkv()
    eager = f(q, k, v, qs, ks, vs)
    compiled = torch.compile(f, fullgraph=True)(q, k, v, qs, ks, vs)
    for c, e in zip(compiled[1:], eager[1:]):
        assert c.shape == e.shape and c.stride() == e.stride()
        torch.testing.assert_close(c, e, rtol=1e-3, atol=1e-3)


@pytest.mark.gpu
def test_compile_dynamic_shapes():
    import attnfarm

    torch._dynamo.reset()
    f = torch.compile(lambda q, k, v: attnfarm.attention(q, k, v, precision="exact"), fullgraph=True, dynamic=True)
    for n in (128, 257, 1000):
        q, k, v = _qkv((1, 4, n, 64))
        torch.testing.assert_close(f(q, k, v), attnfarm.attention(q, k, v, precision="exact"), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("device", ["meta", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_fake_kernel(device):
    """The registered fake kernel gives shapes, dtypes and strides without a GPU launch."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        q = torch.empty(2, 100, 8, 128, dtype=torch.float16, device=device)
        k = torch.empty(2, 50, 2, 128, dtype=torch.float16, device=device)
        out, lse = torch.ops.attnfarm.fwd(q, k, k, True, None, "auto", True, "NHD")
        assert out.shape == (2, 100, 8, 128) and out.is_contiguous()
        assert lse.shape == (2, 8, 100) and lse.dtype == torch.float32
        out2, lse2 = torch.ops.attnfarm.fwd(q.transpose(1, 2), k.transpose(1, 2), k.transpose(1, 2), False, 0.1, "exact", False, "HND")
        assert out2.shape == (2, 8, 100, 128) and out2.is_contiguous() and lse2.shape == (0,)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["exact", "int8", "int8fp8"])
def test_cuda_graph_capture_and_replay(precision):
    import attnfarm
    from _support import capture_graph, replay_with, skip_unless_fp8_mma

    if precision == "int8fp8":
        skip_unless_fp8_mma()

    q, k, v = _qkv((2, 8, 777, 128), kv_heads=4)
    static = [t.clone() for t in (q, k, v)]

    def call():
        return attnfarm.attention(*static, causal=True, precision=precision, return_lse=True)

    g, (out, lse) = capture_graph(call, warmup=2)

    for seed in (1, 2):
        new = _qkv((2, 8, 777, 128), kv_heads=4, seed=seed)
        replay_with(g, static, new)
        ref_out, ref_lse = attnfarm.attention(*new, causal=True, precision=precision, return_lse=True)
        torch.testing.assert_close(out, ref_out, rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(lse, ref_lse, rtol=1e-3, atol=1e-3)


@pytest.mark.gpu
def test_cuda_graph_padded_head_dim():
    import attnfarm
    from _support import capture_graph, replay_with

    static = list(_qkv((1, 4, 300, 96)))
    g, out = capture_graph(lambda: attnfarm.attention(*static, precision="exact"))
    new = _qkv((1, 4, 300, 96), seed=5)
    replay_with(g, static, new)
    torch.testing.assert_close(out, attnfarm.attention(*new, precision="exact"), rtol=1e-3, atol=1e-3)
