"""The pretrained generators shipped in gantool/pretrained/: they load offline and beat the identity baseline."""
import json
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from gantool.io.arch import read_arch
from gantool.networks import build_from_arch
from gantool.io.checkpoint import load_network
from gantool.data.builtin import ensure_builtin
from gantool.data.digits import render_digits
from gantool.metrics.paired import paired_metrics
from gantool.metrics.paired_eval import ssim
from gantool.io.pretrained import PRETRAINED_DIR, checkpoint_folder, shipped_folder, shipped_names
from gantool.inference.translator import Translator

pytestmark = pytest.mark.usefixtures("single_thread")

TRANSLATORS = ["toy_day2night_pretrained", "toy_night2day_pretrained", "toy_day2night_pix2pix_pretrained"]
SAMPLERS = ["digits_gan_pretrained", "digits_dcgan_pretrained"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return ensure_builtin(str(tmp_path_factory.mktemp("datasets")), log=lambda m: None)


def _load(folder, names):
    return torch.stack([torch.from_numpy(np.asarray(Image.open(os.path.join(folder, n)).convert("RGB"),
                                                    dtype=np.float32) / 127.5 - 1).permute(2, 0, 1) for n in names])


def test_every_model_is_shipped_small_and_self_describing():
    assert set(TRANSLATORS + SAMPLERS) <= set(shipped_names())
    total = 0
    for name in TRANSLATORS + SAMPLERS:
        path = os.path.join(PRETRAINED_DIR, name, "latest_net_G.pth")
        assert read_arch(path) is not None
        state = torch.load(path, map_location="cpu", weights_only=True)  # a plain classic state dict
        assert all(isinstance(v, torch.Tensor) for v in state.values())
        total += os.path.getsize(path)
    assert total < 8e6  # "a few MB in all"


# Lower bounds a little under the figures measured by scripts/train_pretrained.sh (README table): PSNR (dB) and
# SSIM on the 20 built-in test images; the identity baseline is about 6.2 dB and SSIM 0.25.
TRANSLATOR_FLOORS = {"toy_day2night_pretrained": ("testA", "testA_truth", 21.5, 0.65),
                     "toy_night2day_pretrained": ("testB", "testB_truth", 18.5, 0.55),
                     "toy_day2night_pix2pix_pretrained": ("testA", "testA_truth", 21.5, 0.68)}


@pytest.mark.parametrize("name", TRANSLATORS)
def test_shipped_translators_beat_the_identity_baseline(toy, name):
    side, truth, min_psnr, min_ssim = TRANSLATOR_FLOORS[name]
    files = sorted(os.listdir(os.path.join(toy, side)))
    real, true = _load(os.path.join(toy, side), files), _load(os.path.join(toy, truth), files)
    torch.manual_seed(0)
    fake = Translator.load(name, device="cpu").translate_tensor(real)
    ours, baseline = paired_metrics(fake, true)["psnr"], paired_metrics(real, true)["psnr"]
    assert ours > max(baseline + 8, min_psnr), (ours, baseline)
    structure = ssim((fake.clamp(-1, 1) + 1) / 2, (true + 1) / 2).mean().item()
    assert structure > max(ssim((real + 1) / 2, (true + 1) / 2).mean().item() + 0.1, min_ssim), structure


@pytest.mark.parametrize("name", SAMPLERS)
def test_shipped_samplers_draw_digit_like_images(name):
    path = os.path.join(PRETRAINED_DIR, name, "latest_net_G.pth")
    arch = read_arch(path)
    untrained, G = build_from_arch(arch), build_from_arch(arch)
    load_network(G, path)
    size = arch["kwargs"]["img_size"]
    digits = render_digits(0, 500, seed=1, size=size)[0] / 255.0
    z = torch.randn(500, arch["kwargs"]["latent_dim"], generator=torch.Generator().manual_seed(0))

    def mean_image_distance(net):
        with torch.no_grad():
            samples = (net.train()(z)[:, 0].clamp(-1, 1) + 1) / 2
        return np.abs(samples.mean(0).numpy() - digits.mean(0)).mean()

    # Measured: about 0.36 untrained and 0.02 to 0.05 trained (mean-image L1 on the [0, 1] scale).
    assert mean_image_distance(G) < 0.25 * mean_image_distance(untrained)


def test_the_classic_pretrained_command_uses_the_shipped_model(tmp_path):
    # No checkpoints/ folder and no network options: the package copy and its metadata are used.
    args = ["--model", "test", "--name", "toy_day2night_pretrained", "--no_dropout", "--gpu_ids", "-1",
            "--num_test", "6", "--seed", "1"]
    result = run_cli("test.py", args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "shipped with gantool" in result.stdout
    metrics = json.loads((tmp_path / "results/toy_day2night_pretrained/test_latest/metrics.json").read_text())
    assert metrics["images"] == 6 and metrics["average"]["psnr"] > 14
    assert not (tmp_path / "checkpoints").exists()  # nothing was written next to (or instead of) the model


def test_a_local_folder_of_the_same_name_wins(tmp_path):
    local = tmp_path / "toy_day2night_pretrained"
    assert checkpoint_folder(str(tmp_path), "toy_day2night_pretrained") == shipped_folder("toy_day2night_pretrained")
    shutil.copytree(shipped_folder("toy_day2night_pretrained"), local)
    assert checkpoint_folder(str(tmp_path), "toy_day2night_pretrained") == str(local)
    assert shipped_folder("../pretrained") is None and checkpoint_folder(str(tmp_path), "nope").endswith("nope")
