"""Routing of exact/auto requests to torch's SDPA where it is faster
(attnfarm._route): the table, what plan() says, and that the routed call
computes what was asked."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: these tests need torch and a built attnfarm wheel")
import torch.nn.functional as F

from _support import capture_graph, errors, make_qkv, reference, replay_with, to_hnd

HOPPER, AMPERE, ADA, BLACKWELL_DC, BLACKWELL = (9, 0), (8, 0), (8, 9), (10, 0), (12, 0)


def _choose(cap, precision, d=128, n_kv=8192, routable=True, routing=True):
    from attnfarm import _route

    return _route.choose(cap, precision, head_dim=d, n_kv=n_kv, torch_routable=routable, routing=routing)


def test_table_exact():
    for cap in (HOPPER, BLACKWELL_DC):
        assert _choose(cap, "exact") == "torch-sdpa"
        assert _choose(cap, "exact", routable=False) == "exact"
        assert _choose(cap, "exact", routing=False) == "exact"
    for cap in (AMPERE, ADA, BLACKWELL):
        assert _choose(cap, "exact") == "exact"


def test_table_int8_is_always_the_int8_kernel():
    for cap in (HOPPER, AMPERE, BLACKWELL_DC, BLACKWELL):
        for routable in (False, True):
            assert _choose(cap, "int8", d=64, n_kv=77, routable=routable) == "int8"


def test_table_int8fp8_is_always_the_int8fp8_kernel():
    for cap in (HOPPER, AMPERE, ADA, BLACKWELL_DC, BLACKWELL):
        for routable in (False, True):
            assert _choose(cap, "int8fp8", d=64, n_kv=77, routable=routable) == "int8fp8"


def test_table_auto():
    assert _choose(HOPPER, "auto") == "torch-sdpa"
    assert _choose(HOPPER, "auto", routable=False) == "int8"
    assert _choose(HOPPER, "auto", routable=False, n_kv=4096) == "exact"
    assert _choose(HOPPER, "auto", routable=False, d=64) == "exact"
    assert _choose(AMPERE, "auto") == "int8"
    assert _choose(AMPERE, "auto", n_kv=4096) == "int8"
    assert _choose(AMPERE, "auto", n_kv=2048) == "exact"
    assert _choose(AMPERE, "auto", d=64) == "exact"
    # Where auto quantises, int8fp8 on sm_89/sm_120 only, never on sm_80/86/90/100.
    for cap in (ADA, BLACKWELL):
        assert _choose(cap, "auto") == "int8fp8"
        assert _choose(cap, "auto", n_kv=4096) == "int8fp8"
        assert _choose(cap, "auto", n_kv=2048) == "exact"
        assert _choose(cap, "auto", d=64) == "exact"
    assert _choose((8, 6), "auto") == "int8"
    assert _choose(BLACKWELL_DC, "auto", routable=False) == "int8"


def test_arch_table_says_what_choose_does():
    """attnfarm._compat.ARCH_PATHS (READMEs, python -m attnfarm) and
    attnfarm._route.choose describe the same routing."""
    from attnfarm import _compat

    caps = {"sm_80, sm_86": (8, 0), "sm_89": ADA, "sm_90": HOPPER, "sm_100": BLACKWELL_DC, "sm_120": BLACKWELL}
    assert [row[0] for row in _compat.ARCH_PATHS] == list(caps)
    for archs, _, exact, auto, _ in _compat.ARCH_PATHS:
        cap = caps[archs]
        routed = _choose(cap, "exact") == "torch-sdpa"
        assert exact.startswith("torch SDPA if routable") == routed, archs
        assert auto.startswith("torch SDPA if routable") == (_choose(cap, "auto") == "torch-sdpa"), archs
        quantised = _choose(cap, "auto", routable=False)
        threshold = 8192 if routed else 4096
        assert f"`{quantised}` at d=128 and n_kv ≥ {threshold}, else `exact`" in auto, archs
        assert _choose(cap, "auto", routable=False, n_kv=threshold // 2) == "exact", archs


def test_table_refuses_unknown_precision():
    with pytest.raises(ValueError, match="no route for precision 'fp4'"):
        _choose(HOPPER, "fp4")


def test_env_var_turns_routing_off(monkeypatch):
    from attnfarm import _route

    _route._routing_enabled = None
    monkeypatch.setenv("ATTNFARM_NO_TORCH_ROUTING", "1")
    assert not _route.torch_routing_enabled()
    monkeypatch.setenv("ATTNFARM_NO_TORCH_ROUTING", "0")
    assert _route.torch_routing_enabled()
    monkeypatch.delenv("ATTNFARM_NO_TORCH_ROUTING")
    assert _route.torch_routing_enabled()


def _torch_faster_here() -> bool:
    return torch.cuda.get_device_capability()[0] in (9, 10)


@pytest.mark.gpu
@pytest.mark.parametrize("layout", ["HND", "NHD"])
@pytest.mark.parametrize("causal", [False, True])
def test_routed_exact_computes_the_exact_result(layout, causal):
    import attnfarm

    attnfarm.set_torch_routing(True)
    q, k, v = make_qkv(2, 8, 2, 300, 300, 128, torch.bfloat16, layout=layout)
    path = attnfarm.plan(q, k, v, causal=causal, layout=layout, precision="exact")
    assert path == ("torch-sdpa" if _torch_faster_here() else "exact")
    out = attnfarm.attention(q, k, v, causal=causal, layout=layout, precision="exact")
    assert out.shape == q.shape and out.dtype == q.dtype and out.is_contiguous()
    ref, _, valid = reference(to_hnd(q, layout), to_hnd(k, layout), to_hnd(v, layout), causal)
    err = errors(to_hnd(out, layout).float(), ref)
    assert err.cos >= 0.99999 and err.rel_l1 <= 5e-3, err
    if path == "torch-sdpa":
        qh, kh, vh = (to_hnd(t, layout) for t in (q, k, v))
        want = F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal, enable_gqa=True)
        torch.testing.assert_close(to_hnd(out, layout), want, rtol=0, atol=0)


@pytest.mark.gpu
def test_requests_torch_cannot_serve_stay_on_attnfarm():
    import attnfarm

    attnfarm.set_torch_routing(True)
    q, k, v = make_qkv(1, 4, 4, 200, 333, 64, torch.float16)
    # LSE wanted: torch's public SDPA does not return it.
    assert attnfarm.plan(q, k, v, precision="exact", return_lse=True) == "exact"
    out, lse = attnfarm.attention(q, k, v, precision="exact", return_lse=True)
    ref, ref_lse, _ = reference(q, k, v, False)
    assert errors(out.float(), ref).cos >= 0.99999
    torch.testing.assert_close(lse, ref_lse, rtol=1e-3, atol=1e-3)
    # Causal with n_q != n_kv: torch aligns the mask top-left, attnfarm bottom-right.
    assert attnfarm.plan(q, k, v, causal=True, precision="exact") == "exact"
    out = attnfarm.attention(q, k, v, causal=True, precision="exact")
    ref, _, valid = reference(q, k, v, True)
    assert errors(out[:, :, valid].float(), ref[:, :, valid]).cos >= 0.99999
    # An explicit int8 request runs the int8 kernel.
    assert attnfarm.plan(q, k, v, precision="int8") == "int8"


@pytest.mark.gpu
def test_routing_off_runs_our_kernels():
    import attnfarm

    attnfarm.set_torch_routing(False)
    q, k, v = make_qkv(1, 4, 4, 256, 256, 128, torch.float16)
    assert attnfarm.plan(q, k, v, precision="exact") == "exact"
    assert attnfarm.plan(q, k, v, precision="auto") in ("exact", "int8", "int8fp8")


@pytest.mark.gpu
def test_routed_call_compiles_fullgraph_and_captures_in_a_cuda_graph():
    import attnfarm

    attnfarm.set_torch_routing(True)
    q, k, v = make_qkv(1, 4, 4, 256, 256, 64, torch.float16)
    f = torch.compile(lambda q, k, v: attnfarm.attention(q, k, v, causal=True, precision="exact"), fullgraph=True)
    want = attnfarm.attention(q, k, v, causal=True, precision="exact")
    torch.testing.assert_close(f(q, k, v), want, rtol=2e-3, atol=2e-3)
    static = [t.clone() for t in (q, k, v)]
    g, out = capture_graph(lambda: attnfarm.attention(*static, precision="exact"))
    new = make_qkv(1, 4, 4, 256, 256, 64, torch.float16, seed=3)
    replay_with(g, static, new)
    torch.testing.assert_close(out, attnfarm.attention(*new, precision="exact"), rtol=2e-3, atol=2e-3)
