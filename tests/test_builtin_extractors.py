"""The extractors gantool trains and ships for FID/KID on its built-in data: ``digits`` and ``toy_scenes``."""
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO

from gantool.data.digits import _SPLIT_SEEDS, render_digits
from gantool.data.toy_scenes import random_scene, render
from gantool.errors import GantoolError
from gantool.metrics import builtin_extractors as bx
from gantool.metrics.extractors import load_extractor

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def digits_net():
    return load_extractor("digits")


@pytest.fixture(scope="module")
def scenes_net():
    return load_extractor("toy_scenes")


@pytest.fixture(scope="module")
def test_digits():
    """The first 300 built-in test digits: (300, 1, 28, 28) in [0, 1] and their (300,) labels."""
    images, labels = render_digits(0, 300, _SPLIT_SEEDS["test"])
    return torch.from_numpy(images).float().div(255).unsqueeze(1), torch.from_numpy(labels)


def _scenes(tag: str, count: int, night: bool) -> torch.Tensor:
    """(count, 3, 64, 64) renders in [0, 1] of scenes no training set used."""
    scenes = [random_scene(random.Random(f"test_builtin_extractors:{tag}:{i}")) for i in range(count)]
    pictures = np.stack([np.asarray(render(s, 64, night)) for s in scenes])
    return torch.from_numpy(pictures).permute(0, 3, 1, 2).float().div(255)


def test_both_load_from_the_package_and_name_their_weights(digits_net, scenes_net):
    for net, kind in ((digits_net, "digits"), (scenes_net, "toy_scenes")):
        assert net.name == f"gantool-{kind}-v{bx.VERSION}-{bx.SHIPPED_SHA256[kind][:8]}"
        assert not net.training and not any(p.requires_grad for p in net.parameters())
        assert os.path.getsize(os.path.join(bx.WEIGHTS_DIR, f"{kind}.pth")) < 500_000
    assert load_extractor("digits", download=True).name == digits_net.name  # nothing to download: shipped


@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (4, 3, 28, 28), (3, 1, 32, 32), (2, 3, 41, 37)])
def test_digits_features_shape(digits_net, shape):
    with torch.no_grad():
        features = digits_net(torch.rand(shape))
    assert features.shape == (shape[0], 128) and features.dtype == torch.float32
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("shape", [(3, 3, 64, 64), (2, 1, 64, 64), (2, 3, 100, 80), (2, 3, 256, 256)])
def test_toy_scenes_features_shape(scenes_net, shape):
    with torch.no_grad():
        features = scenes_net(torch.rand(shape))
    assert features.shape == (shape[0], 128) and torch.isfinite(features).all()


def test_gray_and_rgb_digits_give_the_same_features(digits_net, test_digits):
    gray = test_digits[0][:8]
    with torch.no_grad():
        assert torch.allclose(digits_net(gray), digits_net(gray.expand(-1, 3, -1, -1)), atol=1e-4)


def test_digits_classifier_recognises_the_test_digits(digits_net, test_digits):
    images, labels = test_digits
    with torch.no_grad():
        accuracy = (digits_net.logits(images).argmax(1) == labels).float().mean().item()
        resized = torch.nn.functional.interpolate(images, size=(32, 32), mode="bilinear", align_corners=False)
        accuracy_32 = (digits_net.logits(resized).argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.95 and accuracy_32 >= 0.95


def test_digit_scores_real_noise_and_one_digit(digits_net, test_digits):
    images, labels = test_digits
    real = bx.digit_scores(digits_net, images)
    assert real["confident"] > 0.9 and real["classes_seen"] == 10 and real["largest_class"] <= 0.15
    noise = bx.digit_scores(digits_net, torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    assert noise["confident"] < 0.1
    assert bx.digit_scores(digits_net, torch.zeros(20, 3, 28, 28))["confident"] < 0.1  # a blank is no digit
    one = bx.digit_scores(digits_net, images[3:4].repeat(100, 1, 1, 1))
    assert one == {"confident": 1.0, "classes_seen": 1, "largest_class": 1.0}
    with pytest.raises(ValueError, match="digits extractor"):
        bx.digit_scores(torch.nn.Identity(), images)


def _frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to two (N, D) feature sets (FID's formula)."""
    a, b = a.double().numpy(), b.double().numpy()
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.sqrt(np.clip(np.linalg.eigvals(cov_a @ cov_b).real, 0, None)).sum()  # trace of sqrtm(cov_a cov_b)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * root)


def test_toy_scenes_features_tell_day_from_night_and_keep_the_scene(scenes_net):
    day, night, other_day = _scenes("a", 128, False), _scenes("a", 128, True), _scenes("b", 128, False)
    with torch.no_grad():
        f_day, f_night, f_other = scenes_net(day), scenes_net(night), scenes_net(other_day)
        p_night = scenes_net.night_probability(torch.cat([day, night]))
    across, within = _frechet(f_day, f_night), _frechet(f_day, f_other)
    assert across > 3 * within, (across, within)  # measured: 233 and 49
    assert ((p_night > 0.5) == torch.arange(256).ge(128)).float().mean() >= 0.95
    # ...while a scene by night stays nearer to itself by day than two different scenes by day are.
    assert (f_day - f_night).norm(dim=1).mean() < 0.75 * (f_day - f_other).norm(dim=1).mean()


def test_corrupt_shipped_weights_raise_one_line(tmp_path, monkeypatch):
    data = bytearray((open(os.path.join(bx.WEIGHTS_DIR, "digits.pth"), "rb")).read())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "digits.pth").write_bytes(bytes(data))
    monkeypatch.setattr(bx, "WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(GantoolError, match="digits extractor weights .* are corrupt") as err:
        load_extractor("digits")
    assert "\n" not in str(err.value)
    with pytest.raises(GantoolError, match="are missing") as err:
        load_extractor("toy_scenes")
    assert "\n" not in str(err.value)


def test_weights_of_another_network_raise_one_line(tmp_path):
    with pytest.raises(GantoolError, match="toy_scenes extractor") as err:
        load_extractor("toy_scenes", weights=os.path.join(bx.WEIGHTS_DIR, "digits.pth"))
    assert "\n" not in str(err.value)
    with pytest.raises(GantoolError, match="does not exist"):
        load_extractor("digits", weights=str(tmp_path / "absent.pth"))


def test_train_script_quick_end_to_end(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "train_extractors.py"), "all", "--quick",
                          "--out", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "test accuracy" in run.stdout and "night accuracy" in run.stdout
    for kind, dim in (("digits", 128), ("toy_scenes", 128)):
        path = tmp_path / f"{kind}.pth"
        net = load_extractor(kind, weights=str(path))
        assert net.name == f"gantool-{kind}-v{bx.VERSION}-{bx.sha256_of(str(path))[:8]}"
        state = torch.load(path, weights_only=True)
        assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
        with torch.no_grad():
            assert net(torch.rand(2, 3, 40, 40)).shape == (2, dim)
    assert sorted(os.listdir(tmp_path)) == ["digits.pth", "toy_scenes.pth"]  # no temporary files left
