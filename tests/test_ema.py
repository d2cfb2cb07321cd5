"""``--ema_decay``: moving averages of the generators, kept by the trainer; ``test.py --ema`` and
``Translator.load(..., ema=True)`` use them."""
import csv
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from conftest import TINY, TINY_TRAIN
from gantool import Translator, cli
from gantool.engine.ema import GeneratorEMA
from gantool.errors import GantoolError

pytestmark = pytest.mark.usefixtures("single_thread")  # 2 busy cores: no spin-waiting threads


def _net():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))


def test_the_average_follows_the_closed_form_and_decay_0_copies():
    torch.manual_seed(0)
    net = _net().double()
    ema = GeneratorEMA({"G": net}, decay=0.9)
    start = [p.detach().clone() for p in ema.averages["G"].parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)  # the network moves once, then stays constant
        net[1].running_mean.fill_(3.0)
    for _ in range(7):
        ema.update()
    for e0, live, avg in zip(start, net.parameters(), ema.averages["G"].parameters()):
        # e_k = p + (e_0 - p) * decay ** k
        assert torch.allclose(avg, live + (e0 - live) * 0.9 ** 7, rtol=0, atol=1e-12)
        assert not avg.requires_grad
    assert torch.equal(ema.averages["G"][1].running_mean, net[1].running_mean)  # buffers are copied
    copy = GeneratorEMA({"G": net}, decay=0.0)
    with torch.no_grad():
        net[0].weight.mul_(-2.0)
    copy.update()
    assert all(torch.equal(a, b) for a, b in zip(copy.averages["G"].state_dict().values(), net.state_dict().values()))
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(GantoolError, match="--ema_decay must be at least 0 and below 1"):
            GeneratorEMA({"G": net}, bad)


def test_the_update_never_reads_a_tensor_on_the_host(monkeypatch):
    """Only tensor operations: no .item(), float(), bool(), .tolist(), .cpu(), .numpy() (each a host sync on a GPU)."""
    net = _net()
    ema = GeneratorEMA({"G": net}, decay=0.99)

    def refuse(*args, **kwargs):
        raise AssertionError("the EMA update read a tensor on the host")

    for name in ("item", "__float__", "__bool__", "tolist", "cpu", "numpy", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    ema.update()
    monkeypatch.undo()
    # On the meta device a tensor has no data at all: reading one would fail, while the update still runs.
    with torch.device("meta"):
        meta = _net()
    GeneratorEMA({"G": meta}, decay=0.99).update()
    if torch.cuda.is_available():
        cuda = _net().cuda()
        ema = GeneratorEMA({"G": cuda}, decay=0.99)
        torch.cuda.set_sync_debug_mode("error")
        try:
            ema.update()
        finally:
            torch.cuda.set_sync_debug_mode("default")


def test_swapped_in_runs_the_average_and_restores_the_weights_exactly():
    torch.manual_seed(0)
    net = _net()
    ema = GeneratorEMA({"G": net}, decay=0.5)
    with torch.no_grad():
        net[0].weight.add_(1.0)
    ema.update()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with ema.swapped_in():
        assert torch.equal(net[0].weight, ema.averages["G"][0].weight)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def _images(folder):
    return {f: np.asarray(Image.open(os.path.join(folder, f))) for f in sorted(os.listdir(folder)) if "fake" in f}


def test_train_saves_the_average_and_test_and_translator_use_it(unaligned_root, tmp_path, capsys):
    ck, res = str(tmp_path / "ck"), str(tmp_path / "res")
    assert cli.train_main(["--dataroot", unaligned_root, "--checkpoints_dir", ck, "--name", "e", "--seed", "1",
                           "--ema_decay", "0.9", *TINY_TRAIN]) == 0
    run = tmp_path / "ck" / "e"
    for name in ("G_A", "G_B"):
        live = torch.load(run / f"latest_net_{name}.pth", weights_only=True)
        avg = torch.load(run / f"latest_net_{name}_ema.pth", weights_only=True)
        assert list(live) == list(avg) and not all(torch.equal(live[k], avg[k]) for k in live)
        assert (run / f"latest_net_{name}_ema.json").is_file()  # the architecture side file
    assert set(torch.load(run / "latest_state.pth", weights_only=True)["ema"]["networks"]) == {"G_A", "G_B"}
    assert not (run / "latest_net_D_A_ema.pth").exists()

    test = ["--dataroot", unaligned_root, "--checkpoints_dir", ck, "--name", "e", "--results_dir", res, *TINY]
    assert cli.test_main(test + ["--ema"]) == 0 and cli.test_main(test) == 0
    averaged = _images(os.path.join(res, "e", "test_latest_ema", "images"))
    plain = _images(os.path.join(res, "e", "test_latest", "images"))
    assert averaged.keys() == plain.keys() and averaged
    assert any(not np.array_equal(averaged[k], plain[k]) for k in plain)

    image = torch.rand(3, 32, 32) * 2 - 1
    by_folder = Translator.load(str(run), device="cpu", ema=True)(image)
    by_file = Translator.load(str(run / "latest_net_G_A.pth"), device="cpu", ema=True)(image)
    direct = Translator.load(str(run / "latest_net_G_A_ema.pth"), device="cpu")(image)
    live = Translator.load(str(run), device="cpu")(image)
    assert torch.equal(by_folder, direct) and torch.equal(by_file, direct) and not torch.equal(live, direct)

    # A run without averages: one line each.
    assert cli.train_main(["--dataroot", unaligned_root, "--checkpoints_dir", ck, "--name", "plain",
                           *TINY_TRAIN, "--n_epochs_decay", "0"]) == 0
    capsys.readouterr()
    assert cli.test_main(["--dataroot", unaligned_root, "--checkpoints_dir", ck, "--name", "plain",
                          "--results_dir", res, *TINY, "--ema"]) == 2
    assert "trained without --ema_decay" in capsys.readouterr().err
    with pytest.raises(GantoolError, match="trained with --ema_decay"):
        Translator.load(os.path.join(ck, "plain"), ema=True)
    for bad in ("1", "-0.5"):
        assert cli.train_main(["--dataroot", unaligned_root, "--checkpoints_dir", ck, "--ema_decay", bad,
                               *TINY_TRAIN]) == 2
        assert f"--ema_decay must be at least 0 and below 1 (e.g. 0.999; 0: no average), got {float(bad)}" \
            in capsys.readouterr().err


def test_resume_with_ema_is_exact(unaligned_root, tmp_path):
    """8 images in one run == 6 images, stop, --continue_train to 8: the averages too."""
    common = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), "--seed", "3", *TINY_TRAIN,
              "--n_epochs", "2", "--n_epochs_decay", "0", "--ema_decay", "0.8"]
    assert cli.train_main(common + ["--name", "once"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--max_iters", "6"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--continue_train"]) == 0
    for name in ("G_A", "G_B", "D_A", "G_A_ema", "G_B_ema"):
        once = torch.load(tmp_path / "once" / f"latest_net_{name}.pth", weights_only=True)
        twice = torch.load(tmp_path / "twice" / f"latest_net_{name}.pth", weights_only=True)
        assert all(torch.equal(once[k], twice[k]) for k in once), name


def _write_aligned(folder, count, seed):
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    for i in range(count):
        a = (torch.rand(32, 32, 3, generator=g) * 255).to(torch.uint8).numpy()
        Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(os.path.join(folder, f"p{i}.png"))


def test_validation_scores_the_average_and_keep_best_keeps_it(tmp_path):
    """Validation with --ema_decay scores the averages, changes nothing in training, and --keep_best keeps both."""
    root = tmp_path / "data"
    _write_aligned(root / "train", 3, seed=1)
    _write_aligned(root / "val", 2, seed=2)
    common = ["--model", "pix2pix", "--dataroot", str(root), "--checkpoints_dir", str(tmp_path), "--seed", "2",
              *TINY_TRAIN, "--val_freq", "1", "--keep_best", "psnr"]
    assert cli.train_main(common + ["--name", "plain"]) == 0
    assert cli.train_main(common + ["--name", "ema", "--ema_decay", "0.5"]) == 0
    plain = torch.load(tmp_path / "plain" / "latest_net_G.pth", weights_only=True)
    ema = torch.load(tmp_path / "ema" / "latest_net_G.pth", weights_only=True)
    assert all(torch.equal(plain[k], ema[k]) for k in plain)  # the averages change nothing in training
    scores = {}
    for name in ("plain", "ema"):
        with open(tmp_path / name / "val_log.csv", newline="") as f:
            scores[name] = [row["psnr"] for row in csv.DictReader(f)]
    assert scores["plain"] != scores["ema"]
    assert (tmp_path / "ema" / "best_net_G_ema.pth").is_file() and (tmp_path / "ema" / "best_net_G.pth").is_file()
