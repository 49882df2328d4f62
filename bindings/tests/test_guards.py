"""Import guard (torch/CUDA version), arch guard, and `python -m attnfarm`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types

import pytest
torch = pytest.importorskip("torch", reason="torch is not installed: these tests need torch and a built attnfarm wheel")


def _info(**overrides):
    base = dict(
        VERSION="2026.1.0+cu130torch2.11",
        VARIANT="cu13-torch2.11-linux_x86_64",
        TORCH_MINOR="2.11",
        TORCH_BUILT_WITH="2.11.0",
        CUDA_TOOLKIT="13.0",
        CUDA_MAJOR=13,
        SASS_ARCHES=["sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120"],
        PTX_ARCH="compute_120",
        INDEX_URL="https://example.invalid/attnfarm/cu13-torch2.11-linux_x86_64/simple/",
        LANDING_URL="https://example.invalid/attnfarm/",
        REVISION="0123abc",
    )
    base.update(overrides)
    return types.SimpleNamespace(**base)


def test_version_match_is_fine():
    from attnfarm import _compat

    assert _compat.version_problem(_info(), "2.11.0+cu130", "13.0") is None
    assert _compat.version_problem(_info(), "2.11.1", "13.2") is None


def test_torch_minor_mismatch_names_both_and_where_to_go():
    from attnfarm import _compat

    msg = _compat.version_problem(_info(), "2.10.0+cu128", "12.8")
    assert "built for torch 2.11.x" in msg and "torch 2.10.0+cu128" in msg
    assert "torch 2.10 and CUDA 12" in msg
    assert "https://example.invalid/attnfarm/" in msg
    assert "cu13-torch2.11-linux_x86_64/simple/" in msg


def test_cuda_major_mismatch():
    from attnfarm import _compat

    msg = _compat.version_problem(_info(), "2.11.0+cu128", "12.8")
    assert "built with CUDA 13.0" in msg and "uses CUDA 12.8" in msg and "torch 2.11 and CUDA 12" in msg


def test_cpu_only_torch():
    from attnfarm import _compat

    msg = _compat.version_problem(_info(LANDING_URL=None, INDEX_URL=None), "2.11.0+cpu", None)
    assert "needs a CUDA build of torch" in msg and "torch.version.cuda is None" in msg


def _stable_info(**overrides):
    base = dict(
        KIND="stable",
        VERSION="2026.1.0+cu130torchstable2.10",
        VARIANT="cu13-torchstable2.10-linux_x86_64",
        TORCH_MINOR="2.10",
        TORCH_BUILT_WITH="2.10.0+cu128",
        INDEX_URL="https://example.invalid/attnfarm/cu13-torchstable2.10-linux_x86_64/simple/",
    )
    base.update(overrides)
    return _info(**base)


@pytest.mark.parametrize("have", ["2.10.0+cu130", "2.11.0", "2.12.1+cu130", "2.15.0+cu132", "3.0.0"])
def test_stable_wheel_loads_into_every_torch_from_the_floor(have):
    from attnfarm import _compat

    cuda = "13.2" if "cu132" in have else "13.0"
    assert _compat.version_problem(_stable_info(), have, cuda) is None


def test_stable_wheel_refuses_torch_below_the_floor():
    from attnfarm import _compat

    msg = _compat.version_problem(_stable_info(), "2.9.1+cu130", "13.0")
    assert "needs torch >= 2.10" in msg and "torch 2.9.1+cu130 is installed" in msg
    assert "per-minor attnfarm wheel for torch 2.9 and CUDA 13" in msg
    assert "https://example.invalid/attnfarm/" in msg


def test_stable_wheel_checks_the_cuda_major_only():
    from attnfarm import _compat

    assert _compat.version_problem(_stable_info(), "2.13.0", "13.9") is None
    msg = _compat.version_problem(_stable_info(), "2.13.0+cu128", "12.8")
    assert "built with CUDA 13.0" in msg and "uses CUDA 12.8" in msg
    assert "stable wheel for CUDA 12 (torch 2.10 and later)" in msg
    msg = _compat.version_problem(_stable_info(), "2.13.0+cpu", None)
    assert "needs a CUDA build of torch" in msg


def test_per_minor_is_the_default_kind():
    from attnfarm import _compat

    assert not _compat.is_stable(_info())
    assert _compat.is_stable(_stable_info())
    assert _compat.minor_tuple("2.10") > _compat.minor_tuple("2.9")


def test_stable_error_tags_map_to_python_types():
    from attnfarm import _ops

    msg = "fwd_cuda, bindings/csrc/stable/attention.cpp:55, [attnfarm:ValueError] attnfarm.attention: q must be 4-d"
    assert _ops.untag(msg) == (ValueError, "attnfarm.attention: q must be 4-d")
    assert _ops.untag("raise, x.cpp:1, [attnfarm:TypeError] bad dtype") == (TypeError, "bad dtype")
    assert _ops.untag("CUDA error: out of memory") is None


@pytest.mark.parametrize(
    "cap,sass,ptx,expect",
    [
        ((9, 0), ["sm_80", "sm_90"], None, "SASS sm_90"),
        ((8, 6), ["sm_80", "sm_90"], None, "SASS sm_80"),
        ((8, 9), ["sm_80", "sm_86"], None, "SASS sm_86"),
        ((9, 0), ["sm_80"], None, None),
        ((9, 0), ["sm_80"], "compute_80", "PTX compute_80 (JIT-compiled by the driver)"),
        ((10, 0), ["sm_90a"], None, None),
        ((9, 0), ["sm_90a"], None, "SASS sm_90a"),
        ((10, 3), ["sm_100f"], None, "SASS sm_100f"),
        ((10, 3), ["sm_100a"], None, None),
        ((12, 1), ["sm_120"], None, "SASS sm_120"),
        ((7, 5), ["sm_80"], "compute_80", None),
        ((12, 0), ["sm_90"], "compute_120", "PTX compute_120 (JIT-compiled by the driver)"),
    ],
)
def test_code_for_device(cap, sass, ptx, expect):
    from attnfarm import _compat

    assert _compat.code_for_device(*cap, sass, ptx) == expect


def test_arch_problem_message():
    from attnfarm import _compat

    msg = _compat.arch_problem(7, 5, "Tesla T4", ["sm_80", "sm_90"], "compute_90", "cu13-torch2.11-linux_x86_64")
    assert "Tesla T4 (sm_75)" in msg and "SASS sm_80, sm_90 + PTX compute_90" in msg


@pytest.mark.gpu
def test_first_call_on_missing_arch_raises(monkeypatch):
    import attnfarm
    from attnfarm import _ops

    major, minor = torch.cuda.get_device_capability()
    other = "sm_75" if (major, minor) != (7, 5) else "sm_80"
    monkeypatch.setattr(_ops, "_arch_ok", {})
    monkeypatch.setitem(_ops._state, "info", _info(SASS_ARCHES=[other], PTX_ARCH=None))
    q = torch.randn(1, 1, 16, 64, device="cuda", dtype=torch.float16)
    with pytest.raises(RuntimeError, match=rf"no kernel code for .*\(sm_{major}{minor}\): it carries SASS {other}, no PTX"):
        attnfarm.attention(q, q, q)
    # sdpa falls back instead, with the same reason in its warning.
    with pytest.warns(attnfarm.FallbackWarning, match=rf"sm_{major}{minor}"):
        attnfarm.sdpa(q, q, q)


def _copy_package(tmp_path, build_info_text):
    import attnfarm

    src = os.path.dirname(attnfarm.__file__)
    dst = tmp_path / "attnfarm"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    bi = dst / "_build_info.py"
    if build_info_text is None:
        bi.unlink()
    else:
        bi.write_text(build_info_text)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tmp_path) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _build_info_text(**overrides):
    info = vars(_info(**overrides))
    return "".join(f"{k} = {v!r}\n" for k, v in info.items())


def _run(args, env):
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, cwd="/")


def test_import_refuses_other_torch_minor_before_loading(tmp_path):
    env = _copy_package(tmp_path, _build_info_text(TORCH_MINOR="2.9", TORCH_BUILT_WITH="2.9.1", VERSION="2026.1.0+cu130torch2.9", VARIANT="cu13-torch2.9-linux_x86_64"))
    r = _run(["-c", "import attnfarm"], env)
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "built for torch 2.9.x" in r.stderr and f"torch {torch.__version__}" in r.stderr
    assert "undefined symbol" not in r.stderr
    # The report still runs and says why.
    r = _run(["-m", "attnfarm"], env)
    assert r.returncode == 1 and "NOT LOADED" in r.stdout and "built for torch 2.9.x" in r.stdout, r.stdout + r.stderr


def test_import_without_build_info_says_source_checkout(tmp_path):
    env = _copy_package(tmp_path, None)
    r = _run(["-c", "import attnfarm"], env)
    assert r.returncode != 0 and "source checkout" in r.stderr and "_build_info.py is missing" in r.stderr


def test_environment_report():
    r = _run(["-m", "attnfarm"], dict(os.environ))
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    for key in ("Python", "torch ", "torch CUDA", "attnfarm", "variant", "arches", "loaded         yes"):
        assert key in out, out
    if torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability()
        assert f"sm_{major}{minor}" in out and "exact" in out and "int8" in out and "auto" in out, out


def test_import_refuses_torch_below_a_stable_floor(tmp_path):
    have = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
    floor = f"{have[0]}.{have[1] + 1}"
    env = _copy_package(
        tmp_path,
        _build_info_text(KIND="stable", TORCH_MINOR=floor, VERSION=f"2026.1.0+cu130torchstable{floor}", VARIANT=f"cu13-torchstable{floor}-linux_x86_64"),
    )
    r = _run(["-c", "import attnfarm"], env)
    assert r.returncode != 0
    assert "ImportError" in r.stderr and f"needs torch >= {floor}" in r.stderr
