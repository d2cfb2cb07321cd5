"""``gantool download``: datasets and models from a local HTTP server (one that honours ``Range``, one that
does not), resume, corrupt files, user mistakes and exit codes. Nothing leaves 127.0.0.1."""
import http.server
import io
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
import torch

from gantool import cli
from gantool.io import downloads
from gantool.io.download_command import CATALOG, DEFAULT_URL_BASE, URL_BASE_ENV

ROOT = Path(__file__).resolve().parents[1]
MINI = "/cyclegan/datasets/mini.zip"
H2Z = "/cyclegan/pretrained_models/horse2zebra.pth"


class Server:
    """A threaded HTTP server on 127.0.0.1 serving ``routes[path] = bytes``.

    ``ranges``: answer ``Range: bytes=N-`` with 206 (416 past the end); else ignore it, as
    ``SimpleHTTPRequestHandler`` does. ``cut[path] = n``: send n bytes of the body, then wait for
    ``release`` (when set in ``stall``) and close. ``requests``: (path, Range header, bytes sent).
    """

    def __init__(self, ranges: bool = True):
        self.routes, self.cut, self.requests, self.ranges = {}, {}, [], ranges
        self.stall, self.release = set(), threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, asked = server.routes.get(self.path), self.headers.get("Range")
                if body is None:
                    server.requests.append((self.path, asked, 0))
                    self.send_error(404)
                    return
                start = int(asked[len("bytes="):].rstrip("-")) if asked and server.ranges else 0
                if start >= len(body) > 0:
                    server.requests.append((self.path, asked, 0))
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                rest = body[start:]
                self.send_header("Content-Length", str(len(rest)))
                self.end_headers()
                sent = rest[: server.cut.pop(self.path)] if self.path in server.cut else rest
                server.requests.append((self.path, asked, len(sent)))
                self.wfile.write(sent)
                self.wfile.flush()
                if self.path in server.stall:
                    server.release.wait(30)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server(ranges=True)
    yield s
    s.close()


@pytest.fixture
def no_range_server():
    s = Server(ranges=False)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def work(tmp_path, monkeypatch):
    """Run in an empty folder; refuse any URL that is not the local test server."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.delenv(URL_BASE_ENV, raising=False)
    real = urllib.request.urlopen

    def urlopen(url, *args, **kwargs):
        assert getattr(url, "full_url", url).startswith("http://127.0.0.1:"), f"a test tried to reach {url}"
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return tmp_path


def mini_zip(top: str = "mini") -> bytes:
    """A small CycleGAN-style dataset zip; stored, not deflated, so a cut or a flipped byte lands in data."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for split in ("trainA", "trainB", "testA", "testB"):
            archive.writestr(f"{top}/{split}/1.png", split.encode() + os.urandom(20_000))
    return buf.getvalue()


def model_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"model.1.weight": torch.randn(4, 3, 7, 7), "model.1.bias": torch.zeros(4)}, buf)
    return buf.getvalue()


def download(*args, base=None) -> int:
    return cli.main(["download", *args] + (["--url_base", base] if base else []))


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gantool: error: "), err
    return err.strip()


def tree(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)).replace(os.sep, "/") for p in folder.rglob("*"))


def assert_mini_unpacked(work: Path, body: bytes):
    assert tree(work / "datasets") == ["mini", "mini/testA", "mini/testA/1.png", "mini/testB", "mini/testB/1.png",
                                       "mini/trainA", "mini/trainA/1.png", "mini/trainB", "mini/trainB/1.png"]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert (work / "datasets/mini/trainB/1.png").read_bytes() == archive.read("mini/trainB/1.png")


# --- what lands where ------------------------------------------------------------------------------------------

def test_dataset_is_unpacked_into_datasets_name(work, server, capsys):
    server.routes[MINI] = body = mini_zip()
    assert download("dataset", "mini", base=server.base) == 0
    assert_mini_unpacked(work, body)  # no .part, no hidden folder left beside it
    assert server.requests == [(MINI, None, len(body))]
    assert f"saved {Path('datasets') / 'mini'}" in capsys.readouterr().out


def test_pix2pix_tar_gz_and_names_both_projects_publish(work, server, capsys):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        for split in ("train", "val"):
            info = tarfile.TarInfo(f"facades/{split}/1.jpg")
            info.size = 3
            archive.addfile(info, io.BytesIO(b"A|B"))
    server.routes["/pix2pix/datasets/facades.tar.gz"] = buf.getvalue()
    assert download("dataset", "facades", base=server.base) == 2
    assert "add --from cyclegan or --from pix2pix" in one_error_line(capsys)
    assert download("dataset", "facades", "--from", "pix2pix", "--dir", "data", base=server.base) == 0
    assert tree(work / "data") == ["facades", "facades/train", "facades/train/1.jpg", "facades/val",
                                   "facades/val/1.jpg"]


@pytest.mark.parametrize("source, path", [("cyclegan", H2Z), ("pix2pix", "/pix2pix/models-pytorch/map2sat.pth")])
def test_model_lands_in_name_pretrained(work, server, source, path):
    name = path.rsplit("/", 1)[1][:-4]
    server.routes[path] = body = model_bytes()
    assert download("model", name, "--from", source, base=server.base) == 0
    assert tree(work / "checkpoints") == [f"{name}_pretrained", f"{name}_pretrained/latest_net_G.pth"]
    saved = work / "checkpoints" / f"{name}_pretrained" / "latest_net_G.pth"
    assert saved.read_bytes() == body
    assert torch.load(saved, weights_only=True)["model.1.weight"].shape == (4, 3, 7, 7)


def test_url_base_from_the_environment(work, server, monkeypatch):
    server.routes[H2Z] = model_bytes()
    monkeypatch.setenv(URL_BASE_ENV, server.base + "/")
    assert download("model", "horse2zebra") == 0
    assert [r[0] for r in server.requests] == [H2Z]


# --- resume ----------------------------------------------------------------------------------------------------

def test_resume_asks_only_for_the_rest(work, server, capsys):
    server.routes[MINI] = body = mini_zip()
    (work / "datasets").mkdir()
    (work / "datasets/cyclegan_mini.zip.part").write_bytes(body[:30_000])
    assert download("dataset", "mini", base=server.base) == 0
    assert server.requests == [(MINI, "bytes=30000-", len(body) - 30_000)]
    assert "resuming" in capsys.readouterr().out
    assert_mini_unpacked(work, body)


def test_server_without_range_support_restarts_cleanly(work, no_range_server, capsys):
    no_range_server.routes[MINI] = body = mini_zip()
    (work / "datasets").mkdir()
    (work / "datasets/cyclegan_mini.zip.part").write_bytes(b"x" * 30_000)  # not even the right bytes
    assert download("dataset", "mini", base=no_range_server.base) == 0
    assert no_range_server.requests == [(MINI, "bytes=30000-", len(body))]  # the whole file came again
    assert "does not support resuming" in capsys.readouterr().out
    assert_mini_unpacked(work, body)


def test_a_cut_connection_keeps_the_part_and_the_next_run_resumes(work, server, capsys):
    server.routes[MINI] = body = mini_zip()
    server.cut[MINI] = 25_000
    assert download("dataset", "mini", base=server.base) == 2
    line = one_error_line(capsys)
    assert f"the connection closed after 25000 of {len(body)} bytes" in line and "again to resume" in line
    assert tree(work / "datasets") == ["cyclegan_mini.zip.part"]  # no dataset folder
    assert download("dataset", "mini", base=server.base) == 0
    assert server.requests[1] == (MINI, "bytes=25000-", len(body) - 25_000)
    assert_mini_unpacked(work, body)


def test_a_complete_part_is_not_downloaded_again(work, server):
    server.routes[MINI] = body = mini_zip()
    (work / "datasets").mkdir()
    (work / "datasets/cyclegan_mini.zip.part").write_bytes(body)  # Ctrl-C came while unpacking
    assert download("dataset", "mini", base=server.base) == 0
    assert server.requests == [(MINI, f"bytes={len(body)}-", 0)]
    assert_mini_unpacked(work, body)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_keeps_the_part_and_leaves_no_folder(work, server):
    server.routes[MINI] = body = mini_zip()
    server.cut[MINI], server.stall = 20_000, {MINI}
    env = dict(os.environ, PYTHONPATH=str(ROOT), no_proxy="*")
    command = ["download", "dataset", "mini", "--url_base", server.base]
    # Python keeps SIGINT ignored when its parent ignored it (a background job): restore Ctrl-C's handler.
    code = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); " \
           "from gantool.cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", code, *command], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    part = work / "datasets" / "cyclegan_mini.zip.part"
    deadline = time.monotonic() + 60
    while not (part.is_file() and part.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.05)  # bytes on disk: the command is in its download loop, waiting for more
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in out and err.strip() == "gantool: interrupted"
    assert tree(work / "datasets") == ["cyclegan_mini.zip.part"]
    kept = part.read_bytes()  # closing the file on Ctrl-C wrote out what was still buffered
    assert 0 < len(kept) <= 20_000 and kept == body[: len(kept)]
    assert cli.main(command) == 0
    assert server.requests[-1] == (MINI, f"bytes={len(kept)}-", len(body) - len(kept))
    assert_mini_unpacked(work, body)


# --- bad files -------------------------------------------------------------------------------------------------

def corrupt(body: bytes) -> bytes:
    """The zip with a byte of its second member's data flipped: its CRC no longer matches."""
    at = body.index(b"trainB") + 40
    return body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1:]


@pytest.mark.parametrize("payload", [corrupt, lambda body: b"<html>503 Service Unavailable</html>"])
def test_a_corrupt_archive_is_one_line_and_leaves_nothing(work, server, capsys, payload):
    server.routes[MINI] = payload(mini_zip())
    assert download("dataset", "mini", base=server.base) == 2
    line = one_error_line(capsys)
    assert f"the archive from {server.base}{MINI} is corrupt" in line and "download it afresh" in line
    assert tree(work / "datasets") == []  # no folder, no half folder, no .part to resume a bad file from


def test_a_model_that_is_not_a_state_dict_is_refused(work, server, capsys):
    server.routes[H2Z] = b"<html>not found</html>"
    assert download("model", "horse2zebra", base=server.base) == 2
    assert "is not a readable PyTorch file" in one_error_line(capsys)
    assert tree(work / "checkpoints") == []


def test_an_interrupted_unpack_leaves_no_folder_and_keeps_the_old_one(work, monkeypatch):
    archive = work / "mini.zip"
    archive.write_bytes(mini_zip())
    old = work / "datasets" / "mini"
    old.mkdir(parents=True)
    (old / "mine.txt").write_text("keep")

    def interrupted(archive, into):
        (into / "mini").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(downloads, "_extract", interrupted)
    for replace in (False, True):
        target = work / "datasets" / ("new" if not replace else "mini")
        with pytest.raises(KeyboardInterrupt):
            downloads.unpack(archive, target, "mini", replace=replace)
    assert tree(work / "datasets") == ["mini", "mini/mine.txt"]


# --- user mistakes ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (("dataset", "nope"), "unknown dataset 'nope'; choose one of (cyclegan: apple2orange "),
    (("model", "nope"), "unknown model 'nope'; choose one of (cyclegan: apple2orange "),
    (("model", "style_monet", "--from", "pix2pix"), "unknown pix2pix model 'style_monet'; choose one of "
                                                   "(pix2pix: edges2shoes sat2map map2sat facades_label2photo "
                                                   "day2night)"),
    (("dataset", "cityscapes"), "cityscapes cannot be redistributed: register at"),
    (("model", "sat2map"), "'sat2map' is published both as a CycleGAN and as a pix2pix model"),
])
def test_bad_names_are_one_line_and_touch_nothing(work, server, capsys, args, expected):
    assert download(*args, base=server.base) == 2
    line = one_error_line(capsys)
    assert expected in line
    if "unknown dataset" in expected:
        assert "pix2pix: facades cityscapes maps edges2shoes edges2handbags night2day" in line
    assert list(work.iterdir()) == [] and server.requests == []


def test_an_existing_target_is_refused_unless_forced(work, server, capsys):
    server.routes[MINI], server.routes[H2Z] = body, weights = mini_zip(), model_bytes()
    (work / "datasets/mini").mkdir(parents=True)
    (work / "datasets/mini/mine.txt").write_text("x")
    (work / "checkpoints/horse2zebra_pretrained").mkdir(parents=True)
    (work / "checkpoints/horse2zebra_pretrained/latest_net_G.pth").write_bytes(b"old")
    assert download("dataset", "mini", base=server.base) == 2
    assert f"{Path('datasets/mini')} already exists; delete that folder" in one_error_line(capsys)
    assert download("model", "horse2zebra", base=server.base) == 2
    assert "already exists" in one_error_line(capsys) and server.requests == []
    assert download("dataset", "mini", "--force", base=server.base) == 0
    assert download("model", "horse2zebra", "--force", base=server.base) == 0
    assert_mini_unpacked(work, body)  # mine.txt went with the old folder
    assert (work / "checkpoints/horse2zebra_pretrained/latest_net_G.pth").read_bytes() == weights


def test_network_errors_are_one_line(work, server, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert download("dataset", "mini", base=closed) == 2
    assert re.fullmatch(rf"gantool: error: could not download {closed}{MINI}: .*refused.*", one_error_line(capsys))
    assert download("model", "horse2zebra", base=server.base) == 2  # the server has no such file
    assert one_error_line(capsys).endswith(f"could not download {server.base}{H2Z}: HTTP error 404 Not Found")
    assert list(work.iterdir()) == []  # not even the datasets/ or checkpoints/ folder


def test_a_dir_under_a_file_is_refused_before_connecting(work, server, capsys):
    (work / "a_file").write_text("in the way")
    assert download("dataset", "mini", "--dir", "a_file/data", base=server.base) == 2
    assert one_error_line(capsys).endswith("a_file is a file, not a folder; choose another --dir")
    assert server.requests == [] and sorted(p.name for p in work.iterdir()) == ["a_file"]


def test_missing_name_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["download", "dataset"])
    assert exit_.value.code == 2 and "the following arguments are required: name" in capsys.readouterr().err


# --- the bash scripts ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("script, kind, source", [
    ("download_cyclegan_dataset.sh", "dataset", "cyclegan"), ("download_pix2pix_dataset.sh", "dataset", "pix2pix"),
    ("download_cyclegan_model.sh", "model", "cyclegan"), ("download_pix2pix_model.sh", "model", "pix2pix")])
def test_the_bash_scripts_offer_the_same_names_and_urls(script, kind, source):
    text = (ROOT / "scripts" / script).read_text(encoding="utf-8")
    names = re.search(r"^(?:DATASETS|MODELS)=\(([^)]*)\)", text, re.M).group(1).split()
    url = re.search(r'"(http://[^"]+)"', text).group(1)
    path, published = CATALOG[kind, source]
    assert tuple(names) == published
    assert url == f"{DEFAULT_URL_BASE}/{path.format(name='$NAME')}"
