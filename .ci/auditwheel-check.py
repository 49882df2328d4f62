"""auditwheel as the referee of a farm-built wheel's platform tag.

torch extensions link against torch's own libraries (libtorch*, libc10*) and
the CUDA runtime torch installs; auditwheel cannot see those as system
libraries, so its overall verdict for any such wheel is `linux_x86_64`. This
check therefore asks auditwheel the two questions that matter:

1. `auditwheel show`: the external libraries are exactly ones torch provides,
   and the symbol versions allow a tag no newer than ours (we never claim a
   glibc older than the binary needs);
2. `auditwheel repair --plat <our tag> --only-plat --exclude <those libs>`:
   with torch's libraries excluded (as pip-installed torch provides them),
   auditwheel writes the wheel under exactly our tag.

usage: python3 .ci/auditwheel-check.py WHEEL
"""

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TORCH_PROVIDED = re.compile(r"^(libtorch(_cpu|_cuda|_cuda_linalg|_global_deps)?\.so|libc10(_cuda)?\.so|libcudart\.so\.1[0-9])$")


def glibc(tag: str):
    m = re.match(r"manylinux_(\d+)_(\d+)_", tag)
    return (int(m.group(1)), int(m.group(2))) if m else None


def main() -> int:
    wheel = Path(sys.argv[1])
    ours = wheel.name[: -len(".whl")].split("-")[-1]
    show = json.loads(subprocess.run(["auditwheel", "show", "--json", str(wheel)], check=True, capture_output=True, text=True).stdout)
    problems = []
    external = sorted(show["external_libs"])
    foreign = [lib for lib in external if not TORCH_PROVIDED.match(lib)]
    if foreign:
        problems.append(f"libraries torch does not provide: {foreign}")
    sym = show["sym_tag"]
    if glibc(sym) is None or glibc(ours) is None or glibc(sym) > glibc(ours):
        problems.append(f"symbol versions need {sym}, but the wheel is tagged {ours}")
    with tempfile.TemporaryDirectory() as out:
        cmd = ["auditwheel", "repair", "--plat", ours, "--only-plat", "-w", out, str(wheel)]
        for lib in external:
            cmd += ["--exclude", lib]
        r = subprocess.run(cmd, capture_output=True, text=True)
        repaired = [p.name for p in Path(out).glob("*.whl")]
        if r.returncode != 0:
            problems.append(f"auditwheel repair --plat {ours} failed:\n{r.stdout}{r.stderr}")
        elif [n[: -len('.whl')].split('-')[-1] for n in repaired] != [ours]:
            problems.append(f"auditwheel repair wrote {repaired}, not a {ours} wheel")
    print(f"auditwheel: ours {ours}; symbols allow {sym}; excluded (provided by torch) {external}")
    for p in problems:
        print(f"auditwheel check FAILED: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
