"""The live dashboard against a real visdom server (``gantool dashboard``) and in headless Chromium.

Everything runs on 127.0.0.1 with free ports; servers and browsers are started by the tests and
stopped at the end. Needs the dashboard assets (`gantool dashboard-assets`) and Debian's chromium,
both set up by .ci/run, like the README's test command.
"""

import base64
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image

from cdp_browser import Browser, file_url
from conftest import REPO, TINY, run_cli, write_images
from gantool.viz import TrainingVisualizer

GANTOOL = [sys.executable, "-c", "import sys; from gantool.cli import main; sys.exit(main())"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dashboard:
    """``gantool dashboard`` in a subprocess on a free loopback port, ready when constructed."""

    def __init__(self, folder, timeout=30.0):
        self.port = _free_port()
        self.log_path = os.path.join(folder, f"dashboard-{self.port}.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([*GANTOOL, "dashboard", "--port", str(self.port), "--env_path",
                                          os.path.join(folder, "visdom_envs")], stdout=log, stderr=subprocess.STDOUT,
                                         env=dict(os.environ, PYTHONPATH=REPO), cwd=folder)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2) as r:
                    assert r.status == 200
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError("the dashboard did not start:\n" + self.output())
                time.sleep(0.2)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        """Stop the server this object started."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def client(self, env):
        import logging
        import warnings

        import visdom

        logging.getLogger("visdom").setLevel(logging.ERROR)  # its "setting up a session" chatter
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return visdom.Visdom("http://127.0.0.1", port=self.port, env=env, raise_exceptions=True,
                                 use_incoming_socket=False)

    def windows(self, env):
        """Every window of ``env``, read back through visdom's API: {window id: window data}."""
        return json.loads(self.client(env).get_window_data(env=env))


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    server = Dashboard(str(tmp_path_factory.mktemp("dashboard")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def trained(dashboard, tmp_path_factory):
    """A 2-epoch CycleGAN run with the dashboard on (env "e2e"); returns (run_dir, process result)."""
    root = tmp_path_factory.mktemp("e2e")
    for sub, seed in (("trainA", 1), ("trainB", 2)):
        write_images(root / "data" / sub, 3, size=(32, 32), seed=seed)
    args = ["--model", "cycle_gan", "--dataroot", str(root / "data"), "--name", "e2e", *TINY, "--pool_size", "2",
            "--n_epochs", "1", "--n_epochs_decay", "1", "--display_id", "1", "--display_server", "http://127.0.0.1",
            "--display_port", str(dashboard.port), "--display_env", "e2e", "--display_freq", "1",
            "--print_freq", "1"]
    result = run_cli("train.py", args, cwd=root, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "checkpoints" / "e2e", result


def _visuals(value):
    return {"real_A": torch.full((1, 3, 8, 8), value), "fake_B": torch.full((1, 3, 8, 8), -value)}


def test_client_sends_plots_and_images(dashboard):
    logs = []
    v = TrainingVisualizer("", "run", display_id=1, display_server="127.0.0.1", display_port=dashboard.port,
                           display_env="client", use_html=False, log=logs.append)
    assert v.visdom_on and logs == []
    for it in range(3):
        v.plot_current_losses(2, it / 3, {"G_A": 1.0 + it, "D_A": 0.5})  # the first sends all, then appends
        v.display_current_results(_visuals(1.0 - it), 2, save_result=False)
    assert v.visdom_on and logs == []
    wins = dashboard.windows("client")
    assert sorted(wins) == ["1", "2", "3"]
    plot = wins["1"]
    assert plot["title"] == "run loss over time" and plot["type"] == "plot"
    traces = {t["name"]: t for t in plot["content"]["data"]}
    assert list(traces) == ["G_A", "D_A"]
    assert traces["G_A"]["x"] == pytest.approx([2.0, 2 + 1 / 3, 2 + 2 / 3])
    assert traces["G_A"]["y"] == [1.0, 2.0, 3.0] and traces["D_A"]["y"] == [0.5] * 3
    images = wins["2"]
    assert images["type"] == "image" and images["title"] == "run images"
    src = images["content"]["src"]
    assert src.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
        grid = np.asarray(im.convert("RGB"))
    assert grid.shape == (8 + 2 * 2, 2 * (8 + 2) + 2, 3)  # one row of two, 2 white pixels around each
    # The last call's visuals: real_A = -1 (black), fake_B = +1 (white); white padding.
    assert (grid[2:10, 2:10] == 0).all() and (grid[2:10, 12:20] == 255).all() and (grid[:2] == 255).all()
    assert "real_A" in wins["3"]["content"] and "fake_B" in wins["3"]["content"]


def test_server_dying_mid_run_costs_one_line(tmp_path, capfd):
    server = Dashboard(str(tmp_path))
    logs = []
    try:
        v = TrainingVisualizer(str(tmp_path), "run", display_id=1, display_server="http://127.0.0.1",
                               display_port=server.port, display_env="dies", log=logs.append)
        v.plot_current_losses(1, 0.0, {"G": 1.0})
        v.display_current_results(_visuals(0.0), 1, save_result=True)
        assert v.visdom_on and logs == []
    finally:
        server.stop()
    capfd.readouterr()
    start = time.monotonic()
    for it in range(1, 30):
        v.plot_current_losses(1, it / 30, {"G": 1.0})
        v.display_current_results(_visuals(0.0), 1 + it // 10, save_result=True)
    assert time.monotonic() - start < 10
    assert not v.visdom_on
    assert logs == ["gantool: visdom failed (ConnectionError: Error connecting to Visdom server), so the live "
                    "dashboard is off for the rest of this run"]
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Exception" not in out + err
    assert len(v.loss_history["X"]) == 30 and (tmp_path / "web" / "images" / "epoch003_real_A.png").is_file()


def test_second_dashboard_on_a_taken_port(dashboard):
    result = subprocess.run([*GANTOOL, "dashboard", "--port", str(dashboard.port)], capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"gantool: error: port {dashboard.port} is in use (a dashboard may already run "
                                     f"there: open http://127.0.0.1:{dashboard.port}); choose another with --port")


def test_training_shows_live_in_the_browser(dashboard, trained):
    run_dir, result = trained
    assert "visdom" not in result.stdout + result.stderr  # connected: no "no server" / "failed" line
    wins = dashboard.windows("e2e")
    legend = [t["name"] for t in wins["1"]["content"]["data"]]
    assert {"G_A", "D_A", "cycle_A", "idt_A", "G_B", "D_B", "cycle_B", "idt_B"} <= set(legend)
    assert len(wins["1"]["content"]["data"][0]["x"]) == 6  # 3 images x 2 epochs, --print_freq 1
    base = f"http://127.0.0.1:{dashboard.port}"
    with Browser() as b:
        b.open(f"{base}/env/e2e")
        # The loss plot: drawn by plotly with one line per loss and the legend.
        drawn = b.wait_for("(() => { const g = document.querySelector('.js-plotly-plot');"
                           " return g && g.querySelectorAll('.scatterlayer .trace').length; })()")
        assert drawn == len(legend)
        shown = b.evaluate("Array.from(document.querySelectorAll('.legendtext')).map(e => e.textContent)")
        assert shown == legend
        # The image grid, decoded by the browser, and its labels (real, fake, reconstructed, identity).
        sizes = b.wait_for("(() => { const i = Array.from(document.querySelectorAll('img'))"
                           ".filter(i => i.src.startsWith('data:image/png') && i.complete && i.naturalWidth > 0);"
                           " return i.length && i.map(i => [i.naturalWidth, i.naturalHeight]); })()")
        assert sizes == [[4 * (32 + 2) + 2, 2 * (32 + 2) + 2]]  # 8 visuals of 32 px in 2 rows of 4, padded
        text = b.evaluate("document.body.innerText")
        for label in ("real_A", "fake_B", "rec_A", "idt_B", "real_B", "fake_A", "rec_B", "idt_A"):
            assert label in text
        assert "e2e loss over time" in text and "e2e images" in text
        # Live: a point sent now appears without reloading the page.
        n = len(legend)
        dashboard.client("e2e").line(X=[[3.5] * n], Y=[[0.0] * n], win="1", update="append")
        b.wait_for("document.querySelector('.js-plotly-plot').data[0].x.length == 7", timeout=15)
        assert b.evaluate("[typeof MathJax, typeof Plotly, typeof React]") == ["object", "object", "object"]
    # Offline: every file came from the local server (or was inline data).
    external = [u for u in b.requests if not (u.startswith(base + "/") or u.startswith("data:"))]
    assert external == []


def test_html_page_in_the_browser(trained):
    run_dir, _ = trained
    web = run_dir / "web"
    svg = ET.parse(web / "loss.svg").getroot()
    names = [e.find("{http://www.w3.org/2000/svg}title").text for e in svg.iter() if e.get("class") == "loss"]
    assert {"G_A", "D_A", "cycle_A", "idt_A", "G_B", "D_B", "cycle_B", "idt_B"} <= set(names)
    with Browser() as b:
        b.open(file_url(web / "index.html"))
        state = b.wait_for("""(() => {
            if (document.readyState !== 'complete') return null;
            const imgs = Array.from(document.images);
            if (!imgs.length || !imgs.every(i => i.complete && i.naturalWidth > 0)) return null;
            const top = e => e.getBoundingClientRect().top;
            return {loss: [document.querySelector('img.loss').naturalWidth, top(document.querySelector('img.loss'))],
                    sections: Array.from(document.querySelectorAll('h3')).sort((a, b) => top(a) - top(b))
                                   .map(h => [h.textContent, top(h)]),
                    images: imgs.length, scripts: document.scripts.length}; })()""")
    assert state["loss"][0] == 640  # the loss plot drawn by gantool, decoded by the browser
    assert [s[0] for s in state["sections"]] == ["epoch [2]", "epoch [1]"]  # newest first on screen
    assert state["loss"][1] < state["sections"][0][1]  # the loss curves above the epochs
    assert state["images"] == 1 + 2 * 8 and state["scripts"] == 0
    assert all(u.startswith("file://") for u in b.requests), b.requests
