"""DiffAugment (``--diffaug``, ``ops/diffaug.py``) and the lazy R1 penalty (``--lambda_r1``, ``--r1_every``).

The augmentations against independent hand-written versions; the hook on the discriminators (every call in
training, none in eval mode, state-dict keys unchanged); R1 against its closed form on a linear D; exact resume
of R1's lazy schedule; end-to-end runs of three recipes; the one-line errors.
"""
import os

import pytest
import torch
import torch.nn as nn

from conftest import TINY_TRAIN, run_cli, write_images
from gantool import cli
from gantool.build import build_recipe
from gantool.engine.step import StepRunner
from gantool.errors import GantoolError
from gantool.losses import GANLoss, gradient_penalty, r1_penalty
from gantool.ops.diffaug import (brightness, contrast, cutout, diff_augment, parse_policy, saturation, shift,
                                 translation)
from gantool.options import parse

pytestmark = pytest.mark.usefixtures("single_thread")
CPU = torch.device("cpu")
ALL = ["color", "translation", "cutout"]


def shifted(image, dy, dx):
    """``image`` (C, H, W) moved down ``dy`` and right ``dx`` by slicing, zeros where nothing moved in."""
    _, h, w = image.shape
    out = torch.zeros_like(image)
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


# ----------------------------------------------------------------- the augmentations

def test_shift_moves_content_and_pads_zeros():
    x = torch.randn(3, 2, 8, 10)
    out = shift(x, torch.tensor([2, -3, 0]), torch.tensor([-1, 4, 0]))
    for i, (dy, dx) in enumerate([(2, -1), (-3, 4), (0, 0)]):
        assert torch.equal(out[i], shifted(x[i], dy, dx))


def test_translation_shifts_each_sample_by_up_to_an_eighth():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 32, 24) + 0.1  # no zeros of its own
    out = translation(x)
    shifts = set()
    for i in range(len(x)):  # which shift made sample i? exactly one within 1/8 of the size (4 rows, 3 columns)
        found = [(dy, dx) for dy in range(-4, 5) for dx in range(-3, 4) if torch.equal(out[i], shifted(x[i], dy, dx))]
        assert len(found) == 1, i
        shifts.add(found[0])
    assert len(shifts) > 4  # drawn per sample


def test_cutout_zeroes_one_square_of_half_the_size():
    torch.manual_seed(1)
    x = torch.rand(64, 3, 16, 24) + 0.1
    out = cutout(x)
    full = 0
    for i in range(len(x)):
        zero = out[i] == 0
        assert torch.equal(zero[0], zero[1]) and torch.equal(zero[0], zero[2])  # every channel
        rows, cols = zero[0].nonzero(as_tuple=True)
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        height, width = int(bottom - top + 1), int(right - left + 1)
        assert zero[0].sum() == height * width  # one rectangle
        assert torch.equal(out[i][~zero], x[i][~zero])  # the rest untouched
        # 8 x 12 (half the size), cut smaller only where it crosses a border
        assert height == 8 or (height < 8 and (top == 0 or bottom == 15))
        assert width == 12 or (width < 12 and (left == 0 or right == 23))
        full += height == 8 and width == 12
    assert full >= 5  # about 28 % of centres keep the whole square inside


def test_color_keeps_the_shape_and_is_the_identity_at_magnitude_zero():
    x = torch.randn(4, 3, 8, 8)
    for fn in (brightness, saturation, contrast):
        assert fn(x).shape == x.shape
        assert torch.allclose(fn(x, 0.0), x, atol=1e-6), fn.__name__
    offset = brightness(x) - x  # one offset per sample, within +-0.5
    per_sample = offset.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-6)
    assert per_sample.abs().max() <= 0.5 and per_sample[:, 0].unique().numel() == 4
    gray = torch.randn(4, 1, 8, 8)
    assert torch.equal(saturation(gray), gray)  # one channel has no saturation


@pytest.mark.parametrize("channels", [1, 3, 6])
def test_gradients_reach_the_input_for_any_channel_count(channels):
    torch.manual_seed(2)
    x = torch.randn(4, channels, 16, 16, requires_grad=True)
    out = diff_augment(x, ALL)
    assert out.shape == x.shape and out.dtype == x.dtype
    (out * torch.randn_like(out)).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad != 0).any()


def test_the_same_seed_draws_the_same_augmentation():
    x = torch.randn(4, 3, 16, 16)
    torch.manual_seed(3)
    a = diff_augment(x, ALL)
    torch.manual_seed(3)
    assert torch.equal(a, diff_augment(x, ALL))


def test_policy_names():
    assert parse_policy("color, translation,cutout") == ALL and parse_policy("") == []
    with pytest.raises(GantoolError, match="unknown policy 'colour'; choose from color, translation, cutout"):
        parse_policy("colour")


# ----------------------------------------------------------------- the hook

def _recipe(argv):
    torch.manual_seed(0)
    return build_recipe(parse(argv + ["--seed", "0", "--gpu_ids", "-1"], is_train=True), CPU)


CYCLE = ["--model", "cycle_gan", "--netG", "resnet_6blocks", "--ngf", "4", "--ndf", "4", "--pool_size", "2",
         "--crop_size", "32", "--load_size", "32"]


def test_the_hook_augments_every_discriminator_call_in_training_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = _recipe(CYCLE)
    keys = {name: list(net.state_dict()) for name, net in recipe.networks.items()}
    runner = StepRunner(CPU, "fp32", "off", "off", log=lambda m: None)
    runner.prepare(recipe)
    runner.augment_discriminators(recipe, "translation,cutout")
    calls = []
    for name in ("D_A", "D_B"):  # record each call's input before and after the augmentation
        net = recipe.networks[name]
        net.register_forward_pre_hook(lambda m, a, name=name: calls.append([name, a[0].clone()]), prepend=True)
        net.register_forward_pre_hook(lambda m, a: calls[-1].append(a[0].clone()))
    g = torch.Generator().manual_seed(0)
    batch = {"A": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, "B": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1}
    runner.train_step(recipe, batch)
    assert {name for name, _, _ in calls} == {"D_A", "D_B"} and len(calls) >= 4  # G's step and D's step
    for name, before, after in calls:
        assert before.shape == after.shape and not torch.equal(before, after), name
        assert (after == 0).float().mean() >= 0.2  # a quarter cut out, or more with the shift's padding
    assert {name: list(net.state_dict()) for name, net in recipe.networks.items()} == keys
    calls.clear()
    recipe.eval()
    recipe.networks["D_A"](batch["B"])
    assert torch.equal(calls[0][1], calls[0][2])  # eval mode: untouched


def test_compiled_passes_trace_the_augmentation(tmp_path, monkeypatch):
    """``--compile``: the hook runs inside the compiled passes (one graph each) and draws the same numbers."""
    monkeypatch.chdir(tmp_path)
    torch._dynamo.reset()
    recipes, runners = [_recipe(CYCLE), _recipe(CYCLE)], []
    recipes[1].compile_passes(lambda fn: torch.compile(fn, fullgraph=True, dynamic=False, backend="aot_eager"))
    for recipe in recipes:
        runners.append(StepRunner(CPU, "fp32", "off", "off", log=lambda m: None))
        runners[-1].augment_discriminators(recipe, "color,translation,cutout")
    g = torch.Generator().manual_seed(1)
    batch = {"A": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, "B": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1}
    losses = []
    for recipe, runner in zip(recipes, runners):
        torch.manual_seed(6)
        losses.append(runner.train_step(recipe, batch))
    torch._dynamo.reset()
    assert all(torch.allclose(losses[0][k], losses[1][k], rtol=1e-5, atol=1e-6) for k in losses[0])


def test_a_model_without_discriminators_refuses_diffaug(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = _recipe(["--model", "classifier", "--netC", "lenet", "--dataset_mode", "digits"])
    with pytest.raises(GantoolError, match="has none"):
        StepRunner(CPU, "fp32", "off", "off", log=lambda m: None).augment_discriminators(recipe, "color")


# ----------------------------------------------------------------- R1

def _linear_d():
    torch.manual_seed(4)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 1))


@pytest.mark.parametrize("gan_mode", ["vanilla", "lsgan", "hinge"])
def test_lazy_r1_of_a_linear_d_is_half_gamma_times_the_squared_weight_times_k(gan_mode):
    D = _linear_d()
    real, fake = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    loss = GANLoss(gan_mode, lambda_r1=2.0, r1_every=3)
    assert loss.needs_double_backward and not GANLoss(gan_mode).needs_double_backward
    assert GANLoss(gan_mode).penalty(D, real, fake, 10.0) is None  # off by default
    w = D[1].weight.detach()
    expected = 2.0 / 2 * w.square().sum() * 3  # grad_x of a linear D is its weight, for every sample
    values = [loss.penalty(D, real, fake, 10.0) for _ in range(7)]
    for step, value in enumerate(values):
        assert value.dim() == 0 and value.dtype == torch.float32
        assert value.item() == pytest.approx(expected.item() if step % 3 == 0 else 0.0, rel=1e-6)
    values[0].backward()  # create_graph: it trains D; d/dw [gamma/2 |w|^2 k] = gamma k w
    assert torch.allclose(D[1].weight.grad, 2.0 * 3 * w, rtol=1e-5)
    assert loss.r1_state() == {"r1_counts": [7]}


def test_wgangp_with_r1_adds_both_penalties():
    D = _linear_d()
    real, fake = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    torch.manual_seed(5)
    both = GANLoss("wgangp", lambda_r1=4.0, r1_every=1).penalty(D, real, fake, 10.0)
    torch.manual_seed(5)
    gp = gradient_penalty(D, real, fake, lambda_gp=10.0)
    assert both.item() == pytest.approx((gp + r1_penalty(D, real, 4.0)).item(), rel=1e-6)
    assert r1_penalty(D, real, 4.0).item() == pytest.approx(2.0 * D[1].weight.square().sum().item(), rel=1e-6)


def test_each_discriminator_keeps_its_own_schedule_and_it_is_restored():
    D_A, D_B = _linear_d(), _linear_d()
    x = torch.randn(2, 3, 2, 2)
    loss = GANLoss("lsgan", lambda_r1=1.0, r1_every=2)
    due = [[loss.penalty(D, x, x, 10.0).item() > 0 for D in (D_A, D_B)] for _ in range(3)]
    assert due == [[True, True], [False, False], [True, True]]  # alternating calls, as in CycleGAN
    resumed = GANLoss("lsgan", lambda_r1=1.0, r1_every=2)
    resumed.load_r1_state(loss.r1_state())
    assert loss.state_dict() == {}  # not in a module's keys
    assert [resumed.penalty(D, x, x, 10.0).item() > 0 for D in (D_A, D_B)] == [False, False]
    assert resumed.r1_state() == {"r1_counts": [4, 4]}


def test_a_recipe_with_r1_keeps_its_discriminator_pass_eager(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "discriminator_losses" in _recipe(CYCLE).passes_to_compile()
    assert _recipe(CYCLE + ["--lambda_r1", "1"]).passes_to_compile() == ["generator_losses"]


# ----------------------------------------------------------------- end to end

def test_r1_and_diffaug_resume_exactly(unaligned_root, tmp_path):
    """Stopped after 5 of 8 images (R1 every 3rd D update: due again at the 7th) and resumed == one run."""
    common = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), *TINY_TRAIN, "--seed", "7",
              "--lambda_r1", "1", "--r1_every", "3", "--diffaug", "color,translation,cutout"]
    assert cli.train_main(common + ["--name", "whole"]) == 0
    assert cli.train_main(common + ["--name", "parts", "--max_iters", "5"]) == 0
    state = torch.load(tmp_path / "parts" / "latest_state.pth", weights_only=False)
    assert state["recipe"]["gan_loss"] == {"r1_counts": [5, 5]}  # D_A, D_B
    assert cli.train_main(common + ["--name", "parts", "--continue_train"]) == 0
    for name in ("G_A", "D_A", "D_B"):
        whole = torch.load(tmp_path / "whole" / f"latest_net_{name}.pth", weights_only=True)
        parts = torch.load(tmp_path / "parts" / f"latest_net_{name}.pth", weights_only=True)
        assert all(torch.equal(whole[k], parts[k]) for k in whole), name


def _aligned(folder, count=2):
    write_images(folder, count, size=(64, 32), seed=5)  # A|B side by side, 32x32 each


@pytest.mark.parametrize("model", ["cycle_gan", "pix2pix", "dcgan"])
def test_train_py_with_diffaug_and_r1(model, unaligned_root, tmp_path, capsys):
    stabilisers = ["--diffaug", "color,translation,cutout", "--lambda_r1", "1", "--r1_every", "2"]
    common = ["--checkpoints_dir", str(tmp_path), "--name", "run", "--max_iters", "4", *stabilisers]
    if model == "cycle_gan":
        args = ["--dataroot", unaligned_root, *TINY_TRAIN]
    elif model == "pix2pix":
        _aligned(str(tmp_path / "p2p" / "train"))
        args = ["--model", "pix2pix", "--dataroot", str(tmp_path / "p2p"), *TINY_TRAIN]
    else:
        args = ["--model", "dcgan", "--gpu_ids", "-1", "--display_id", "0", "--max_dataset_size", "8",
                "--batch_size", "4", "--img_size", "16", "--n_epochs", "1", "--n_epochs_decay", "0", "--ngf", "4",
                "--ndf", "4", "--num_threads", "0"]
    if model == "cycle_gan":  # the real script once, in a fresh interpreter
        result = run_cli("train.py", args + common, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        output = result.stdout
    else:
        assert cli.train_main(args + common) == 0
        output = capsys.readouterr().out
    run = tmp_path / "run"
    assert (run / "latest_state.pth").is_file() and "lambda_r1: 1.0" in (run / "train_opt.txt").read_text()
    discriminators = "D_A, D_B" if model == "cycle_gan" else "D"
    assert f"DiffAugment color,translation,cutout on {discriminators}" in output
    state = torch.load(run / "latest_state.pth", weights_only=False)
    assert state["recipe"]["gan_loss"]["r1_counts"][0] >= 1
    for name, weights in state["networks"].items():
        assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point()), name


@pytest.mark.parametrize("args, message", [
    (["--lambda_r1", "-1"], "--lambda_r1 must not be negative and --r1_every must be 1 or more, got -1.0 and 16"),
    (["--r1_every", "0"], "--lambda_r1 must not be negative and --r1_every must be 1 or more, got 0.0 and 0"),
    (["--diffaug", "color,zoom"], "--diffaug: unknown policy 'zoom'; choose from color, translation, cutout"),
])
def test_bad_values_exit_2_with_one_line(args, message, unaligned_root, tmp_path, capsys):
    status = cli.train_main(["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), *TINY_TRAIN, *args])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err == f"gantool: error: {message}"
    assert not os.path.exists(tmp_path / "experiment_name")  # rejected before anything was written


def test_gan_loss_rejects_bad_r1_settings():
    with pytest.raises(GantoolError, match="--r1_every must be 1 or more, got 0"):
        GANLoss("lsgan", r1_every=0)
    with pytest.raises(GantoolError, match="--lambda_r1 must not be negative, got -0.5"):
        GANLoss("lsgan", lambda_r1=-0.5)


def test_r1_on_a_model_without_a_discriminator_is_an_error(tmp_path, capsys):
    args = ["--model", "classifier", "--netC", "lenet", "--dataset_mode", "digits", "--max_dataset_size", "8",
            "--checkpoints_dir", str(tmp_path), "--gpu_ids", "-1", "--display_id", "0", "--lambda_r1", "1"]
    assert cli.train_main(args) == 2
    assert capsys.readouterr().err.strip() == "gantool: error: --model classifier has no R1 penalty; drop --lambda_r1"
