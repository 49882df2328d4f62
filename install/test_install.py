"""Tests of install.py against a local index served by `python3 -m http.server`
on 127.0.0.1, with fake environments (no torch, no GPU needed).

Run: python3 -m unittest discover -s install -v
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, "install.py")

# What `variants.json` says of each variant (the fields install.py reads; the
# farm writes them, see xtask/src/index/site.rs): id -> (kind, torch, CUDA major, platform).
FIELDS = {
    "cu12-torch2.9-linux_x86_64": ("per-minor", "2.9", 12, "linux_x86_64"),
    "cu12-torch2.9-win_amd64": ("per-minor", "2.9", 12, "win_amd64"),
    "cu13-torchstable2.10-linux_x86_64": ("stable", "2.10", 13, "linux_x86_64"),
    "cu13-torch2.12-linux_x86_64": ("per-minor", "2.12", 13, "linux_x86_64"),
    "cu13-torchstable2.11-linux_x86_64": ("stable", "2.11", 13, "linux_x86_64"),
}
VARIANTS = [
    "cu12-torch2.9-linux_x86_64",
    "cu12-torch2.9-win_amd64",
    "cu13-torchstable2.10-linux_x86_64",
]


def entry(v):
    """A `variants.json` entry as the farm writes it (the fields install.py reads)."""
    kind, torch, cuda_major, platform = FIELDS[v]
    return {
        "id": v,
        "kind": kind,
        "torch": torch,
        "cuda_major": cuda_major,
        "platform": platform,
        "index_url": "https://example.invalid/{}/simple/".format(v),
        "wheels": [{"file": "attnfarm-2026.1.0+x-cp39-abi3-any.whl", "sha256": "00"}],
    }


def write_index(root, listed=VARIANTS):
    """The layout `cargo xtask index` writes: landing page, variants.json, one PEP 503 tree per variant."""
    rows = "".join(
        '<tr id="{v}"><td><code>{v}</code></td><td><code>python -m pip install --index-url '
        "https://example.invalid/{v}/simple/ attnfarm</code></td></tr>\n".format(v=v)
        for v in VARIANTS
    )
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><html><body><table>\n" + rows + "</table></body></html>\n")
    entries = [entry(v) for v in listed]
    with open(os.path.join(root, "variants.json"), "w") as f:
        json.dump({"schema": 1, "project": "attnfarm", "variants": entries}, f)
    for v in VARIANTS:
        d = os.path.join(root, v, "simple", "attnfarm")
        os.makedirs(d)
        with open(os.path.join(root, v, "simple", "index.html"), "w") as f:
            f.write('<a href="attnfarm/">attnfarm</a>\n')
        with open(os.path.join(d, "index.html"), "w") as f:
            f.write('<a href="../../../x/attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-any.whl#sha256=00">'
                    "attnfarm-2026.1.0+cu128torch2.9-cp39-abi3-any.whl</a>\n")


def helper_and_env(torch, cuda, platform):
    """install.py as a module, and an environment of its as detection fills it in."""
    sys.path.insert(0, HERE)
    try:
        import install as helper
    finally:
        sys.path.remove(HERE)
    env = helper.Env()
    env.torch, env.cuda, env.platform = torch, cuda, platform
    return helper, env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HelperTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="attnfarm-install-")
        # One variant listed but without its index.
        write_index(cls.root, VARIANTS + ["cu13-torch2.12-linux_x86_64"])
        port = free_port()
        cls.server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", cls.root],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cls.base = "http://127.0.0.1:{}/".format(port)
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait()
        shutil.rmtree(cls.root)

    def helper(self, *args, script=HELPER):
        p = subprocess.run([sys.executable, script] + list(args), capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def test_picks_linux_variant(self):
        rc, out, err = self.helper(
            "--base", self.base, "--dry-run",
            "--fake-torch", "2.9.1+cu128", "--fake-platform", "linux_x86_64", "--fake-arch", "9.0",
        )
        self.assertEqual(rc, 0, err)
        self.assertIn("torch     2.9.1+cu128", err)
        self.assertIn("CUDA      12.8", err)
        self.assertIn("compute capability 9.0 (sm_90", err)
        self.assertIn("variant   cu12-torch2.9-linux_x86_64", err)
        want = "-m pip install --index-url {}cu12-torch2.9-linux_x86_64/simple/ attnfarm".format(self.base)
        self.assertIn(want, out)
        self.assertNotIn("--extra-index-url", out)

    def test_picks_windows_and_cuda13(self):
        rc, out, _ = self.helper("--base", self.base, "--dry-run", "--fake-torch", "2.9.0+cu126",
                                 "--fake-platform", "win_amd64", "--fake-arch", "none")
        self.assertEqual(rc, 0)
        self.assertIn("cu12-torch2.9-win_amd64/simple/", out)
        rc, out, _ = self.helper("--base", self.base + "index.html", "--dry-run", "--fake-torch", "2.11.0",
                                 "--fake-cuda", "13.0", "--fake-platform", "linux_x86_64", "--fake-arch", "sm_120")
        self.assertEqual(rc, 0)
        self.assertIn("cu13-torchstable2.10-linux_x86_64/simple/", out)

    def test_stable_wheel_serves_every_torch_from_its_floor(self):
        for torch in ("2.10.0+cu130", "2.11.0", "2.15.0+cu132", "3.1.0+cu135"):
            rc, out, err = self.helper("--base", self.base, "--dry-run", "--fake-torch", torch,
                                       "--fake-cuda", "13.2" if "cu132" in torch else "13.0",
                                       "--fake-platform", "linux_x86_64", "--fake-arch", "9.0")
            self.assertEqual(rc, 0, err)
            self.assertIn("cu13-torchstable2.10-linux_x86_64/simple/", out)
            self.assertIn("stable-ABI wheel for torch 2.10 and later", err)
        # Below the floor there is no stable wheel, and no per-minor cu13 one.
        rc, out, err = self.helper("--base", self.base, "--dry-run", "--fake-torch", "2.9.1+cu130",
                                   "--fake-platform", "linux_x86_64", "--fake-arch", "9.0")
        self.assertEqual(rc, 1)
        self.assertIn("wanted `torch 2.9, CUDA 13, linux_x86_64`", err)
        # The CUDA major must match: no cu12 stable wheel on this index.
        rc, out, err = self.helper("--base", self.base, "--dry-run", "--fake-torch", "2.12.1+cu128",
                                   "--fake-platform", "linux_x86_64", "--fake-arch", "9.0")
        self.assertEqual(rc, 1)
        self.assertIn("2.9, 2.10+", err)

    def test_choose_prefers_the_exact_per_minor_wheel(self):
        helper, env = helper_and_env("2.12.1+cu130", "13.0", "linux_x86_64")
        ids = ["cu13-torch2.12-linux_x86_64", "cu13-torchstable2.10-linux_x86_64", "cu13-torchstable2.11-linux_x86_64"]
        listed = {i: entry(i) for i in ids}
        stable = {i: entry(i) for i in ids[1:]}
        self.assertEqual(helper.choose(env, listed)[0], "cu13-torch2.12-linux_x86_64")
        self.assertEqual(helper.choose(env, stable)[0], "cu13-torchstable2.11-linux_x86_64")
        env.torch = "2.10.2"
        self.assertEqual(helper.choose(env, stable)[0], "cu13-torchstable2.10-linux_x86_64")
        env.platform = "win_amd64"
        self.assertEqual(helper.choose(env, listed), (None, "torch 2.10, CUDA 13, win_amd64"))

    def test_choose_reads_the_entries_fields_not_the_ids(self):
        # The choice follows what variants.json says of a variant, whatever its id reads.
        helper, env = helper_and_env("2.12.1+cu130", "13.0", "linux_x86_64")
        listed = {"some-future-name": dict(entry("cu13-torch2.12-linux_x86_64"), id="some-future-name")}
        self.assertEqual(helper.choose(env, listed), ("some-future-name", "per-minor wheel for torch 2.12"))

    def test_no_matching_variant_lists_what_exists(self):
        rc, out, err = self.helper("--base", self.base, "--dry-run", "--fake-torch", "2.6.0+cu124",
                                   "--fake-platform", "linux_x86_64", "--fake-arch", "8.0")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("wanted `torch 2.6, CUDA 12, linux_x86_64`", err)
        for v in VARIANTS:
            self.assertIn(v, err)
        self.assertIn("What to do", err)
        self.assertIn("2.9, 2.10+", err)

    def test_unsupported_platform(self):
        rc, _, err = self.helper("--base", self.base, "--fake-torch", "2.9.1+cu128", "--fake-platform", "darwin_arm64",
                                 "--fake-arch", "none")
        self.assertEqual(rc, 1)
        self.assertIn("None is built for platform darwin_arm64", err)

    def test_no_torch(self):
        rc, _, err = self.helper("--base", self.base, "--fake-torch", "none", "--fake-platform", "linux_x86_64",
                                 "--fake-arch", "none")
        self.assertEqual(rc, 1)
        self.assertIn("torch is not installed", err)

    def test_cpu_torch(self):
        rc, _, err = self.helper("--base", self.base, "--fake-torch", "2.9.1+cpu", "--fake-platform", "linux_x86_64",
                                 "--fake-arch", "none")
        self.assertEqual(rc, 1)
        self.assertIn("not a CUDA build", err)

    def test_listed_variant_without_index(self):
        rc, _, err = self.helper("--base", self.base, "--dry-run", "--fake-torch", "2.12.1+cu130",
                                 "--fake-platform", "linux_x86_64", "--fake-arch", "none")
        self.assertEqual(rc, 1)
        self.assertIn("cannot be read", err)

    def test_unreachable_index(self):
        rc, _, err = self.helper("--base", "http://127.0.0.1:{}/".format(free_port()), "--fake-torch", "2.9.1+cu128",
                                 "--fake-platform", "linux_x86_64", "--fake-arch", "none")
        self.assertEqual(rc, 1)
        self.assertIn("cannot read the variant list", err)

    def test_reads_variants_json_not_html(self):
        # A landing page that names no variant does not matter: the list is variants.json.
        with open(os.path.join(self.root, "index.html")) as f:
            saved = f.read()
        with open(os.path.join(self.root, "index.html"), "w") as f:
            f.write("<html>redesigned</html>")
        try:
            rc, out, err = self.helper("--base", self.base, "--dry-run", "--fake-torch", "2.9.1+cu128",
                                       "--fake-platform", "linux_x86_64", "--fake-arch", "none")
        finally:
            with open(os.path.join(self.root, "index.html"), "w") as f:
                f.write(saved)
        self.assertEqual(rc, 0, err)
        self.assertIn("cu12-torch2.9-linux_x86_64/simple/", out)
        self.assertIn("newest    attnfarm-2026.1.0+x-cp39-abi3-any.whl (sha256 00)", err)

    def test_base_substituted_at_index_generation(self):
        # What the index writer does: replace the placeholder with the base URL.
        with open(HELPER) as f:
            text = f.read()
        placeholder = "__ATTNFARM_" + "INDEX_BASE__"
        self.assertEqual(text.count('INDEX_BASE = "{}"'.format(placeholder)), 1)
        copy = os.path.join(self.root, "install.py")
        with open(copy, "w") as f:
            f.write(text.replace(placeholder, self.base))
        try:
            rc, out, err = self.helper("--dry-run", "--fake-torch", "2.9.1+cu128", "--fake-platform", "linux_x86_64",
                                       "--fake-arch", "none", script=copy)
        finally:
            os.remove(copy)
        self.assertEqual(rc, 0, err)
        self.assertIn("cu12-torch2.9-linux_x86_64/simple/", out)

    def test_unsubstituted_copy_asks_for_base(self):
        rc, _, err = self.helper("--fake-torch", "2.9.1+cu128")
        self.assertEqual(rc, 2)
        self.assertIn("pass --base", err)

    def test_runs_pip(self):
        # Without --dry-run the helper runs pip; `--dry-run` after `--` goes to pip, which then
        # resolves against the local index without installing anything.
        rc, out, err = self.helper("--base", self.base, "--fake-torch", "2.9.1+cu128", "--fake-platform",
                                   "linux_x86_64", "--fake-arch", "none", "--", "--dry-run", "--no-deps",
                                   "--disable-pip-version-check", "--quiet")
        self.assertIn("running: ", err)
        self.assertIn("--index-url {}cu12-torch2.9-linux_x86_64/simple/".format(self.base), err)


if __name__ == "__main__":
    unittest.main()
