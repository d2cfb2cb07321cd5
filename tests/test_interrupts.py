"""Crash safety: SIGINT/SIGTERM save and resume exactly, SIGKILL during a save loses nothing,
and a NaN loss stops training (or skips the update) without overwriting the last good checkpoint."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from gantool import cli
from gantool.models import cycle_gan

from conftest import REPO, TINY_TRAIN

pytestmark = pytest.mark.usefixtures("single_thread")

# Runs train.py's main with each training step slowed down and counted in a marker file, so that a test
# can send a signal at a known point; with SLOW_SAVE, the second save of latest_state.pth stops after
# writing its temporary file and before the rename (where a SIGKILL hurts most).
DRIVER = """
import os, sys, time
sys.path.insert(0, {repo!r})
import torch
from gantool import cli
from gantool.engine.trainer import Trainer
mark = {mark!r}
real_step, real_save = Trainer._step, torch.save
def step(self, batch):
    out = real_step(self, batch)
    with open(mark, "a") as f:
        f.write("s")
    time.sleep(0.2)
    return out
saves = []
def save(obj, path, *a, **k):
    real_save(obj, path, *a, **k)
    if os.environ.get("SLOW_SAVE") and isinstance(obj, dict) and obj.get("format"):
        saves.append(path)
        if len(saves) == 2:
            with open(mark, "a") as f:
                f.write("W")
            time.sleep(60)
Trainer._step, torch.save = step, save
sys.exit(cli.train_main(sys.argv[1:]))
"""


def _weights(run_dir):
    return {n: torch.load(os.path.join(run_dir, f"latest_net_{n}.pth"), weights_only=True)
            for n in ("G_A", "G_B", "D_A", "D_B")}


def _start(tmp_path, args, env=None, group=False):
    mark = tmp_path / "mark.txt"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(repo=REPO, mark=str(mark)))
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1", **(env or {}))
    proc = subprocess.Popen([sys.executable, str(driver), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=group)
    return proc, mark


def _wait_for(mark, text, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if mark.exists() and text in mark.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("training did not get there in time")


@pytest.mark.parametrize("sig, workers, group", [(signal.SIGTERM, "0", False), (signal.SIGINT, "2", True)],
                         ids=["SIGTERM", "SIGINT-to-the-process-group-with-loader-workers"])
def test_a_signal_saves_and_continue_train_resumes_exactly(unaligned_root, tmp_path, sig, workers, group):
    common = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--seed", "5", *TINY_TRAIN,
              "--n_epochs", "2", "--n_epochs_decay", "1", "--num_threads", workers]
    assert cli.train_main(common + ["--name", "once"]) == 0

    proc, mark = _start(tmp_path, common + ["--name", "cut"], group=group)
    _wait_for(mark, "sssss", proc)  # five steps done: mid-epoch 2
    (os.killpg if group else os.kill)(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, (out, err)
    assert f"gantool: {signal.Signals(sig).name}: saved the training state at epoch" in err
    assert "--continue_train resumes here" in err and "Traceback" not in err, err
    state = torch.load(tmp_path / "cut" / "latest_state.pth", weights_only=True)
    assert 5 <= state["total_iters"] < 12

    assert cli.train_main(common + ["--name", "cut", "--continue_train"]) == 0
    once, cut = _weights(tmp_path / "once"), _weights(tmp_path / "cut")
    assert all(torch.equal(once[n][k], cut[n][k]) for n in once for k in once[n])


def test_sigkill_during_a_save_keeps_the_previous_checkpoint(unaligned_root, tmp_path):
    common = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--name", "k", "--seed", "5",
              *TINY_TRAIN, "--n_epochs", "3", "--n_epochs_decay", "0", "--save_latest_freq", "2"]
    proc, mark = _start(tmp_path, common, env={"SLOW_SAVE": "1"})
    _wait_for(mark, "W", proc)  # the second state save has written its temporary file, not yet renamed
    proc.kill()
    proc.communicate(timeout=60)
    run = tmp_path / "k"
    leftovers = [n for n in os.listdir(run) if n.endswith(".tmp")]
    assert leftovers, os.listdir(run)  # the kill really came mid-save
    state = torch.load(run / "latest_state.pth", weights_only=True)  # the first save, complete
    assert state["total_iters"] == 2
    assert cli.train_main(common + ["--continue_train"]) == 0
    assert not [n for n in os.listdir(run) if n.endswith(".tmp")]  # cleaned up on the next start
    assert torch.load(run / "latest_state.pth", weights_only=True)["total_iters"] == 12


def _poison_cycle_loss(monkeypatch, at_call):
    """Make the ``at_call``-th cycle loss (two per step: A then B) NaN."""
    real = cycle_gan.cycle_loss
    calls = {"n": 0}

    def cycle_loss(*args):
        loss = real(*args)
        if type(loss).__name__ == "FakeTensor":  # the memory estimate's steps (on fake tensors) do not count
            return loss
        calls["n"] += 1
        return loss * float("nan") if calls["n"] == at_call else loss

    monkeypatch.setattr(cycle_gan, "cycle_loss", cycle_loss)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(unaligned_root, tmp_path, monkeypatch,
                                                                      capsys):
    args = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--name", "n", *TINY_TRAIN,
            "--n_epochs", "2", "--n_epochs_decay", "0", "--save_latest_freq", "2"]
    _poison_cycle_loss(monkeypatch, at_call=2 * 3 - 1)  # step 3's cycle_A
    assert cli.train_main(args) == 2
    err = capsys.readouterr().err
    assert "gantool: error: loss cycle_A = nan" in err and "at epoch 1, image 3 (3 images in all)" in err, err
    assert "the last good checkpoint (latest_state.pth at epoch 1, image 2) is kept" in err, err
    state = torch.load(tmp_path / "n" / "latest_state.pth", weights_only=True)
    assert state["total_iters"] == 2
    assert all(torch.isfinite(t).all() for net in state["networks"].values() for t in net.values())
    assert all(torch.isfinite(t).all() for net in _weights(tmp_path / "n").values() for t in net.values())


def test_nan_policy_skip_skips_the_update_and_goes_on(unaligned_root, tmp_path, monkeypatch, capsys):
    args = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--name", "s", *TINY_TRAIN,
            "--n_epochs", "2", "--n_epochs_decay", "0", "--nan_policy", "skip"]
    _poison_cycle_loss(monkeypatch, at_call=2 * 3 - 1)
    assert cli.train_main(args) == 0
    out = capsys.readouterr().out
    assert "skipped the updates of 1 steps with non-finite losses (--nan_policy skip)" in out, out
    state = torch.load(tmp_path / "s" / "latest_state.pth", weights_only=True)
    assert state["total_iters"] == 8
    assert all(torch.isfinite(t).all() for net in state["networks"].values() for t in net.values())
