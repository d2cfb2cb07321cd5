"""Self-describing checkpoints, the Python Translator, tiling and ``gantool translate``."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, run_cli, write_images
from gantool.io.arch import arch_path, read_arch
from gantool.io.checkpoint import save_network
from gantool.errors import GantoolError
from gantool.networks import define_G
from gantool.networks.dcgan import define_dcgan
from gantool.networks.mlp_gan import MLPGenerator
from gantool.inference.tiling import blend_window, tile_starts, translate_tiled
from gantool.inference.translator import Translator

pytestmark = pytest.mark.usefixtures("single_thread")


def gantool_cli(args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    code = "import sys; from gantool.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def saved(tmp_path):
    """A tiny resnet generator saved the way train.py saves it; returns its .pth path."""
    torch.manual_seed(0)
    path = tmp_path / "checkpoints" / "tiny" / "latest_net_G.pth"
    save_network(define_G(3, 3, 4, "resnet_6blocks", "instance"), str(path))
    return path


def test_generators_save_their_architecture_beside_the_classic_file(tmp_path):
    for net, builder in [(define_G(1, 3, 4, "unet_64", "batch", True), "define_G"),
                         (MLPGenerator(8, 1, 8), "mlp_gan"),
                         (define_dcgan(8, 1, 16, 4, 4, with_discriminator=False)[0], "dcgan")]:
        path = str(tmp_path / f"{builder}.pth")
        save_network(net, path)
        arch = read_arch(path)
        assert arch["builder"] == builder and json.load(open(arch_path(path)))["gantool_arch"] == 1
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert list(state) == list(net.state_dict())  # still a plain classic state dict
    assert read_arch(str(tmp_path / "classic.pth")) is None
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(GantoolError, match="not gantool architecture metadata"):
        read_arch(str(tmp_path / "bad.pth"))


def test_translator_takes_pil_numpy_tensors_lists_and_odd_sizes(saved):
    t = Translator.load(str(saved), device="cpu")
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (37, 50, 3), dtype=np.uint8))
    out = t(image)
    assert isinstance(out, Image.Image) and out.size == (50, 37) and out.mode == "RGB"
    arr = np.asarray(image)
    assert np.array_equal(t(arr), np.asarray(out))  # numpy uint8 gives the same pixels
    assert t(arr[:, :, 0]).shape == (37, 50, 3)  # gray in: expanded to the generator's 3 channels
    assert t(np.stack([arr, arr])).shape == (2, 37, 50, 3)
    x = torch.rand(2, 3, 9, 11) * 2 - 1
    y = t(x)
    assert y.shape == (2, 3, 9, 11) and y.abs().max() <= 1 and t(x[0]).shape == (3, 9, 11)
    outs = t([image, image.resize((20, 24)), arr])
    assert [type(o) for o in outs] == [Image.Image, Image.Image, np.ndarray] and outs[1].size == (20, 24)
    with pytest.raises(GantoolError, match="cannot translate a str"):
        t("image.png")


def test_translator_follows_the_metadata_and_names_classic_mismatches(saved, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = Translator.load(str(saved), device="cpu", netG="resnet_9blocks")  # contradicts the side file
    assert "ignoring netG='resnet_9blocks'" in str(caught[0].message) and t(torch.zeros(1, 3, 8, 8)).shape[1] == 3
    os.remove(arch_path(str(saved)))  # now a classic file: options are explicit again
    Translator.load(str(saved.parent), device="cpu", netG="resnet_6blocks", ngf=4)
    with pytest.raises(GantoolError, match="does not fit.*looks like it was saved with --netG resnet_6blocks --ngf 4"):
        Translator.load(str(saved), device="cpu")  # the classic default (resnet_9blocks, ngf 64) is wrong
    save_network(MLPGenerator(8, 1, 8), str(tmp_path / "gan.pth"))
    with pytest.raises(GantoolError, match="unconditional generator"):
        Translator.load(str(tmp_path / "gan.pth"), device="cpu")
    with pytest.raises(GantoolError, match="neither a checkpoint file"):
        Translator.load("no_such_model", device="cpu")


def test_eval_semantics_are_explicit_for_batchnorm_and_dropout(tmp_path):
    torch.manual_seed(0)
    path = str(tmp_path / "p2p.pth")
    net = define_G(3, 3, 4, "unet_64", "batch", True)
    save_network(net, path)
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    classic = Translator.load(path, device="cpu")  # test.py: each image by its own statistics, dropout on
    torch.manual_seed(1)
    a = classic.translate_tensor(x)
    torch.manual_seed(1)
    b = torch.cat([classic.translate_tensor(x[i:i + 1]) for i in range(3)])
    assert torch.allclose(a, b, atol=1e-6)  # neighbours in a batch do not change an image
    evaluated = Translator.load(path, device="cpu", eval_mode=True)
    assert torch.equal(evaluated.translate_tensor(x), evaluated.translate_tensor(x))  # deterministic
    assert not torch.allclose(evaluated.translate_tensor(x), a, atol=1e-3)


def test_tiles_cover_the_image_and_blend_without_seams():
    assert tile_starts(100, 40, 8) == [0, 30, 60] and tile_starts(30, 40, 8) == [0]
    assert all(b - a <= 32 for a, b in zip(tile_starts(1000, 40, 8), tile_starts(1000, 40, 8)[1:]))
    w = blend_window(40, 8)
    assert w.min() > 0 and w[8:32].eq(1).all()
    x = torch.rand(2, 3, 70, 101)
    calls = []

    def double(t):
        calls.append(tuple(t.shape[-2:]))
        return 2 * t

    assert torch.allclose(translate_tiled(double, x, 32, 8), 2 * x, atol=1e-6)  # weights sum back exactly
    assert len(calls) == 3 * 4 and max(calls) <= (32, 32)


def test_tiled_translation_stays_close_to_the_whole_image(tmp_path):
    # Without normalisation the generator is local: tiles with a wide overlap reproduce the whole result.
    torch.manual_seed(0)
    path = str(tmp_path / "g.pth")
    save_network(define_G(3, 3, 4, "resnet_6blocks", "none"), path)
    x = torch.rand(1, 3, 90, 75) * 2 - 1
    whole = Translator.load(path, device="cpu").translate_tensor(x)
    tiled = Translator.load(path, device="cpu", tile=48, overlap=24).translate_tensor(x)
    assert tiled.shape == whole.shape and (tiled - whole).abs().mean() < 0.02


def test_test_py_needs_no_network_options_for_gantool_checkpoints(saved, tmp_path):
    write_images(str(tmp_path / "imgs"), 2, size=(20, 28))
    base = ["--model", "test", "--name", "tiny", "--dataroot", "imgs", "--gpu_ids", "-1", "--preprocess", "none"]
    result = run_cli("test.py", base, cwd=tmp_path)  # the defaults say resnet_9blocks, ngf 64
    assert result.returncode == 0, result.stderr
    result = run_cli("test.py", base + ["--netG", "unet_256", "--results_dir", "r2"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "was saved with --netG resnet_6blocks; using that instead of --netG unet_256" in result.stdout
    os.remove(arch_path(str(saved)))  # a classic file: a wrong guess is the one-line error
    result = run_cli("test.py", base, cwd=tmp_path)
    assert result.returncode == 2 and "--netG resnet_6blocks --ngf 4" in result.stderr


def test_gantool_translate_one_image_a_folder_and_a_glob(saved, tmp_path):
    write_images(str(tmp_path / "in"), 3, size=(21, 30))
    ckpt = str(saved)
    result = gantool_cli(["translate", "in/img000.png", "-o", "one.png", "-c", ckpt], tmp_path)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "one.png").size == (21, 30)
    result = gantool_cli(["translate", "in", "-o", "out", "-c", ckpt, "--tile", "16", "--overlap", "4"], tmp_path)
    assert result.returncode == 0 and sorted(os.listdir(tmp_path / "out")) == ["img000.png", "img001.png", "img002.png"]
    result = gantool_cli(["translate", "in/img00[01].png", "-o", "glob", "-c", ckpt], tmp_path)
    assert result.returncode == 0 and sorted(os.listdir(tmp_path / "glob")) == ["img000.png", "img001.png"]
    result = gantool_cli(["translate", "nothing*", "-o", "x", "-c", ckpt], tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("gantool: error: nothing* is not an image")


def test_test_py_rebuilds_an_unconditional_generator_from_its_metadata(tmp_path):
    G, _ = define_dcgan(8, 1, 16, 4, 4, with_discriminator=False)
    save_network(G, str(tmp_path / "checkpoints" / "d" / "latest_net_G.pth"))
    # The defaults would be --img_size 32 --latent_dim 100 --ngf 32: the side file replaces them.
    result = run_cli("test.py", ["--model", "dcgan", "--name", "d", "--gpu_ids", "-1", "--num_test", "4"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "results/d/test_latest/images/sample0000_fake.png").size == (16, 16)
