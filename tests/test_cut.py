"""CUT and FastCUT: the PatchNCE loss by hand, the patch sampler F, the tapped generator, the command line."""
import json
import math
import os

import pytest
import torch

from conftest import TINY, TINY_TRAIN, run_cli, small_builtin
from gantool import cli
from gantool.losses import patch_nce_loss
from gantool.networks import define_G
from gantool.networks.patch_sample import PatchSampleF, build_patch_sampler, encoder_features

pytestmark = pytest.mark.usefixtures("single_thread")


def _nce_by_hand(q, k, T, groups):
    """The PatchNCE loss of every query row, written out with loops."""
    rows = q.shape[0]
    per_group = rows // groups
    losses = []
    for i in range(rows):
        g = i // per_group
        logits = [float(q[i] @ k[i]) / T]
        for j in range(g * per_group, (g + 1) * per_group):
            logits.append((-10.0 if j == i else float(q[i] @ k[j])) / T)
        losses.append(-logits[0] + math.log(sum(math.exp(v) for v in logits)))
    return torch.tensor(losses)


def test_patch_nce_loss_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # One image, two patches, keys equal to the queries, T = 1: the positive logit 1 against a masked own
    # position (-10) and the other patch (0).
    expected = -1 + math.log(math.e + math.exp(-10) + 1)
    assert patch_nce_loss(q, q, batch_size=1, nce_T=1.0).tolist() == pytest.approx([expected, expected], rel=1e-6)
    assert float(patch_nce_loss(q, q, 1, nce_T=0.5)[0]) == pytest.approx(float(_nce_by_hand(q, q, 0.5, 1)[0]), rel=1e-5)
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(6, 4, generator=g), dim=1)
    k = torch.nn.functional.normalize(torch.randn(6, 4, generator=g), dim=1)
    # Two images of three patches: negatives come from the same image only, unless asked for all.
    assert torch.allclose(patch_nce_loss(q, k, 2, 0.07), _nce_by_hand(q, k, 0.07, 2).float(), rtol=1e-5)
    assert torch.allclose(patch_nce_loss(q, k, 2, 0.07, True), _nce_by_hand(q, k, 0.07, 1).float(), rtol=1e-5)
    assert not torch.allclose(patch_nce_loss(q, k, 2, 0.07), patch_nce_loss(q, k, 2, 0.07, True))
    q.requires_grad_(True)
    k.requires_grad_(True)
    patch_nce_loss(q, k, 2).sum().backward()
    assert q.grad is not None and k.grad is None  # the keys are targets, not trained through


def test_tapped_features_leave_the_generator_alone():
    G = define_G(3, 3, 8, "resnet_6blocks", "instance")
    keys = list(G.state_dict())
    x = torch.rand(2, 3, 32, 32)
    feats = encoder_features(G, x, [0, 4, 8, 12])
    for layer, feat in zip([0, 4, 8, 12], feats):
        assert torch.equal(feat, G.model[: layer + 1](x))
    assert [tuple(f.shape[1:]) for f in feats] == [(3, 38, 38), (16, 16, 16), (32, 8, 8), (32, 8, 8)]
    assert list(G.state_dict()) == keys and "model.10.conv_block.1.weight" in keys  # the classic keys


def test_patch_sampler_is_built_eagerly_and_samples_the_same_places():
    G = define_G(3, 3, 8, "resnet_6blocks", "instance")
    F = build_patch_sampler(G, [0, 4, 8], 3, 32, num_patches=16, nc=8)
    assert [F.mlp_0[0].in_features, F.mlp_1[0].in_features, F.mlp_2[0].in_features] == [3, 16, 32]
    assert "mlp_2.2.weight" in F.state_dict()  # parameters exist before any batch (optimizer, DDP)
    feats = encoder_features(G, torch.rand(2, 3, 32, 32), [0, 4, 8])
    out, ids = F(feats, 16)
    again, same = F([f * 2 for f in feats], 16, ids)
    assert [tuple(o.shape) for o in out] == [(32, 8)] * 3 and all(torch.equal(a, b) for a, b in zip(ids, same))
    assert all(torch.allclose(o.norm(dim=1), torch.ones(32), atol=1e-2) for o in out)  # (+1e-7 in the divisor)
    plain, all_ids = PatchSampleF([3, 16, 32], use_mlp=False)(feats, 0)
    assert [len(i) for i in all_ids] == [38 * 38, 16 * 16, 8 * 8] and plain[2].shape == (2 * 64, 32)
    assert not list(PatchSampleF([3], use_mlp=False).parameters())


@pytest.fixture
def toy_root(tmp_path):
    return small_builtin(tmp_path, n_train=4, n_test=2)


def test_cut_and_fastcut_train_test_and_resume(toy_root, tmp_path):
    common = ["--model", "cut", "--dataroot", toy_root, "--checkpoints_dir", str(tmp_path), *TINY_TRAIN,
              "--num_patches", "16", "--nce_layers", "0,4,8", "--seed", "5", "--precision", "fp32"]
    # With the stabilisers that every GAN recipe takes (DiffAugment, lazy R1, EMA, spectral norm).
    assert cli.train_main(common + ["--name", "cut", "--diffaug", "color,translation", "--lambda_r1", "0.5",
                                    "--r1_every", "2", "--ema_decay", "0.9", "--norm_D", "spectral"]) == 0
    run = tmp_path / "cut"
    assert (run / "latest_net_G_ema.pth").is_file()
    assert "parametrizations.weight.original" in "".join(torch.load(run / "latest_net_D.pth", weights_only=True))
    for f in ("latest_net_G.pth", "latest_net_G.json", "latest_net_D.pth", "latest_net_F.pth", "latest_state.pth"):
        assert (run / f).is_file(), f
    log = (run / "loss_log.txt").read_text()
    assert "NCE:" in log and "NCE_Y:" in log
    opts = (run / "train_opt.txt").read_text()
    assert all(s in opts for s in ("nce_idt: True", "lambda_NCE: 1.0", "flip_equivariance: False", "gan_mode: lsgan"))
    results = tmp_path / "res"
    for model in (["--model", "cut"], ["--model", "test", "--no_dropout"]):  # its G is a plain ResNet generator
        assert cli.test_main([*model, "--dataroot", toy_root, "--checkpoints_dir", str(tmp_path), "--name", "cut",
                              "--results_dir", str(results), *TINY]) == 0
    metrics = json.loads((results / "cut" / "test_latest" / "metrics.json").read_text())
    assert metrics["images"] == 2 and 0 < metrics["average"]["psnr"] < 100

    fast = common + ["--CUT_mode", "FastCUT", "--n_epochs", "2", "--n_epochs_decay", "0"]
    assert cli.train_main(fast + ["--name", "once"]) == 0
    opts = (tmp_path / "once" / "train_opt.txt").read_text()
    assert all(s in opts for s in ("nce_idt: False", "lambda_NCE: 10.0", "flip_equivariance: True"))
    assert cli.train_main(fast + ["--name", "twice", "--max_iters", "6"]) == 0
    assert cli.train_main(fast + ["--name", "twice", "--continue_train"]) == 0  # the random flips continue too
    for name in ("G", "D", "F"):
        a = torch.load(tmp_path / "once" / f"latest_net_{name}.pth", weights_only=True)
        b = torch.load(tmp_path / "twice" / f"latest_net_{name}.pth", weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_fastcut_keeps_the_paper_schedule_on_real_data_only():
    from gantool.options import parse

    real = parse(["--model", "cut", "--CUT_mode", "fastcut", "--dataroot", "."], is_train=True)
    assert (real.n_epochs, real.n_epochs_decay, real.lambda_NCE, real.nce_idt) == (150, 50, 10.0, False)
    demo = parse(["--model", "cut", "--CUT_mode", "FastCUT"], is_train=True)
    assert (demo.n_epochs, demo.n_epochs_decay) == (2, 2)  # the built-in demo's short schedule
    explicit = parse(["--model", "cut", "--CUT_mode", "fastcut", "--nce_idt", "--lambda_NCE", "2"], is_train=True)
    assert explicit.nce_idt is True and explicit.lambda_NCE == 2.0


@pytest.mark.parametrize("args, message", [
    (["--nce_layers", "0,4,99"], "--nce_layers 0,4,99: give increasing layer indices of the generator, 0 to 24"),
    (["--num_patches", "5000"], "--num_patches 5000 is more than the 70x70 = 4900 positions of --nce_layers 0 at --crop_size 64"),
    (["--netG", "unet_64"], "--model cut taps the layers of a ResNet generator"),
    (["--netF", "conv"], "unknown --netF 'conv'; choose from: mlp_sample, sample"),
    (["--CUT_mode", "slowcut"], "invalid choice: 'slowcut'"),
])
def test_cut_mistakes_are_one_line(tmp_path, args, message):
    result = run_cli("train.py", ["--model", "cut", "--name", "bad", "--display_id", "0", *args], cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "checkpoints" / "bad" / "latest_net_G.pth")
