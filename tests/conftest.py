"""Shared test helpers: tiny image folders generated on the fly, and the CLI run in a subprocess."""
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_images(folder, count, size=(16, 16), mode="RGB", seed=0, prefix="img"):
    """Write ``count`` random-ish images of ``size`` (width, height) and ``mode`` into ``folder``."""
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    for i in range(count):
        channels = 1 if mode == "L" else 3
        pixels = (torch.rand(size[1], size[0], channels, generator=g) * 255).to(torch.uint8).squeeze(-1).numpy()
        Image.fromarray(pixels).convert(mode).save(os.path.join(folder, f"{prefix}{i:03d}.png"))


def small_builtin(tmp_path, n_train: int, n_test: int) -> str:
    """The built-in day->night data at 32x32 in ``tmp_path/toy`` (its test split has ground truth); the root."""
    from gantool.data.builtin import generate

    root = str(tmp_path / "toy")
    generate(root, size=32, n_train=n_train, n_test=n_test)
    return root


@pytest.fixture(scope="module")
def single_thread():
    """One intra-op thread for a module (``pytestmark = pytest.mark.usefixtures("single_thread")``):
    on a busy 2-core machine torch's threads spin-wait on each other, up to ~8x slower. Restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def unaligned_root(tmp_path):
    """A 4+4 image unaligned dataset (32x32) with a 2+2 test split."""
    root = tmp_path / "data"
    write_images(root / "trainA", 4, size=(32, 32), seed=1)
    write_images(root / "trainB", 4, size=(32, 32), seed=2)
    write_images(root / "testA", 2, size=(32, 32), seed=3)
    write_images(root / "testB", 2, size=(32, 32), seed=4)
    return str(root)


# Small networks and short runs for the end-to-end tests; every value is a real option.
TINY = ["--gpu_ids", "-1", "--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks", "--load_size", "32",
        "--crop_size", "32", "--num_threads", "0"]
TINY_TRAIN = TINY + ["--display_id", "0", "--n_epochs", "1", "--n_epochs_decay", "1", "--print_freq", "2",
                     "--pool_size", "2"]


def train_tiny_cycle_gan(tmp_path, netG: str, name: str):
    """Train a tiny CycleGAN (``TINY_TRAIN`` with ``--netG netG``) on 32x32 built-in data in ``tmp_path``;
    returns (the data root, the side file of its G_A as a dict). Fails the test if training fails."""
    import json

    root = small_builtin(tmp_path, n_train=4, n_test=2)
    args = [netG if a == "resnet_6blocks" else a for a in TINY_TRAIN]
    train = run_cli("train.py", ["--model", "cycle_gan", "--dataroot", root, "--name", name, *args], cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    return root, json.loads((tmp_path / "checkpoints" / name / "latest_net_G_A.json").read_text())


def run_cli(script, args, cwd, timeout=300):
    """Run ``python <repo>/<script> args`` in ``cwd``; returns the CompletedProcess (text output)."""
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, os.path.join(REPO, script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
