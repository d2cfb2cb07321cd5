"""A full disk met while writing (issue 22): one line, exit status 2, nothing half-written, the previous file kept.

The real commands run in a process whose file-size limit (``RLIMIT_FSIZE``, SIGXFSZ ignored) makes every write
past the limit fail with EFBIG, as a full disk fails with ENOSPC; the in-process cases inject ENOSPC.
"""
import errno
import os
import resource
import signal
import subprocess
import sys

import pytest
from PIL import Image

from conftest import REPO, TINY, TINY_TRAIN, write_images
from gantool import cli
from gantool.errors import GantoolError
from gantool.io.files import append_line, atomic_write

pytestmark = pytest.mark.usefixtures("single_thread")
SMALL_FILES = 100_000  # options, logs, pages and 32x32 pictures fit; the tiny networks' checkpoints (~0.2-4 MB) do not


def limited(script, args, cwd, limit=SMALL_FILES):
    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, os.path.join(REPO, script), *args], cwd=cwd, env=env, preexec_fn=preexec,
                          capture_output=True, text=True, timeout=300)


def one_error_line(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    return errors[0]


def temporaries(folder):
    return [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if f.endswith(".tmp")]


@pytest.fixture
def trained(tmp_path):
    root = str(tmp_path / "data")
    for side, seed in (("trainA", 1), ("trainB", 2), ("testA", 3), ("testB", 4)):
        write_images(os.path.join(root, side), 2, size=(32, 32), seed=seed)
    args = ["--dataroot", root, "--checkpoints_dir", str(tmp_path / "ck"), "--name", "run", *TINY_TRAIN,
            "--max_iters", "2"]
    assert cli.train_main(args) == 0
    return args


def test_a_full_disk_during_training_keeps_the_previous_checkpoint(trained, tmp_path):
    run = tmp_path / "ck" / "run"
    before = {name: (run / name).read_bytes() for name in ("latest_net_G_A.pth", "latest_state.pth")}
    result = limited("train.py", trained, tmp_path)
    line = one_error_line(result)
    assert "could not save" in line and "File too large" in line and "the previous file is unchanged" in line
    for name, data in before.items():
        assert (run / name).read_bytes() == data, name
    assert temporaries(run) == []


def test_a_full_disk_during_test_py_keeps_the_previous_files(trained, tmp_path):
    args = ["--dataroot", trained[1], "--checkpoints_dir", str(tmp_path / "ck"), "--name", "run",
            "--results_dir", str(tmp_path / "res"), *TINY, "--num_test", "1"]
    assert cli.test_main(args) == 0
    images = tmp_path / "res" / "run" / "test_latest" / "images"
    before = {p.name: p.read_bytes() for p in images.iterdir()}
    assert before
    options_file = tmp_path / "ck" / "run" / "test_opt.txt"
    options_before = options_file.read_bytes()
    # 500 bytes: neither the options file test.py rewrites first (6 kB) nor a picture (3 kB) fits
    line = one_error_line(limited("test.py", args, tmp_path, limit=500))
    assert "could not save" in line and "test_opt.txt" in line and "the previous file is unchanged" in line
    assert options_file.read_bytes() == options_before
    assert {p.name: p.read_bytes() for p in images.iterdir()} == before
    assert temporaries(tmp_path / "res") == []


def test_result_pictures_on_a_full_disk_keep_the_previous_ones(tmp_path):
    """save_image, which test.py's results, the training pages and the dashboard snapshots go through."""
    path = tmp_path / "fake_B.png"
    path.write_bytes(b"the previous picture")
    script = ("import resource, signal, sys, numpy as np; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (500, 500)); from gantool.viz.images import save_image; "
              "save_image(np.random.randint(0, 255, (32, 32, 3), dtype=np.uint8), sys.argv[1])")
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 1 and "GantoolError: could not save" in result.stderr  # raised as one-line error
    assert "File too large; the previous file is unchanged" in result.stderr
    assert path.read_bytes() == b"the previous picture" and temporaries(tmp_path) == []


def test_a_full_disk_during_translate_leaves_no_half_image(tmp_path, capsys, monkeypatch):
    write_images(str(tmp_path / "in"), 1, size=(32, 32))
    out = tmp_path / "out"
    out.mkdir()
    (out / "img000.png").write_bytes(b"the previous result")
    real_save = Image.Image.save

    def full(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)  # some bytes reach the temporary file, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Image.Image, "save", full)
    assert cli.main(["translate", str(tmp_path / "in"), "-o", str(out), "-c", "toy_day2night_pretrained"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert (out / "img000.png").read_bytes() == b"the previous result"
    assert temporaries(out) == []


def test_atomic_write_turns_a_full_disk_into_one_line(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("old")

    def write(f):
        f.write(b"half of the rows")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(GantoolError, match="No space left on device; the previous file is unchanged"):
        atomic_write(str(path), write)
    assert path.read_text() == "old" and temporaries(tmp_path) == []


def test_append_line_turns_a_full_disk_into_one_line(tmp_path, monkeypatch):
    path = tmp_path / "loss_log.txt"
    path.write_text("line 1\n")
    import builtins

    real_open = builtins.open

    def full_open(file, mode="r", *args, **kwargs):
        if str(file) == str(path) and "a" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_open)
    with pytest.raises(GantoolError, match="could not write to .*loss_log.txt: No space left on device"):
        append_line(str(path), "line 2\n")
    monkeypatch.undo()
    assert path.read_text() == "line 1\n"
