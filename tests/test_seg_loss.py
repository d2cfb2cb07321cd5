"""--seg_loss ce | dice | ce+dice for --model segmenter: the soft Dice loss against a value worked by hand,
its limits (a perfect prediction, void pixels, gradients, fp32 under bf16 autocast), the recipe's logged
parts, mistakes, and a real train.py run."""
import math

import pytest
import torch
import torch.nn.functional as F

from conftest import run_cli
from gantool.build import build_recipe
from gantool.errors import GantoolError
from gantool.metrics.labels import IGNORE_INDEX
from gantool.models.seg_loss import dice_loss, segmentation_losses
from gantool.options import parse

CPU = torch.device("cpu")


def _hand_example():
    """2 classes on a 2x2 image. Logits: class 0 all 0; class 1 [[0, ln 3], [0, -ln 3]], so
    p1 = sigmoid(l1 - l0) = [[1/2, 3/4], [1/2, 1/4]] and p0 = 1 - p1 = [[1/2, 1/4], [1/2, 3/4]].
    Mask [[0, 1], [1, 1]]: t0 = [[1, 0], [0, 0]], t1 = [[0, 1], [1, 1]]."""
    logits = torch.zeros(1, 2, 2, 2)
    logits[0, 1] = torch.tensor([[0.0, math.log(3)], [0.0, -math.log(3)]])
    return logits, torch.tensor([[[0, 1], [1, 1]]])


def test_dice_matches_the_value_worked_by_hand():
    logits, mask = _hand_example()
    # Class 0: sum(p0 * t0) = 1/2; sum(p0) + sum(t0) = 2 + 1 = 3.
    # Class 1: sum(p1 * t1) = 3/4 + 1/2 + 1/4 = 3/2; sum(p1) + sum(t1) = 2 + 3 = 5.
    # s = 1: Dice0 = (2 * 1/2 + 1) / (3 + 1) = 1/2, Dice1 = (2 * 3/2 + 1) / (5 + 1) = 2/3;
    #        loss = 1 - (1/2 + 2/3) / 2 = 5/12.
    assert dice_loss(logits, mask).item() == pytest.approx(5 / 12, abs=1e-6)
    # s = 0: Dice0 = 1/3, Dice1 = 3/5; loss = 1 - (1/3 + 3/5) / 2 = 8/15.
    assert dice_loss(logits, mask, smooth=0.0).item() == pytest.approx(8 / 15, abs=1e-6)


def test_a_perfect_prediction_scores_zero_and_an_absent_class_counts_as_perfect():
    mask = torch.randint(0, 2, (2, 5, 6), generator=torch.Generator().manual_seed(0))  # class 2 never occurs
    logits = F.one_hot(mask, 3).permute(0, 3, 1, 2).float() * 40 - 20  # confident and right, class 2 never said
    assert dice_loss(logits, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert dice_loss(-logits, mask).item() > 0.6  # confidently wrong: classes 0 and 1 score ~0


def test_void_pixels_count_nowhere():
    logits, mask = _hand_example()
    # A third column of void pixels with any logits: still the hand-worked 5/12.
    wide = torch.cat([logits, torch.randn(1, 2, 2, 1) * 5], dim=3)
    wide_mask = torch.cat([mask, torch.full((1, 2, 1), IGNORE_INDEX)], dim=2)
    assert dice_loss(wide, wide_mask).item() == pytest.approx(5 / 12, abs=1e-6)
    other = wide.clone()
    other[..., 2] = torch.randn(1, 2, 2) * 5
    assert dice_loss(other, wide_mask).item() == pytest.approx(dice_loss(wide, wide_mask).item(), abs=1e-7)


def test_gradients_reach_every_valid_pixel_and_no_void_one():
    logits, mask = _hand_example()
    wide = torch.cat([logits, torch.randn(1, 2, 2, 1)], dim=3).requires_grad_(True)
    wide_mask = torch.cat([mask, torch.full((1, 2, 1), IGNORE_INDEX)], dim=2)
    dice_loss(wide, wide_mask).backward()
    grad = wide.grad
    assert torch.isfinite(grad).all()
    assert (grad[..., :2].abs().sum(1) > 0).all()  # every valid pixel gets a gradient
    assert torch.equal(grad[..., 2], torch.zeros(1, 2, 2))  # no void pixel does


def test_dice_is_fp32_under_bf16_autocast():
    logits = torch.randn(2, 3, 8, 8).bfloat16()
    mask = torch.randint(0, 3, (2, 8, 8), generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        parts = segmentation_losses(logits, mask, "ce+dice")
    assert {k: v.dtype for k, v in parts.items()} == {"CE": torch.float32, "Dice": torch.float32}
    assert parts["Dice"].item() == pytest.approx(dice_loss(logits.float(), mask).item(), abs=1e-6)


@pytest.mark.parametrize("seg_loss, names", [("ce", ["CE"]), ("dice", ["Dice"]), ("ce+dice", ["CE", "Dice"])])
def test_the_recipe_trains_the_sum_and_logs_each_part(seg_loss, names, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opt = parse(["--model", "segmenter", "--num_classes", "3", "--base_channels", "4", "--unet_depth", "2",
                 "--seg_loss", seg_loss, "--dice_smooth", "0.5", "--dataroot", "."], is_train=True)
    torch.manual_seed(0)
    recipe = build_recipe(opt, CPU)
    assert recipe.loss_names == names
    g = torch.Generator().manual_seed(0)
    batch = {"A": torch.rand(2, 3, 16, 16, generator=g) * 2 - 1, "mask": torch.randint(0, 3, (2, 16, 16), generator=g)}
    batch["mask"][0, :4] = IGNORE_INDEX
    loss, parts, logits = recipe.forward_loss(batch["A"], batch["mask"])
    expected = {"CE": lambda: F.cross_entropy(logits.float(), batch["mask"], ignore_index=IGNORE_INDEX),
                "Dice": lambda: dice_loss(logits, batch["mask"], smooth=0.5)}
    assert list(parts) == names
    for name in names:
        assert parts[name].item() == pytest.approx(expected[name]().item(), abs=1e-6)
    assert loss.item() == pytest.approx(sum(p.item() for p in parts.values()), abs=1e-6)
    assert list(recipe.training_step(batch)) == names


def test_seg_loss_mistakes_are_short(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):  # argparse's own message lists the choices
        parse(["--model", "segmenter", "--seg_loss", "jaccard", "--dataroot", "."], is_train=True)
    err = capsys.readouterr().err
    assert "argument --seg_loss: invalid choice: 'jaccard'" in err and "ce+dice" in err
    opt = parse(["--model", "segmenter", "--num_classes", "3", "--dice_smooth", "0", "--dataroot", "."], is_train=True)
    with pytest.raises(GantoolError, match="--dice_smooth must be positive"):
        build_recipe(opt, CPU)


def test_train_py_with_ce_plus_dice_on_the_builtin_shapes(tmp_path):
    result = run_cli("train.py", [
        "--model", "segmenter", "--seg_loss", "ce+dice", "--netS", "unet", "--base_channels", "4", "--unet_depth", "2",
        "--load_size", "32", "--crop_size", "32", "--batch_size", "8", "--max_dataset_size", "16", "--n_epochs", "1",
        "--n_epochs_decay", "0", "--print_freq", "8", "--num_threads", "0", "--gpu_ids", "-1", "--display_id", "0",
        "--checkpoints_dir", str(tmp_path / "checkpoints"), "--name", "dice"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "checkpoints" / "dice" / "loss_log.txt").read_text()
    assert "CE: " in log and "Dice: " in log
    assert (tmp_path / "checkpoints" / "dice" / "latest_net_S.pth").is_file()
