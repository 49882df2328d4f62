#!/usr/bin/env python3
"""Checks the landing page's selector in a real headless Chromium, with
JavaScript disabled (the selector is HTML + CSS only).

    cargo xtask index --preview target/landing-preview
    python3 install/landing_check.py target/landing-preview/index.html --out target/landing-shots

It clicks the platform, torch and CUDA buttons as a user would (mouse events
at the buttons' positions), then reads which install command is displayed,
through the DevTools protocol over a pipe (no network, no extra packages).
Checks: the default choice shows exactly one command; Linux + torch 2.9 +
CUDA 12 shows the cu12-torch2.9-linux_x86_64 command; a combination without
a wheel shows the "no wheel" note. Screenshots of each state go to --out.

Chromium comes from the system (Debian: `apt-get install chromium`); pass
--chromium or set CHROMIUM to use another binary. Exit status 0 only if
every check passed. Standard library only.
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
    "--window-size=1280,1100",
]


class Browser:
    """A Chromium driven through --remote-debugging-pipe (fd 3 in, fd 4 out)."""

    def __init__(self, binary, profile):
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        def child_fds():
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen(
            [binary] + FLAGS + ["--user-data-dir=" + profile, "about:blank"],
            preexec_fn=child_fds,
            # close_fds runs after preexec_fn: keep 3 and 4 themselves open.
            pass_fds=(to_r, from_w, 3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_r)
        os.close(from_w)
        self.reader = os.fdopen(self.from_r, "rb")
        self.next_id = 0
        self.session = None
        self.events = []

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("{}: {}".format(method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method):
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read())

    def _read(self):
        buf = bytearray()
        while True:
            b = self.reader.read(1)
            if not b:
                raise RuntimeError("Chromium closed the DevTools pipe (did it start?)")
            if b == b"\0":
                return json.loads(buf.decode())
            buf += b

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def find_chromium(given):
    for c in [given, os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]:
        if c and shutil.which(c):
            return shutil.which(c)
    return None


class Page:
    def __init__(self, browser, url):
        self.b = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"}, session=False)
        att = browser.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False)
        browser.session = att["sessionId"]
        browser.send("Page.enable")
        browser.send("DOM.enable")
        browser.send("CSS.enable")
        # The selector must work without script: the page runs none.
        browser.send("Emulation.setScriptExecutionDisabled", {"value": True})
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1280, "height": 1100, "deviceScaleFactor": 1, "mobile": False})
        browser.send("Page.navigate", {"url": url})
        browser.wait_event("Page.loadEventFired")
        self.root = browser.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]

    def node(self, selector):
        n = self.b.send("DOM.querySelector", {"nodeId": self.root, "selector": selector})["nodeId"]
        if not n:
            raise AssertionError("no element matches `{}`".format(selector))
        return n

    def nodes(self, selector):
        return self.b.send("DOM.querySelectorAll", {"nodeId": self.root, "selector": selector})["nodeIds"]

    def click(self, selector):
        n = self.node(selector)
        self.b.send("DOM.scrollIntoViewIfNeeded", {"nodeId": n})
        quad = self.b.send("DOM.getBoxModel", {"nodeId": n})["model"]["border"]
        x = (quad[0] + quad[2] + quad[4] + quad[6]) / 4
        y = (quad[1] + quad[3] + quad[5] + quad[7]) / 4
        for kind in ("mousePressed", "mouseReleased"):
            self.b.send("Input.dispatchMouseEvent",
                        {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def display(self, node):
        styles = self.b.send("CSS.getComputedStyleForNode", {"nodeId": node})["computedStyle"]
        return next(s["value"] for s in styles if s["name"] == "display")

    def attr(self, node, name):
        attrs = self.b.send("DOM.getAttributes", {"nodeId": node})["attributes"]
        return dict(zip(attrs[::2], attrs[1::2])).get(name)

    def shown_commands(self):
        return [self.attr(n, "data-variant") for n in self.nodes(".sel .cmd") if self.display(n) != "none"]

    def text(self, node):
        return self.b.send("DOM.getOuterHTML", {"nodeId": node})["outerHTML"]

    def screenshot(self, path):
        data = self.b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("page", help="the landing page (index.html) to check")
    p.add_argument("--out", default="landing-shots", help="folder for the screenshots")
    p.add_argument("--chromium", help="the Chromium binary")
    args = p.parse_args(argv)
    binary = find_chromium(args.chromium)
    if not binary:
        print("error: no Chromium found (apt-get install chromium, or pass --chromium)", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    url = "file://" + os.path.abspath(args.page)
    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="attnfarm-chromium-") as profile:
        b = Browser(binary, profile)
        try:
            page = Page(b, url)
            shown = page.shown_commands()
            check(len(shown) == 1, "default choice shows one command: {}".format(shown))
            page.screenshot(os.path.join(args.out, "landing-default.png"))

            for sel in ("#p-linux_x86_64", "#t-2_9", "#c-12"):
                page.click("label[for='{}']".format(sel[1:]))
            shown = page.shown_commands()
            want = "cu12-torch2.9-linux_x86_64"
            check(shown == [want], "Linux + torch 2.9 + CUDA 12 shows {}: {}".format(want, shown))
            if shown == [want]:
                html = page.text(page.node("#cmd-cu12-torch2_9-linux_x86_64"))
                check("--index-url https://" in html and want + "/simple/ attnfarm" in html,
                      "its pip command names the {} index".format(want))
            check(page.display(page.node(".sel .none")) == "none", "the no-wheel note is hidden")
            page.screenshot(os.path.join(args.out, "landing-linux-torch2.9-cu12.png"))

            page.click("label[for='c-13']")
            shown = page.shown_commands()
            check(shown == [], "torch 2.9 + CUDA 13 (no such wheel) shows no command: {}".format(shown))
            check(page.display(page.node(".sel .none")) != "none", "... and the no-wheel note")
            page.screenshot(os.path.join(args.out, "landing-no-wheel.png"))

            rows = page.nodes("table tr[id]")
            check(len(rows) == len(page.nodes(".sel .cmd")), "the table lists every variant ({} rows)".format(len(rows)))
        finally:
            b.close()
    print("{} check(s) failed".format(len(failures)) if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
