#!/usr/bin/env python3
"""Install the attnfarm wheel that matches this Python's torch.

Run it with the Python you use (the one that has torch):

    python install.py            # detect, explain, run pip
    python install.py --dry-run  # detect, explain, print the pip command

It finds your torch version, the CUDA major torch was built with, the
platform and the GPU's compute capability, picks the variant from the
index's `variants.json` (the machine-readable list beside the landing page)
-- the per-minor wheel `cu<major>-torch<M.m>-<platform>` built for your torch
minor if there is one, else the stable-ABI wheel
`cu<major>-torchstable<F>-<platform>` whose floor F is at or below your torch
(it loads into every torch from F on) -- and runs
`python -m pip install --index-url <that variant's index> attnfarm`. Only
attnfarm comes from that index; torch stays as it is.

Standard library only; Python >= 3.9.
"""

import argparse
import json
import os
import platform as _platform
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

PROJECT = "attnfarm"
# Replaced with the Pages URL when the index is generated (`cargo xtask index`).
INDEX_BASE = "__ATTNFARM_INDEX_BASE__"
PLACEHOLDER = "__ATTNFARM_" + "INDEX_BASE__"

VARIANTS_SCHEMA = 1

EXIT_OK, EXIT_NO_MATCH, EXIT_USAGE = 0, 1, 2


class Refusal(Exception):
    """Something the user has to change; the message says what."""


def say(msg=""):
    print(msg, file=sys.stderr)


# ---------------------------------------------------------------- detection


class Env:
    """What was found about this Python."""

    def __init__(self):
        self.torch = None  # "2.9.1+cu128"
        self.cuda = None  # "12.8" (torch.version.cuda)
        self.platform = None  # "linux_x86_64"
        self.arch = None  # "9.0"
        self.arch_source = None  # "torch" | "nvidia-smi"
        self.notes = []


def detect_platform(fake=None):
    if fake:
        return fake
    machine = _platform.machine().lower()
    if sys.platform.startswith("linux"):
        if machine in ("x86_64", "amd64"):
            return "linux_x86_64"
        if machine in ("aarch64", "arm64"):
            return "linux_aarch64"
    elif sys.platform == "win32":
        if machine in ("amd64", "x86_64"):
            return "win_amd64"
    return "{}_{}".format(sys.platform, machine or "unknown")


def cuda_from_label(version):
    """`2.9.1+cu128` -> `12.8`; None for CPU/ROCm builds."""
    m = re.search(r"\+cu(\d+)(\d)$", version)
    return "{}.{}".format(m.group(1), m.group(2)) if m else None


def nvidia_smi_arch():
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    first = out.stdout.strip().splitlines()[:1]
    return first[0].strip() if out.returncode == 0 and first else None


def detect(args):
    env = Env()
    env.platform = detect_platform(args.fake_platform)
    if args.fake_torch is not None:
        if args.fake_torch.lower() != "none":
            env.torch = args.fake_torch
            env.cuda = args.fake_cuda if args.fake_cuda is not None else cuda_from_label(args.fake_torch)
            if env.cuda and env.cuda.lower() == "none":
                env.cuda = None
    else:
        try:
            import torch  # noqa: F401  (the user's torch)
        except ImportError:
            pass
        else:
            env.torch = str(torch.__version__)
            env.cuda = getattr(torch.version, "cuda", None)
            try:
                if env.cuda and torch.cuda.is_available():
                    major, minor = torch.cuda.get_device_capability(0)
                    env.arch, env.arch_source = "{}.{}".format(major, minor), "torch"
            except Exception as e:  # a broken driver should not stop the install
                env.notes.append("torch could not query the GPU ({})".format(e))
    if args.fake_arch is not None:
        if args.fake_arch.lower() != "none":
            env.arch, env.arch_source = args.fake_arch.replace("sm_", "").strip(), "given"
            if "." not in env.arch and len(env.arch) >= 2:
                env.arch = env.arch[:-1] + "." + env.arch[-1]
    elif env.arch is None and args.fake_torch is None:
        arch = nvidia_smi_arch()
        if arch:
            env.arch, env.arch_source = arch, "nvidia-smi"
    return env


def needs(env):
    """(torch minor, CUDA major) this Python needs a wheel for, or a Refusal."""
    if env.torch is None:
        raise Refusal(
            "torch is not installed in this Python ({}).\n"
            "Install torch first (a CUDA build, following PyTorch's install selector), "
            "then run this helper again with the same Python.".format(sys.executable)
        )
    m = re.match(r"(\d+)\.(\d+)", env.torch)
    if not m:
        raise Refusal("cannot read torch's version `{}`".format(env.torch))
    if not env.cuda:
        raise Refusal(
            "torch {} is not a CUDA build (torch.version.cuda is None); attnfarm's kernels need "
            "CUDA. Install a CUDA build of torch (its version ends in +cu<XY>), then run this "
            "helper again.".format(env.torch)
        )
    return (int(m.group(1)), int(m.group(2))), int(env.cuda.split(".")[0])


def describe(env):
    """What this Python needs, for messages. Ex) `torch 2.9, CUDA 12, linux_x86_64`"""
    (major, minor), cuda_major = needs(env)
    return "torch {}.{}, CUDA {}, {}".format(major, minor, cuda_major, env.platform)


def _minor(text):
    """`2.10` -> (2, 10); None if it is not a torch minor."""
    m = re.match(r"^(\d+)\.(\d+)$", str(text))
    return (int(m.group(1)), int(m.group(2))) if m else None


def choose(env, variants):
    """The variant to install from the index's `variants.json` entries (id ->
    entry), and why. The entries' `kind`, `torch`, `cuda_major` and `platform`
    fields decide, as the farm wrote them; ids are never composed here.

    1. The per-minor wheel for this torch minor, CUDA major and platform
       (built against this torch minor: it loads only into it).
    2. Else the stable-ABI wheel for this CUDA major and platform whose floor
       is at or below this torch (the newest such floor): it loads into every
       torch from its floor on, so it keeps working after torch upgrades.
    Returns (id, reason), or (None, what was wanted) if neither exists.
    """
    have, cuda_major = needs(env)
    best = None
    for i, v in sorted(variants.items()):
        if v.get("cuda_major") != cuda_major or v.get("platform") != env.platform:
            continue
        torch = _minor(v.get("torch"))
        if torch is None:
            continue
        if v.get("kind") == "per-minor" and torch == have:
            return i, "per-minor wheel for torch {}.{}".format(*have)
        if v.get("kind") == "stable" and torch <= have and (best is None or torch > best[0]):
            best = (torch, i)
    if best is not None:
        return best[1], "stable-ABI wheel for torch {}.{} and later".format(*best[0])
    return None, describe(env)


def torch_label(entry):
    """A variant's torch line: `2.9` (per-minor); `2.10+` (stable, the floor)."""
    return entry["torch"] + "+" if entry.get("kind") == "stable" else entry["torch"]


def _label_key(t):
    return tuple(int(x) for x in t.rstrip("+").split("."))


# ---------------------------------------------------------------- the index


def fetch(url):
    req = urllib.request.Request(url, headers={"User-Agent": "attnfarm-install"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read().decode("utf-8", "replace")


def base_of(base):
    if base.endswith(".html") or base.endswith(".json"):
        return base.rsplit("/", 1)[0] + "/"
    return base.rstrip("/") + "/"


def available_variants(base):
    """Variant id -> its entry in `variants.json` (index URL, wheels newest first)."""
    url = urllib.parse.urljoin(base, "variants.json")
    try:
        text = fetch(url)
    except (urllib.error.URLError, OSError) as e:
        raise Refusal("cannot read the variant list {}: {}\nCheck --base (the URL the index is served from).".format(url, e))
    try:
        data = json.loads(text)
        variants = {v["id"]: v for v in data["variants"]}
    except (ValueError, KeyError, TypeError) as e:
        raise Refusal("the variant list {} is not what this helper reads ({}); download install.py again from the index".format(url, e))
    if data.get("schema") != VARIANTS_SCHEMA:
        raise Refusal("the variant list {} has schema {}, this helper reads {}; download install.py again from the index".format(
            url, data.get("schema"), VARIANTS_SCHEMA))
    if not variants:
        raise Refusal("the variant list {} lists no variants; is --base the index's root?".format(url))
    return variants


def explain(env, base):
    say("attnfarm install helper")
    say("  python    {} ({})".format(_platform.python_version(), sys.executable))
    say("  torch     {}".format(env.torch or "not installed"))
    say("  CUDA      {}".format(env.cuda + " (torch.version.cuda)" if env.cuda else "none"))
    say("  platform  {}".format(env.platform))
    if env.arch:
        say("  GPU       compute capability {} (sm_{}, from {})".format(env.arch, env.arch.replace(".", ""), env.arch_source))
    else:
        say("  GPU       not found (no CUDA device visible to torch, no nvidia-smi)")
    say("  index     {}".format(base))
    for n in env.notes:
        say("  note      " + n)


def suggest(wanted, variants, env):
    lines = ["no attnfarm wheel matches this environment (wanted `{}`).".format(wanted), "Variants on this index:"]
    lines += ["  " + i for i in sorted(variants)]
    same = [v for v in variants.values() if v.get("platform") == env.platform]
    if not same:
        lines.append("None is built for platform {}; attnfarm ships {}.".format(
            env.platform, ", ".join(sorted({str(v.get("platform")) for v in variants.values()}))))
    else:
        torches = sorted({torch_label(v) for v in same}, key=_label_key)
        lines.append(
            "What to do: install a torch the index serves for {} (torch {}), with its CUDA build, "
            "then run this helper again; or build attnfarm for your torch from source "
            "(`cargo xtask build-matrix`, see docs/releasing.md).".format(env.platform, ", ".join(torches))
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", "--index-url", dest="base", help="URL the index is served from (its landing page's directory)")
    p.add_argument("--dry-run", action="store_true", help="print the pip command instead of running it")
    p.add_argument("--variant", help="install this variant id instead of the detected one")
    p.add_argument("--fake-torch", help=argparse.SUPPRESS)  # tests: torch version, or `none`
    p.add_argument("--fake-cuda", help=argparse.SUPPRESS)  # tests: torch.version.cuda, or `none`
    p.add_argument("--fake-platform", help=argparse.SUPPRESS)
    p.add_argument("--fake-arch", help=argparse.SUPPRESS)  # tests: `9.0`, `sm_90`, or `none`
    p.add_argument("pip_args", nargs="*", help="extra arguments for pip, after `--`")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    base = args.base or os.environ.get("ATTNFARM_INDEX_BASE") or INDEX_BASE
    if not base or base == PLACEHOLDER:
        say("error: this copy of install.py does not know where the index is; pass --base <URL of the index>")
        return EXIT_USAGE
    base = base_of(base)
    env = detect(args)
    explain(env, base)
    try:
        variants = available_variants(base)
        if args.variant:
            wanted, why = args.variant, "given with --variant"
            if wanted not in variants:
                raise Refusal(suggest(wanted, variants, env))
        else:
            wanted, why = choose(env, variants)
            if wanted is None:
                raise Refusal(suggest(why, variants, env))
        entry = variants[wanted]
        if not entry.get("wheels"):
            raise Refusal("the variant list names {} but holds no wheel for it".format(wanted))
        # The site's layout: <base>/<variant>/simple/ (entry["index_url"] names
        # the same place on the published site).
        index = urllib.parse.urljoin(base, wanted + "/simple/")
        try:
            fetch(urllib.parse.urljoin(index, PROJECT + "/"))
        except (urllib.error.URLError, OSError) as e:
            raise Refusal("the variant list names {} but its index {} cannot be read: {}".format(wanted, index, e))
    except Refusal as e:
        say("")
        say("error: {}".format(e))
        return EXIT_NO_MATCH
    if env.arch:
        try:
            if float(env.arch) < 8.0:
                say("  warning   attnfarm's kernels target compute capability 8.0 (Ampere) and newer; "
                    "this GPU ({}) is older and may not be supported".format(env.arch))
        except ValueError:
            pass
    say("  variant   {} ({})".format(wanted, why))
    newest = entry["wheels"][0]
    say("  newest    {} (sha256 {})".format(newest.get("file"), newest.get("sha256")))
    cmd = [sys.executable, "-m", "pip", "install", "--index-url", index, PROJECT] + list(args.pip_args)
    shown = " ".join(shlex.quote(c) for c in cmd)
    if args.dry_run:
        print(shown)
        return EXIT_OK
    say("running: " + shown)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
