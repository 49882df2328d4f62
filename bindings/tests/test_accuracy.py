"""Accuracy of attnfarm.attention against an fp32 math reference (and torch SDPA)."""

from __future__ import annotations

import pytest
torch = pytest.importorskip("torch", reason="torch is not installed: these tests need torch and a built attnfarm wheel")

from _support import check_finite_and_range, errors, kernel_for, make_qkv, reference, sdpa_error, thresholds, to_hnd

pytestmark = pytest.mark.gpu

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def run_case(b, hq, hk, nq, nk, d, dtype_name, causal, precision, kind="normal", layout="HND", seed=0):
    import attnfarm

    dtype = DTYPES[dtype_name]
    q, k, v = make_qkv(b, hq, hk, nq, nk, d, dtype, kind=kind, seed=seed, layout=layout)
    with kernel_for(precision):
        out, lse = attnfarm.attention(q, k, v, causal=causal, layout=layout, precision=precision, return_lse=True)
    assert out.shape == q.shape and out.dtype == q.dtype and out.is_contiguous()
    assert lse.shape == (b, hq, nq) and lse.dtype == torch.float32
    qh, kh, vh, oh = (to_hnd(t, layout) for t in (q, k, v, out))
    ref, ref_lse, valid = reference(qh, kh, vh, causal)
    check_finite_and_range(oh, vh, valid)
    err = errors(oh[:, :, valid], ref[:, :, valid])
    min_cos, l1_fp16, l1_bf16 = thresholds(precision, kind)
    max_l1 = l1_fp16 if dtype == torch.float16 else l1_bf16
    msg = f"{precision} {dtype_name} b{b} h{hq}/{hk} nq{nq} nk{nk} d{d} causal={causal} {kind} {layout}: {err}"
    assert err.cos >= min_cos, msg
    assert err.rel_l1 <= max_l1, msg
    # LSE: natural log, of the visible keys only.
    lse_err = (lse[:, :, valid] - ref_lse[:, :, valid]).abs().max().item()
    lse_tol = 1e-2 if precision == "exact" else 5e-2
    assert lse_err <= lse_tol * max(1.0, ref_lse[:, :, valid].abs().max().item()), f"{msg}; LSE max error {lse_err}"
    if precision == "exact":
        base = sdpa_error(qh, kh, vh, causal, ref, valid)
        assert err.rel_l1 <= 2 * base.rel_l1 + 1e-6, f"{msg}; torch SDPA: {base}"
    return err


@pytest.mark.parametrize("precision", ["exact", "int8", "int8fp8"])
@pytest.mark.parametrize("dtype_name", ["fp16", "bf16"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize("n", [77, 1025, 4097])
def test_grid(n, d, causal, dtype_name, precision):
    b, h = (2, 4) if n < 4097 else (1, 2)
    run_case(b, h, h, n, n, d, dtype_name, causal, precision)


@pytest.mark.parametrize("precision", ["exact", "int8", "int8fp8"])
@pytest.mark.parametrize("dtype_name", ["fp16", "bf16"])
@pytest.mark.parametrize("kind", ["vbias", "vlarge", "outliers"])
def test_stress(kind, dtype_name, precision):
    run_case(1, 4, 4, 1025, 1025, 128, dtype_name, True, precision, kind=kind)
    run_case(1, 4, 4, 777, 777, 64, dtype_name, False, precision, kind=kind, seed=1)


@pytest.mark.parametrize(
    "precision",
    [
        "exact",
        *(
            pytest.param(
                p,
                marks=pytest.mark.xfail(
                    strict=True,
                    reason="known limit: with 20-100x outliers in the same channels of Q and K, scores reach "
                    "hundreds and int8 rounding flips near-one-hot rows (CosSim about 0.985, measured on H100); "
                    "use precision='exact' for such models",
                ),
            )
            for p in ("int8", "int8fp8")
        ),
    ],
)
@pytest.mark.parametrize("dtype_name", ["fp16", "bf16"])
def test_stress_same_channel_qk_outliers(dtype_name, precision):
    run_case(1, 4, 4, 1025, 1025, 128, dtype_name, False, precision, kind="qk_outliers")


@pytest.mark.parametrize("precision", ["exact", "int8", "int8fp8"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("nq,nk", [(77, 1025), (1025, 77), (1, 4097), (300, 299), (128, 4096)])
def test_q_len_differs_from_kv_len(nq, nk, causal, precision):
    run_case(2, 4, 4, nq, nk, 128, "fp16", causal, precision)


@pytest.mark.parametrize("precision", ["exact", "int8", "int8fp8"])
@pytest.mark.parametrize("hq,hk", [(32, 8), (16, 1)], ids=["gqa32_8", "mqa16_1"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_gqa_mqa(hq, hk, causal, precision):
    run_case(1, hq, hk, 1025, 1025, 128, "bf16", causal, precision)


@pytest.mark.parametrize("precision", ["exact", "int8", "int8fp8"])
@pytest.mark.parametrize("d", [64, 128])
def test_nhd_layout(d, precision):
    run_case(2, 8, 2, 513, 1025, d, "fp16", True, precision, layout="NHD")


@pytest.mark.parametrize("precision", ["exact", "int8", "int8fp8"])
@pytest.mark.parametrize("d", [32, 40, 80, 96, 100])
def test_odd_head_dim_is_zero_padded(d, precision):
    # Policy: head_dim < 128 other than 64 is zero-padded to 64/128 inside the
    # op; sm_scale stays 1/sqrt(real d).
    run_case(1, 4, 4, 333, 333, d, "fp16", True, precision)
