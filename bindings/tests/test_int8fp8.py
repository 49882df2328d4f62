"""precision="int8fp8" (INT8 Q·Kᵀ + FP8 e4m3 P·V): which GPUs run it, what
"auto" picks, the test-only kernel override, and the arch table of the docs.
Accuracy is in test_accuracy.py (every case there also runs int8fp8)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
torch = pytest.importorskip("torch", reason="torch is not installed: these tests need torch and a built attnfarm wheel")

from _support import THRESHOLDS, errors, make_qkv, reference, skip_unless_fp8_mma

REPO = Path(__file__).resolve().parents[2]


def test_arch_table_in_readmes_matches_the_package():
    from attnfarm import _compat

    table = _compat.arch_paths_table()
    for doc in (REPO / "README.md", REPO / "bindings" / "README.md"):
        text = doc.read_text(encoding="utf-8")
        assert "\n".join(table) in text, f"{doc}: the arch table differs from attnfarm._compat.arch_paths_table():\n" + "\n".join(table)


def test_auto_precision_table():
    from attnfarm import _compat

    assert [_compat.auto_precision(*cc) for cc in ((8, 0), (8, 6), (8, 9), (9, 0), (10, 0), (12, 0))] == [
        "int8", "int8", "int8fp8", "int8", "int8", "int8fp8"
    ]
    assert not _compat.has_fp8_mma(8, 6) and _compat.has_fp8_mma(8, 9) and _compat.has_fp8_mma(12, 0)


def test_force_kernel_rejects_unknown_names():
    from attnfarm import _ops

    with pytest.raises(ValueError, match=r"unknown kernel 'int8fp8'/'wgmma9' \(known: int8fp8/mma_sync"):
        with _ops.force_kernel("int8fp8", "wgmma9"):
            pass
    assert not _ops._forced


def test_private_kernel_name_is_not_public():
    import attnfarm

    q = torch.zeros(1, 1, 8, 64, dtype=torch.float16)
    with pytest.raises(ValueError, match='precision must be "exact", "int8", "int8fp8" or "auto"'):
        attnfarm.attention(q, q, q, precision="_int8fp8_mma")


@pytest.mark.gpu
def test_auto_runs_the_documented_kernel():
    import attnfarm
    from attnfarm import _compat

    major, minor = torch.cuda.get_device_capability()
    expected = _compat.auto_precision(major, minor)
    # d=128 and 8192 keys: auto quantises on every arch (attnfarm._route; the
    # conftest turns routing to torch off, and causal n_q != n_kv is not routable).
    q, k, v = make_qkv(1, 4, 2, 333, 8192, 128, torch.float16, seed=3)
    assert attnfarm.plan(q, k, v, causal=True, precision="auto") == expected
    auto = attnfarm.attention(q, k, v, causal=True, precision="auto")
    picked = attnfarm.attention(q, k, v, causal=True, precision=expected)
    assert torch.equal(auto, picked), f"auto on sm_{major}{minor} should run {expected}"
    if _compat.has_fp8_mma(major, minor):
        other = "int8" if expected == "int8fp8" else "int8fp8"
        assert not torch.equal(auto, attnfarm.attention(q, k, v, causal=True, precision=other))


@pytest.mark.gpu
def test_forced_mma_sync_kernel_is_deterministic_and_accurate():
    import attnfarm
    from attnfarm import _ops

    skip_unless_fp8_mma()
    q, k, v = make_qkv(2, 8, 8, 1025, 1025, 128, torch.bfloat16, seed=5)
    with _ops.force_kernel("int8fp8", "mma_sync"):
        a = attnfarm.attention(q, k, v, precision="int8fp8")
        b = attnfarm.attention(q, k, v, precision="int8fp8")
    assert torch.equal(a, b)
    ref, _, valid = reference(q, k, v, False)
    err = errors(a, ref)
    min_cos, max_l1, _ = THRESHOLDS["int8fp8"]
    assert err.cos >= min_cos and err.rel_l1 <= max_l1, str(err)


@pytest.mark.gpu
def test_int8fp8_refused_below_sm89():
    import attnfarm

    major, minor = torch.cuda.get_device_capability()
    if major * 10 + minor >= 89:
        pytest.skip(f"needs a GPU below sm_89 (this one is sm_{major}{minor}): checks the refusal message")
    q, k, v = make_qkv(1, 2, 2, 64, 64, 64, torch.float16)
    with pytest.raises(RuntimeError, match=r'precision="int8fp8" needs FP8 \(e4m3\) tensor cores, sm_89'):
        attnfarm.attention(q, k, v, precision="int8fp8")
    # auto never picks it there: where auto quantises (d=128, 4096 keys), same bits as int8.
    q, k, v = make_qkv(1, 2, 2, 64, 4096, 128, torch.float16)
    assert attnfarm.plan(q, k, v, precision="auto") == "int8"
    assert torch.equal(attnfarm.attention(q, k, v), attnfarm.attention(q, k, v, precision="int8"))


@pytest.mark.gpu
def test_report_prints_the_arch_table_and_the_auto_path():
    from attnfarm import _compat

    out = subprocess.run([sys.executable, "-m", "attnfarm"], capture_output=True, text=True, timeout=300, cwd="/")
    assert out.returncode == 0, out.stdout + out.stderr
    for row in _compat.arch_paths_table():
        assert row in out.stdout, out.stdout
    major, minor = torch.cuda.get_device_capability()
    expected = _compat.auto_precision(major, minor)
    assert re.search(rf"^  auto +{expected} kernel", out.stdout, re.M), out.stdout
