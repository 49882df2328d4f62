"""Build-record checks that need neither the compiled library nor a GPU.

Pure functions over version strings and arch names, so the import guard and
the arch check can be tested anywhere.
"""

from __future__ import annotations

import re
import sys
from types import ModuleType
from typing import List, Optional, Sequence, Tuple

MISSING_BUILD_INFO = (
    "attnfarm: attnfarm/_build_info.py is missing, so this is not an installed "
    "wheel but a source checkout ({path}). The compiled library attnfarm/_C and "
    "its build record are added by the build farm: install an attnfarm wheel that "
    "matches your torch and CUDA (or build one with `cargo xtask build-matrix`) "
    "and import that instead."
)


def load_build_info() -> Optional[ModuleType]:
    """The generated ``attnfarm._build_info`` module, or None in a source checkout."""
    try:
        from . import _build_info  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _build_info


def torch_minor(version: str) -> str:
    """``"2.11.0+cu130"`` -> ``"2.11"``."""
    m = re.match(r"^(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"cannot read a torch version from {version!r}")
    return f"{m.group(1)}.{m.group(2)}"


def cuda_major(version: Optional[str]) -> Optional[int]:
    """``"13.0"`` -> ``13``; None for CPU-only or ROCm builds of torch."""
    if not version:
        return None
    m = re.match(r"^(\d+)", version)
    return int(m.group(1)) if m else None


def _where_to_get(info: ModuleType) -> str:
    landing = getattr(info, "LANDING_URL", None)
    index = getattr(info, "INDEX_URL", None)
    parts = []
    if landing:
        parts.append(f"Every attnfarm variant and its install command is listed at {landing}.")
    else:
        parts.append("Install the attnfarm variant built for your torch and CUDA from the attnfarm release.")
    if index:
        parts.append(f"(This wheel came from {index}, the index of {info.VARIANT}.)")
    return " ".join(parts)


def is_stable(info: ModuleType) -> bool:
    """Whether the wheel is a stable-ABI build (``KIND = "stable"``): it loads
    into every torch from ``TORCH_MINOR`` (the floor) on. Wheels built before
    the kind was recorded are per-minor."""
    return getattr(info, "KIND", "per-minor") == "stable"


def minor_tuple(minor: str) -> Tuple[int, int]:
    """``"2.10"`` -> ``(2, 10)``, so that 2.10 sorts after 2.9."""
    a, b = minor.split(".")[:2]
    return int(a), int(b)


def version_problem(info: ModuleType, torch_version: str, torch_cuda: Optional[str]) -> Optional[str]:
    """Why this wheel cannot be loaded into this torch, or None if it can.

    Checked before the compiled library is loaded, so a mismatch is an
    ImportError that says what to install instead of an ``undefined symbol``.
    A per-minor wheel needs the torch minor it was built for; a stable wheel
    needs torch >= its floor. Both need torch's CUDA major.
    """
    if is_stable(info):
        return _stable_problem(info, torch_version, torch_cuda)
    built_minor = str(info.TORCH_MINOR)
    built_cuda = int(info.CUDA_MAJOR)
    have_minor = torch_minor(torch_version)
    have_cuda = cuda_major(torch_cuda)
    wheel = f"attnfarm {info.VERSION} (variant {info.VARIANT})"
    if have_minor != built_minor:
        cuda_note = f"CUDA {torch_cuda}" if torch_cuda else "no CUDA"
        return (
            f"{wheel} was built for torch {built_minor}.x (built against {info.TORCH_BUILT_WITH}, "
            f"CUDA {info.CUDA_TOOLKIT}), but torch {torch_version} ({cuda_note}) is installed. "
            f"The compiled library only loads into the torch minor it was built for. "
            f"Install the attnfarm wheel for torch {have_minor}"
            + (f" and CUDA {have_cuda}" if have_cuda is not None else "")
            + f", or torch {built_minor} with CUDA {built_cuda}. "
            + _where_to_get(info)
        )
    if have_cuda is None:
        return _needs_cuda(info, wheel, torch_version, built_minor)
    if have_cuda != built_cuda:
        return (
            f"{wheel} was built with CUDA {info.CUDA_TOOLKIT} (CUDA {built_cuda}.x), but torch "
            f"{torch_version} uses CUDA {torch_cuda}. Install the attnfarm wheel for torch "
            f"{have_minor} and CUDA {have_cuda}, or torch {built_minor} built with CUDA {built_cuda}. "
            + _where_to_get(info)
        )
    return None


def _needs_cuda(info: ModuleType, wheel: str, torch_version: str, install_torch: str) -> str:
    """The problem of a torch without CUDA (``torch.version.cuda`` is None)."""
    built_cuda = int(info.CUDA_MAJOR)
    return (
        f"{wheel} needs a CUDA build of torch (CUDA {built_cuda}), but torch {torch_version} "
        f"has no CUDA (torch.version.cuda is None). Install torch {install_torch} with CUDA "
        f"{built_cuda}. " + _where_to_get(info)
    )


def _stable_problem(info: ModuleType, torch_version: str, torch_cuda: Optional[str]) -> Optional[str]:
    floor = str(info.TORCH_MINOR)
    built_cuda = int(info.CUDA_MAJOR)
    have_minor = torch_minor(torch_version)
    have_cuda = cuda_major(torch_cuda)
    wheel = f"attnfarm {info.VERSION} (variant {info.VARIANT}, stable ABI: torch {floor} and later)"
    if minor_tuple(have_minor) < minor_tuple(floor):
        return (
            f"{wheel} needs torch >= {floor}, but torch {torch_version} is installed. "
            f"Upgrade torch to {floor} or later, or install the per-minor attnfarm wheel for torch {have_minor}"
            + (f" and CUDA {have_cuda}" if have_cuda is not None else "")
            + ". "
            + _where_to_get(info)
        )
    if have_cuda is None:
        return _needs_cuda(info, wheel, torch_version, f"{floor} or later")
    if have_cuda != built_cuda:
        return (
            f"{wheel} was built with CUDA {info.CUDA_TOOLKIT} (CUDA {built_cuda}.x), but torch "
            f"{torch_version} uses CUDA {torch_cuda}. Install the attnfarm stable wheel for CUDA {have_cuda} "
            f"(torch {floor} and later), or a torch built with CUDA {built_cuda}. "
            + _where_to_get(info)
        )
    return None


_ARCH_RE = re.compile(r"^(sm|compute)_(\d+)(\d)([af]?)$")


def parse_arch(name: str) -> Tuple[str, int, int, str]:
    """``"sm_90a"`` -> ``("sm", 9, 0, "a")``; ``"compute_120"`` -> ``("compute", 12, 0, "")``."""
    m = _ARCH_RE.match(name)
    if not m:
        raise ValueError(f"not a CUDA arch name: {name!r}")
    return m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)


def arches_present(sass: Sequence[str], ptx: Optional[str]) -> str:
    text = "SASS " + (", ".join(sass) if sass else "(none)")
    text += f" + PTX {ptx}" if ptx else ", no PTX"
    return text


def code_for_device(major: int, minor: int, sass: Sequence[str], ptx: Optional[str]) -> Optional[str]:
    """Which code in the wheel a device of compute capability major.minor runs.

    Returns e.g. ``"SASS sm_90"`` or ``"PTX compute_120 (JIT-compiled by the driver)"``,
    or None when nothing in the wheel can run on it.

    Rules: SASS ``sm_XY`` runs on X.Y' with Y' >= Y (same major); ``sm_XYa`` only
    on X.Y; ``sm_XYf`` on the same family (same major, Y' >= Y). PTX
    ``compute_XY`` is JIT-compiled for any X'.Y' >= X.Y; ``compute_XYa``/``f``
    only as its SASS counterpart.
    """
    best: Optional[Tuple[int, str]] = None
    for name in sass:
        _, x, y, suffix = parse_arch(name)
        ok = x == major and (minor == y if suffix == "a" else minor >= y)
        if ok and (best is None or (x * 10 + y) > best[0]):
            best = (x * 10 + y, name)
    if best is not None:
        return f"SASS {best[1]}"
    if ptx:
        _, x, y, suffix = parse_arch(ptx)
        if suffix == "a":
            ok = (major, minor) == (x, y)
        elif suffix == "f":
            ok = major == x and minor >= y
        else:
            ok = major * 10 + minor >= x * 10 + y
        if ok:
            return f"PTX {ptx} (JIT-compiled by the driver)"
    return None


def arch_problem(
    major: int, minor: int, device_name: str, sass: Sequence[str], ptx: Optional[str], variant: str
) -> Optional[str]:
    """Why this wheel cannot run on the device, or None if it can."""
    if code_for_device(major, minor, sass, ptx) is not None:
        return None
    return (
        f"attnfarm: this wheel ({variant}) has no kernel code for {device_name} (sm_{major}{minor}): "
        f"it carries {arches_present(sass, ptx)}. Install a variant that includes sm_{major}{minor} "
        f"or PTX for compute_{major}{minor} or lower (python -m attnfarm prints what is installed)."
    )


def running_as_main() -> bool:
    """True while ``python -m attnfarm`` is importing this package.

    The environment report must work exactly when the import guard fails, so
    in that case the package imports with its API disabled instead of raising.
    """
    orig = getattr(sys, "orig_argv", None)
    if orig is not None:
        for i, arg in enumerate(orig[:-1]):
            if arg == "-m":
                return orig[i + 1] in ("attnfarm", "attnfarm.__main__")
        return False
    return bool(sys.argv) and sys.argv[0] == "-m"


def sass_list(info: ModuleType) -> List[str]:
    return list(getattr(info, "SASS_ARCHES", None) or [])


# Which attention path runs on which GPU: the one table behind precision="exact"
# and "auto" (attnfarm._route.choose computes it per request; the C++ dispatch
# in bindings/csrc/attention_core.h picks the same quantised kernel for "auto"),
# printed by `python -m attnfarm` and copied into README.md and bindings/README.md.
# "Routable": no return_lse and not causal with n_q != n_kv (attnfarm._route).
# Rows: (archs, example GPUs, what precision="exact" runs, what precision="auto"
# runs, precision="int8fp8").
_AUTO_LOCAL = "`{}` at d=128 and n_kv ≥ 4096, else `exact`"
_ROUTED = "torch SDPA if routable, else {}"
ARCH_PATHS: Tuple[Tuple[str, str, str, str, str], ...] = (
    ("sm_80, sm_86", "A100, A10, RTX 30xx", "`exact`", _AUTO_LOCAL.format("int8"),
     "refused: no FP8 tensor cores (auto uses int8 + fp16/bf16 P·V)"),
    ("sm_89", "RTX 40xx, L4, L40", "`exact`", _AUTO_LOCAL.format("int8fp8"), "native e4m3 mma.sync (not run here)"),
    ("sm_90", "H100, H200", _ROUTED.format("`exact`"), _ROUTED.format("`int8` at d=128 and n_kv ≥ 8192, else `exact`"),
     "runs, slower than int8: ptxas emulates e4m3 mma.sync with fp16 MMAs (validated on H200)"),
    ("sm_100", "B200", _ROUTED.format("`exact`"), _ROUTED.format("`int8` at d=128 and n_kv ≥ 8192, else `exact`"),
     "runs, e4m3 mma.sync emulated with fp16 MMAs as on sm_90 (not run here)"),
    ("sm_120", "RTX 50xx, RTX PRO 6000", "`exact`", _AUTO_LOCAL.format("int8fp8"), "native e4m3 mma.sync (not run here)"),
)


def has_fp8_mma(major: int, minor: int) -> bool:
    """e4m3 ``mma.sync`` exists from sm_89 (Ada) on."""
    return major * 10 + minor >= 89


def auto_precision(major: int, minor: int) -> str:
    """The quantised kernel precision="auto" runs on this arch where it runs one
    (attnfarm._route decides when; the op falls back to int8 and then exact for
    requests a kernel does not support)."""
    sm = major * 10 + minor
    return "int8fp8" if sm == 89 or 120 <= sm < 130 else "int8"


def arch_paths_table() -> List[str]:
    """ARCH_PATHS as the Markdown table the READMEs carry."""
    rows = ["| GPU arch | e.g. | `exact` runs | `auto` runs | `int8fp8` |", "|---|---|---|---|---|"]
    rows += [f"| {a} | {g} | {e} | {p} | {f} |" for a, g, e, p, f in ARCH_PATHS]
    return rows
