"""Tests for gantool.viz: image conversion, atomic saves, HTML pages, loss log, visualizer (offline, CPU)."""

import http.server
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from html.parser import HTMLParser
from urllib.parse import unquote

import numpy as np
import pytest
import torch
from PIL import Image

from gantool.viz import HTMLPage, LossLog, TrainingVisualizer, atomic_write, make_grid_image, save_image, tensor2im

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- tensor2im / images

@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_tensor2im_range_and_dtypes(dtype):
    t = torch.tensor([-1.0, 0.0, 1.0, 5.0, -7.0, float("nan")], dtype=dtype).view(1, 1, 1, 6).expand(2, 3, 1, 6)
    im = tensor2im(t.clone().requires_grad_(dtype.is_floating_point))
    assert im.dtype == np.uint8 and im.shape == (1, 6, 3)
    # -1 -> 0, 0 -> 127 (classic truncation), 1 -> 255, out of range clamped, NaN -> mid-gray
    assert im[0, :, 0].tolist() == [0, 127, 255, 255, 0, 127]


def test_tensor2im_first_image_gray_and_chw():
    batch = torch.stack([torch.full((1, 4, 5), 1.0), torch.full((1, 4, 5), -1.0)])
    im = tensor2im(batch)
    assert im.shape == (4, 5, 3) and (im == 255).all()  # first image only, gray tiled to RGB
    chw = torch.linspace(-1, 1, 3 * 4 * 5).view(3, 4, 5)
    im = tensor2im(chw)
    assert im.shape == (4, 5, 3)
    assert im[0, 0, 0] == 0 and im[-1, -1, 2] == 255
    with pytest.raises(ValueError, match="C = 1 or 3"):
        tensor2im(torch.zeros(1, 2, 4, 4))


@pytest.mark.parametrize("aspect, size", [(1.0, (8, 6)), (2.0, (8, 12)), (0.5, (16, 6))])
def test_save_image_aspect_ratio(tmp_path, aspect, size):
    arr = np.random.RandomState(0).randint(0, 256, (6, 8, 3), dtype=np.uint8)  # H=6, W=8
    path = tmp_path / "x.png"
    save_image(arr, str(path), aspect_ratio=aspect)
    with Image.open(path) as im:
        assert im.size == size  # PIL size is (W, H)
        if aspect == 1.0:
            assert np.array_equal(np.asarray(im), arr)  # PNG round trip is lossless


def test_atomic_write_leaves_no_temp_files(tmp_path):
    arr = np.zeros((4, 4, 3), np.uint8)
    for name in ["a.png", "b.jpg", "a.png"]:
        save_image(arr, str(tmp_path / name))
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.jpg"]

    def crash(f):
        f.write(b"half a file")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(str(tmp_path / "a.png"), crash)
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.jpg"]
    with Image.open(tmp_path / "a.png") as im:  # the old file is intact
        assert im.size == (4, 4)
    with pytest.raises(ValueError, match="image format"):
        save_image(arr, str(tmp_path / "noext"))


def test_make_grid_image():
    batch = torch.ones(5, 3, 4, 6)
    grid = make_grid_image(batch, ncols=2, padding=2)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 6 + 2, 2 * 8 + 2, 3)
    one_row = make_grid_image([torch.zeros(1, 1, 4, 6), -torch.ones(3, 4, 6)], padding=1)
    assert one_row.shape == (6, 15, 3)
    assert (one_row[1:5, 1:7] == 127).all() and (one_row[1:5, 8:14] == 0).all() and (one_row[0] == 255).all()


# ---------------------------------------------------------------- HTML

class _PageParser(HTMLParser):
    """Collects the tags and text of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.text, self._stack = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._stack.append(tag)

    def handle_endtag(self, tag):
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data):
        if data.strip():
            self.text.append((self._stack[-1] if self._stack else "", data.strip()))


def _parse(path):
    parser = _PageParser()
    with open(path, encoding="utf-8") as f:
        source = f.read()
    parser.feed(source)
    return source, parser


def _check_links(web_dir, parser):
    """Every img/a points, relatively, to an existing file inside web_dir."""
    refs = [a["src"] for t, a in parser.tags if t == "img"] + [a["href"] for t, a in parser.tags if t == "a"]
    assert refs
    for ref in refs:
        assert not ref.startswith("/") and "://" not in ref
        assert os.path.isfile(os.path.join(web_dir, unquote(ref))), ref
    return refs


def test_html_page_content(tmp_path):
    page = HTMLPage(str(tmp_path / "web"), "my results", refresh=1)
    assert os.path.isdir(page.image_dir) and page.image_dir == str(tmp_path / "web" / "images")
    names = ["1_real.png", "1 fake#2.png"]
    for n in names:
        save_image(np.zeros((8, 8, 3), np.uint8), os.path.join(page.image_dir, n))
    page.add_header("image 1")
    page.add_images(names, ["real", "fake & <b>"], names, width=128)
    page.add_table([{"image": "1", "L1": 0.05, "PSNR": 28.123456}, {"image": "2", "L1": 0.25}])
    page.add_text("done <ok>")
    path = page.save()
    assert path == str(tmp_path / "web" / "index.html")
    assert sorted(os.listdir(tmp_path / "web")) == ["images", "index.html"]

    source, parser = _parse(path)
    assert "http://" not in source and "https://" not in source
    assert not [t for t, a in parser.tags if t in ("script", "link")]  # self-contained
    assert ("meta", {"http-equiv": "refresh", "content": "1"}) in parser.tags
    assert ("title", "my results") in parser.text and ("h3", "image 1") in parser.text
    assert ("p", "real") in parser.text and ("p", "fake & <b>") in parser.text  # escaped, then parsed back
    assert ("p", "done <ok>") in parser.text
    assert [a["style"] for t, a in parser.tags if t == "img"] == ["width:128px"] * 2
    assert len(_check_links(str(tmp_path / "web"), parser)) == 4
    cells = [d for t, d in parser.text if t in ("th", "td")]
    assert cells == ["image", "L1", "PSNR", "1", "0.0500", "28.1235", "2", "0.2500"]


# ---------------------------------------------------------------- loss log

def test_loss_log(tmp_path):
    msg = LossLog.format(1, 100, {"G_A": 0.5124, "D_A": torch.tensor(0.3)}, 0.1234, 0.0041)
    assert msg == "(epoch: 1, iters: 100, time: 0.123, data: 0.004) G_A: 0.512 D_A: 0.300"
    path = tmp_path / "run" / "loss_log.txt"
    log = LossLog(str(path))
    log.write(msg)
    LossLog(str(path))  # a resumed run appends a second header
    lines = path.read_text().splitlines()
    header = re.compile(r"^================ Training Loss \(.+\) ================$")
    assert header.match(lines[0]) and lines[1] == msg and header.match(lines[2]) and len(lines) == 3


# ---------------------------------------------------------------- visualizer

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _visuals(value):
    return {"real_A": torch.full((1, 3, 8, 8), value), "fake_B": torch.full((1, 1, 8, 8), value)}


def test_visualizer_without_visdom_never_imports_it(tmp_path):
    code = textwrap.dedent(f"""
        import sys, torch
        from gantool.viz import TrainingVisualizer
        logs = []
        v = TrainingVisualizer({str(tmp_path)!r}, "run", display_id=0, log=logs.append)
        v.display_current_results({{"a": torch.zeros(1, 3, 4, 4)}}, 1, True)
        v.plot_current_losses(1, 0.5, {{"G": 1.0}})
        assert not v.visdom_on and logs == [], logs
        assert not [m for m in sys.modules if m.split(".")[0] == "visdom"]
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def _sections(parser):
    return [d for t, d in parser.text if t == "h3"]


def test_visualizer_html_pages(tmp_path):
    v = TrainingVisualizer(str(tmp_path), "run", display_id=0, display_winsize=64)
    v.display_current_results(_visuals(-1.0), 1, save_result=False)  # first call is always saved
    v.display_current_results(_visuals(0.0), 2, save_result=False)  # not saved
    v.display_current_results(_visuals(1.0), 3, save_result=True)
    v.display_current_results(_visuals(1.0), 3, save_result=True)  # same epoch again: no second section
    images = sorted(os.listdir(tmp_path / "web" / "images"))
    assert images == ["epoch001_fake_B.png", "epoch001_real_A.png", "epoch003_fake_B.png", "epoch003_real_A.png"]
    source, parser = _parse(tmp_path / "web" / "index.html")
    assert ("title", "Experiment name = run") in parser.text
    # Sections are appended (oldest first in the file); the style shows them newest first (checked in a
    # real browser by tests/test_dashboard.py).
    assert _sections(parser) == ["epoch [1]", "epoch [3]"]
    assert "flex-direction: column-reverse" in source and "header { order: 1; }" in source
    assert [d for t, d in parser.text if t == "p"] == ["real_A", "fake_B"] * 2
    srcs = [a["src"] for t, a in parser.tags if t == "img"]
    assert srcs[0] == "loss.svg" and srcs[1] == "images/epoch001_real_A.png"
    assert os.path.isfile(tmp_path / "web" / "loss.svg")  # drawn before any loss: no broken image
    assert ("meta", {"http-equiv": "refresh", "content": "1"}) in parser.tags
    _check_links(str(tmp_path / "web"), parser)
    assert "http://" not in source and "https://" not in source
    assert not [t for t, a in parser.tags if t in ("script", "link", "iframe")]
    off = TrainingVisualizer(str(tmp_path / "nohtml"), "run", display_id=0, use_html=False)
    off.display_current_results(_visuals(0.0), 1, save_result=True)
    off.plot_current_losses(1, 0.5, {"G": 1.0})
    assert not os.path.exists(tmp_path / "nohtml" / "web")


def test_visualizer_no_server_logs_one_line(tmp_path):
    port = _free_port()
    logs = []
    start = time.monotonic()
    v = TrainingVisualizer(str(tmp_path), "run", display_id=1, display_server="http://127.0.0.1",
                           display_port=port, log=logs.append)
    for it in range(3):
        v.plot_current_losses(1, it / 3, {"G_A": 1.0 + it, "D_A": 0.5})
        v.display_current_results(_visuals(0.0), 1, save_result=True)
    assert time.monotonic() - start < 5
    assert not v.visdom_on
    assert logs == [f"gantool: no visdom server at http://127.0.0.1:{port}, so the live dashboard is off "
                    f"(start one with `gantool dashboard --port {port}`, or pass --display_id 0)"]
    assert v.loss_history["legend"] == ["G_A", "D_A"]
    assert v.loss_history["X"] == pytest.approx([1.0, 4 / 3, 5 / 3])
    assert v.loss_history["Y"] == [[1.0, 0.5], [2.0, 0.5], [3.0, 0.5]]
    assert (tmp_path / "web" / "index.html").is_file()


def test_visualizer_port_taken_by_another_program(tmp_path, capfd, recwarn):
    """Something that is not visdom answers on the port: one line, dashboard off, no visdom noise."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        logs = []
        v = TrainingVisualizer(str(tmp_path), "run", display_server="127.0.0.1",
                               display_port=server.server_address[1], use_html=False, log=logs.append)
        assert not v.visdom_on and len(logs) == 1 and "did not answer" in logs[0]
        assert capfd.readouterr() == ("", "") and not recwarn.list
    finally:
        server.shutdown()
        server.server_close()


def test_visualizer_later_visdom_error_turns_it_off(tmp_path):
    class Broken:
        calls = 0

        def __getattr__(self, name):
            def fail(*args, **kwargs):
                Broken.calls += 1
                raise ConnectionError("server went away")
            return fail

    logs = []
    v = TrainingVisualizer(str(tmp_path), "run", display_id=0, log=logs.append)
    v.vis = Broken()  # as if a server had been reached at start
    for it in range(3):
        v.plot_current_losses(2, it / 3, {"G": 1.0})
        v.display_current_results(_visuals(0.0), 2, save_result=True)
    assert not v.visdom_on and Broken.calls == 1 and len(v.loss_history["X"]) == 3
    assert logs == ["gantool: visdom failed (ConnectionError: server went away), so the live dashboard is off "
                    "for the rest of this run"]
