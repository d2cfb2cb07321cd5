"""The memory estimate of every command (issue 22): close to the measured peak, printed at start-up, and a run
that does not fit is refused in one line, with what would fit, before anything large is allocated.

Refusals are provoked either by sizes no machine has (a typo's extra digit) or by telling the check that
little memory is free (``memory.free_memory`` patched): nothing here allocates more than a few hundred MB.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import REPO, TINY, TINY_TRAIN, run_cli, write_images
from gantool import build, cli, options, preflight
from gantool.engine import memory

pytestmark = pytest.mark.usefixtures("single_thread")
MIB = 1 << 20


def unaligned(tmp_path, size=32):
    root = str(tmp_path / "data")
    for side, seed in (("trainA", 1), ("trainB", 2), ("testA", 3), ("testB", 4)):
        write_images(os.path.join(root, side), 2, size=(size, size), seed=seed)
    return root


def train_args(tmp_path, root, *extra):
    return ["--dataroot", root, "--checkpoints_dir", str(tmp_path / "ck"), "--name", "run", *TINY_TRAIN,
            "--max_iters", "2", *extra]


def error_lines(err: str):
    return [line for line in err.splitlines() if "error:" in line]


def free_memory_of(monkeypatch, nbytes: int) -> None:
    monkeypatch.setattr(memory, "free_memory", lambda device: nbytes)


def tiny_estimate(tmp_path, root, crop: int, load: int = 0) -> int:
    opt = options.parse(train_args(tmp_path, root, "--load_size", str(max(load, crop)), "--crop_size", str(crop)))
    dataset = build.build_dataset(opt, lambda m: None)
    return preflight.training_estimate(opt, torch.device("cpu"), dataset, build.build_recipe)[0].total


# ----------------------------------------------------------------- the estimate against the measured peak

def test_estimate_is_within_30_percent_of_the_measured_peak_at_three_sizes():
    """scripts/bench_memory.py: default CycleGAN networks, train.py and test.py, each size in a fresh process."""
    out = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "bench_memory.py"), "--sizes", "32,64,96",
                          "--steps", "2", "--threads", "1", "--json"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads(out.stdout.splitlines()[-1])
    assert {(r["phase"], r["size"]) for r in rows} == {(p, s) for p in ("train", "test") for s in (32, 64, 96)}
    for r in rows:
        assert 0.7 <= r["ratio"] <= 1.3, r
        assert r["measured"] > 50 * MIB, r  # a real measurement: the default networks' weights alone are more
    train = sorted((r for r in rows if r["phase"] == "train"), key=lambda r: r["size"])
    assert train[0]["parts"]["activations"] < train[-1]["parts"]["activations"]  # it grows with the size


# ----------------------------------------------------------------- printed at start-up

def test_train_and_test_print_the_estimate(tmp_path, capsys):
    root = unaligned(tmp_path)
    assert cli.train_main(train_args(tmp_path, root)) == 0
    out = capsys.readouterr().out
    assert "gantool: memory: this run needs about" in out and "free on the CPU (weights" in out
    assert out.index("gantool: memory:") < out.index("gantool: training")
    assert cli.test_main(["--dataroot", root, "--checkpoints_dir", str(tmp_path / "ck"), "--name", "run",
                          "--results_dir", str(tmp_path / "res"), *TINY, "--num_test", "1"]) == 0
    assert "gantool: memory: this run needs about" in capsys.readouterr().out


# ----------------------------------------------------------------- refusals

def test_a_crop_size_typo_is_refused_before_anything_large_is_allocated(tmp_path):
    """--crop_size 8192 needs over a terabyte: refused in one line, the process's peak stays that of start-up."""
    root = unaligned(tmp_path)
    args = train_args(tmp_path, root, "--load_size", "8192", "--crop_size", "8192", "--ngf", "64", "--ndf", "64",
                      "--netG", "resnet_9blocks")
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
               "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", wrapper, sys.executable, os.path.join(REPO, "train.py"), *args],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert "GiB of memory and" in line and "it grows with --crop_size 8192 and --batch_size 1" in line
    assert "--crop_size" in line.split("it grows with")[1].split(";")[1] and "fits; --force runs anyway" in line
    peak_kib = int(result.stdout.split("PEAK")[1])
    assert peak_kib < 1.2 * 1024 * 1024, peak_kib  # torch's import is ~0.5 GiB; the run would need > 1000 GiB
    assert not os.path.exists(tmp_path / "ck" / "run" / "latest_net_G_A.pth")


def test_an_ngf_typo_names_the_networks(tmp_path, capsys):
    assert cli.train_main(train_args(tmp_path, unaligned(tmp_path), "--ngf", "6400")) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "it grows with the networks (--netG resnet_6blocks --ngf 6400, --netD basic --ndf 8:" in line
    assert "the networks alone need" in line and "choose a smaller --ngf/--ndf or --netG" in line


def test_the_crop_size_it_suggests_fits(tmp_path, capsys, monkeypatch):
    root = unaligned(tmp_path)
    free = tiny_estimate(tmp_path, root, 64, load=256) + MIB  # 64 fits, 256 does not (both read at 256)
    free_memory_of(monkeypatch, free)
    assert cli.train_main(train_args(tmp_path, root, "--load_size", "256", "--crop_size", "256")) == 2
    [line] = error_lines(capsys.readouterr().err)
    suggested = int(line.split("; --crop_size ")[1].split()[0])
    assert 64 <= suggested < 256 and suggested % 4 == 0, line
    assert tiny_estimate(tmp_path, root, suggested, 256) <= free < tiny_estimate(tmp_path, root, suggested + 4, 256)


def test_a_batch_size_that_does_not_fit_suggests_a_smaller_one(tmp_path, capsys, monkeypatch):
    root = unaligned(tmp_path)
    free_memory_of(monkeypatch, tiny_estimate(tmp_path, root, 32) + 20 * MIB)
    assert cli.train_main(train_args(tmp_path, root, "--batch_size", "64")) == 2
    [line] = error_lines(capsys.readouterr().err)
    batch = int(line.split("; --batch_size ")[1].split()[0])
    assert 1 <= batch < 64, line


def test_force_runs_anyway(tmp_path, capsys, monkeypatch):
    free_memory_of(monkeypatch, MIB)
    assert cli.train_main(train_args(tmp_path, unaligned(tmp_path))) == 2
    assert "the networks alone need" in error_lines(capsys.readouterr().err)[0]
    assert cli.train_main(train_args(tmp_path, unaligned(tmp_path), "--force")) == 0
    out = capsys.readouterr().out
    assert "of memory and 1 MiB are free on the CPU" in out and "--force: starting anyway" in out
    assert os.path.isfile(tmp_path / "ck" / "run" / "latest_net_G_A.pth")


def test_test_py_is_refused_before_its_weights_load(tmp_path, capsys, monkeypatch):
    root = unaligned(tmp_path)
    assert cli.train_main(train_args(tmp_path, root)) == 0
    free_memory_of(monkeypatch, MIB)
    import gantool.build as build_module

    monkeypatch.setattr(build_module, "load_network", lambda *a: pytest.fail("weights loaded before the check"))
    assert cli.test_main(["--dataroot", root, "--checkpoints_dir", str(tmp_path / "ck"), "--name", "run",
                          "--results_dir", str(tmp_path / "res"), *TINY]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "this run needs about" in line and "--force runs anyway" in line
    assert not list((tmp_path / "res").rglob("*.png"))


def test_translate_suggests_a_tile_that_fits(tmp_path, capsys, monkeypatch):
    from gantool.inference.memory_check import translation_estimate
    from gantool.inference.translator import Translator

    write_images(str(tmp_path / "in"), 1, size=(512, 384))
    model = "toy_day2night_pretrained"
    translator = Translator.load(model, "cpu")
    whole = translation_estimate(translator, 384, 512, None).total
    tiled = translation_estimate(translator, 384, 512, 128).total
    assert tiled < whole
    free_memory_of(monkeypatch, (whole + tiled) // 2)
    args = ["translate", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-c", model]
    assert cli.main(args) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "the largest input (512x384, whole: no --tile)" in line
    tile = int(line.split("--tile ")[-1].split()[0])
    assert translation_estimate(translator, 384, 512, tile).total <= (whole + tiled) // 2
    assert not os.path.exists(tmp_path / "out" / "img000.png")
    assert cli.main(args + ["--tile", str(tile)]) == 0
    assert os.path.isfile(tmp_path / "out" / "img000.png")


def test_export_is_refused_when_it_does_not_fit(tmp_path, capsys, monkeypatch):
    free_memory_of(monkeypatch, MIB)
    out = tmp_path / "g.pt"
    assert cli.main(["export", "toy_day2night_pretrained", "-o", str(out)]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "export copies" in line and "--force runs anyway" in line and not out.exists()


def test_a_step_that_cannot_run_on_fake_tensors_starts_without_an_estimate(tmp_path, capsys, monkeypatch):
    def fails(*args, **kwargs):
        raise memory.EstimateError("RuntimeError: an operator fake tensors lack")

    monkeypatch.setattr(memory, "training_estimate", fails)
    assert cli.train_main(train_args(tmp_path, unaligned(tmp_path))) == 0
    out = capsys.readouterr().out
    assert "no estimate for --model cycle_gan (RuntimeError: an operator fake tensors lack); starting without" in out


# ----------------------------------------------------------------- the parts

def test_fake_tensors_allocate_nothing_and_leave_the_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    to = torch.nn.Module.to
    with memory.fake_tensors(torch.device("cpu")):
        net = torch.nn.Conv2d(3, 4096, 3).to("cpu")  # 110k parameters... of nothing
        big = torch.randn(64, 3, 4096, 4096)  # 12 GiB if it were real
        assert type(big).__name__ == "FakeTensor" and type(net.weight).__name__ == "FakeTensor"
    assert torch.nn.Module.to is to
    assert torch.equal(torch.rand(3), expected)


def test_tracker_counts_live_storages_and_the_peak():
    with memory.fake_tensors(torch.device("cpu")):
        x = torch.zeros(1024, 256)  # 1 MiB, made before: not counted
        tracker = memory.StorageTracker()
        with tracker:
            a = x * 2  # 1 MiB
            b = a.view(256, 1024)  # a view: no new storage
            del a, b
            c = torch.cat([x, x])  # 2 MiB, after the first is freed
            del c
    assert tracker.peak == 2 * MIB


def test_value_dependent_operators_get_stand_ins():
    """Masks and .item() in a step (label checks, scores) do not stop the estimate."""
    with memory.fake_tensors(torch.device("cpu")):
        tracker = memory.StorageTracker()
        with tracker:
            labels = torch.zeros(8, dtype=torch.long)
            assert labels[labels > 3].numel() == 0
            assert not bool((labels > 3).any())
            assert torch.bincount(labels, minlength=5).shape == (5,)


def test_optimizer_state_by_class():
    params = [torch.nn.Parameter(torch.zeros(1000))]
    adam = {"G": torch.optim.Adam(params)}
    sgd = {"G": torch.optim.SGD(params, lr=0.1)}
    momentum = {"G": torch.optim.SGD(params, lr=0.1, momentum=0.9)}
    assert memory.optimizer_bytes(adam) == 8000
    assert memory.optimizer_bytes(sgd) == 0 and memory.optimizer_bytes(momentum) == 4000


def test_largest_fitting_finds_the_largest_multiple():
    calls = []

    def need(v):
        calls.append(v)
        return 1000 + v * v

    assert memory.largest_fitting(need, 1024, 1000 + 300 * 300, step=4, power=2) == 300
    assert len(calls) <= 6
    assert memory.largest_fitting(lambda v: 10 ** 9, 1024, 1000, step=4, power=2, smallest=4) is None
    assert memory.largest_fitting(lambda b: 100 * b, 64, 1000) == 10


def test_free_memory_on_the_cpu_is_positive_and_below_the_total():
    free = memory.free_memory(torch.device("cpu"))
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < free <= total


def test_force_is_an_option_of_every_command(capsys):
    for argv in (["train.py", "--help"], ["test.py", "--help"]):
        result = run_cli(argv[0], argv[1:], cwd=REPO)
        assert "--force" in result.stdout
    for command in ("translate", "export"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert "--force" in capsys.readouterr().out
