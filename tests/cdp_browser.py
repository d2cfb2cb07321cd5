"""A tiny headless-Chromium driver for the browser tests (Chrome DevTools Protocol over loopback).

Only what the tests need: open a URL, evaluate JavaScript until a condition holds, and list every
URL the page requested. It talks to Debian's ``chromium`` through websocket-client (a visdom
dependency), so no browser download and no extra package are needed.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

# Flags that keep Chromium off the (closed) network and quiet; a fresh profile each time.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         "--window-size=1280,1600"]


def find_chromium():
    """Path of the Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one page. Use as a context manager; it is always stopped."""

    def __init__(self, timeout: float = 30.0):
        import websocket

        binary = find_chromium()
        assert binary, "chromium is not installed (CI installs it in .ci/run: apt-get install chromium)"
        self.profile = tempfile.mkdtemp(prefix="gantool-chromium-")
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.requests: list[str] = []
        self._id = 0
        try:
            port = self._devtools_port(timeout)
            page = next(t for t in self._json(port, "list") if t["type"] == "page")
            # No Origin header: Chromium only accepts DevTools websockets from allowed origins or none.
            self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout,
                                                  suppress_origin=True)
            self.call("Page.enable")
            self.call("Network.enable")
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            lines.append(line)
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                return int(m.group(1))
        raise AssertionError("chromium did not start:\n" + "".join(lines[-20:]))

    @staticmethod
    def _json(port: int, what: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/{what}", timeout=10) as r:
            return json.load(r)

    def call(self, method: str, **params):
        """Send one DevTools command and return its result (events seen meanwhile are recorded)."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == "Network.requestWillBeSent":
                self.requests.append(msg["params"]["request"]["url"])
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def open(self, url: str) -> None:
        """Navigate to ``url`` (returns once the navigation started)."""
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (None if the page was reloading)."""
        try:
            result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        except RuntimeError:  # the context went away (a refresh) in the middle: ask again later
            return None
        if "exceptionDetails" in result:
            return None
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.25):
        """Evaluate ``expression`` until it is truthy; return that value, or fail with the last one."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout} s waiting for: {expression} (last value {value!r})")

    def close(self) -> None:
        """Stop the browser (only the process this object started) and remove its profile."""
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def file_url(path: str) -> str:
    """``file://`` URL of a local file."""
    return "file://" + urllib.request.pathname2url(os.path.abspath(path))
