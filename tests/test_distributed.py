"""Distributed training under torchrun (DistributedDataParallel, gloo on the CPU).

Two torchrun launches of two processes serve every test of the module (see ``launches``): one trains
the runs below in one process group, the other resumes one of them. The checks: two processes with a
batch of 1 end where one process with a batch of 2 ends; a stopped and resumed run ends where the
uninterrupted one ends; every model keeps its processes in step; rank 0 alone writes.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, write_images
from gantool import cli
from gantool.engine import distributed
from gantool.build import build_recipe, build_trainer, seed_everything
from gantool.errors import GantoolError
from gantool.networks import define_G, get_norm_layer
from gantool.options import parse
from gantool.engine.run_loader import epoch_order
from gantool.engine.trainer import _own_part

pytestmark = pytest.mark.usefixtures("single_thread")

# Exact arithmetic settings: fp32, no compile, no workers, fixed seed.
BASE = ["--gpu_ids", "-1", "--display_id", "0", "--num_threads", "0", "--precision", "fp32", "--compile", "off",
        "--channels_last", "off", "--seed", "3", "--n_epochs", "1", "--n_epochs_decay", "1", "--checkpoints_dir",
        "ck"]
# CycleGAN for the equivalence: instance norm, no dropout, no image pool; shuffled data with flips.
CYCLE = ["--model", "cycle_gan", "--dataroot", "unaligned", "--netG", "resnet_6blocks", "--ngf", "4", "--ndf", "4",
         "--load_size", "36", "--crop_size", "32", "--pool_size", "0", "--print_freq", "2", *BASE]
# pix2pix for the resume: dropout (each process's torch generator) and an image pool (each process's own).
PIX2PIX = ["--model", "pix2pix", "--dataroot", "aligned", "--netG", "unet_64", "--norm", "instance", "--ngf", "4",
           "--ndf", "4", "--load_size", "64", "--crop_size", "64", "--pool_size", "4", "--batch_size", "1",
           "--print_freq", "2", "--no_html", *BASE]
GAN = ["--max_dataset_size", "8", "--batch_size", "2", "--img_size", "16", "--print_freq", "4", "--ngf", "8",
       "--ndf", "8", *BASE]
FIRST = {
    "cycle_gan": [*CYCLE, "--batch_size", "1", "--name", "cycle_2x1"],
    "pix2pix_full": [*PIX2PIX, "--name", "p2p_full"],
    "pix2pix_stop": [*PIX2PIX, "--name", "p2p_resumed", "--max_iters", "4"],
    "gan": ["--model", "gan", "--name", "gan", *GAN],
    "cut": ["--model", "cut", "--dataroot", "unaligned", "--netG", "resnet_6blocks", "--ngf", "4", "--ndf", "4",
            "--load_size", "36", "--crop_size", "32", "--num_patches", "16", "--nce_layers", "0,4,8",
            "--print_freq", "2", *BASE, "--name", "cut"],
    "dcgan_wgangp": ["--model", "dcgan", "--gan_mode", "wgangp", "--n_critic", "2", "--name", "dcgan", *GAN],
    "classifier": ["--model", "classifier", "--netC", "lenet", "--max_dataset_size", "16", "--batch_size", "4",
                   "--name", "classifier", *BASE],
    "segmenter": ["--model", "segmenter", "--dataroot", "seg", "--input_nc", "1", "--load_size", "16",
                  "--crop_size", "16", "--batch_size", "2", "--base_channels", "4", "--unet_depth", "2",
                  "--name", "segmenter", *BASE],
    "syncbatch_on_cpu": ["--model", "dcgan", "--norm", "syncbatch", "--name", "syncbatch", *GAN],
}
SECOND = {"pix2pix_resume": [*PIX2PIX, "--name", "p2p_resumed", "--continue_train"]}


def _data(root):
    write_images(root / "unaligned" / "trainA", 4, size=(36, 36), seed=1)
    write_images(root / "unaligned" / "trainB", 4, size=(36, 36), seed=2)
    write_images(root / "aligned" / "train", 6, size=(128, 64), seed=5)  # A|B side by side, 64x64 each
    (root / "seg" / "images").mkdir(parents=True)
    (root / "seg" / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        classes = rng.integers(0, 3, (16, 16)).astype(np.uint8)
        Image.fromarray(classes * 100).save(root / "seg" / "images" / f"p{i}.png")
        Image.fromarray(classes).save(root / "seg" / "masks" / f"p{i}.png")
    (root / "seg" / "classes.txt").write_text("sky\nroad\ncar\n")


def _torchrun(root, runs, name):
    """Train ``runs`` under ``torchrun --nproc_per_node 2`` (tests/ddp_worker.py); returns its report."""
    (root / f"{name}.json").write_text(json.dumps(runs))
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               os.path.join(REPO, "tests", "ddp_worker.py"), f"{name}.json", f"{name}_report.json"]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((root / f"{name}_report.json").read_text()), result.stdout


@pytest.fixture(scope="module")
def launches(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    _data(root)
    first, output = _torchrun(root, FIRST, "first")
    second, _ = _torchrun(root, SECOND, "second")
    return root, {**first, **second}, output


def _load(run, name):
    return torch.load(run / f"latest_net_{name}.pth", weights_only=True)


def _loss_values(run):
    lines = [line for line in (run / "loss_log.txt").read_text().splitlines() if line.startswith("(epoch")]
    return [[float(v) for v in line.split(")")[1].split()[1::2]] for line in lines]


def test_two_processes_of_one_image_train_like_one_process_of_two(launches, monkeypatch):
    root, report, _ = launches
    assert report["cycle_gan"]["world_size"] == 2
    monkeypatch.chdir(root)
    assert cli.train_main([*CYCLE, "--batch_size", "2", "--name", "cycle_1x2"]) == 0
    one, two = root / "ck" / "cycle_1x2", root / "ck" / "cycle_2x1"
    opt = parse([*CYCLE, "--batch_size", "2", "--name", "x"])
    seed_everything(opt.seed)
    recipe = build_recipe(opt, torch.device("cpu"))  # the initial weights of both runs
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1

    def flat(state):
        return torch.cat([t.flatten().float() for t in state.values()])

    for name, net in recipe.networks.items():
        initial, a, b = net.state_dict(), _load(one, name), _load(two, name)
        # Within float noise, measured against how far training moved the weights: Adam turns the noise in
        # near-zero gradients (the biases that an instance norm cancels get none in exact arithmetic) into
        # steps of up to lr, so a fixed tolerance per weight would not do. Measured: 0.2-1.1 % of the
        # update; two different trainings (batch 1 against batch 2) differ by 66-95 %.
        update = (flat(a) - flat(initial)).abs().mean()
        assert (flat(a) - flat(b)).abs().mean() < 0.03 * update, name
        with torch.no_grad():
            out_initial = net(x)
            outputs = []
            for state in (a, b):
                net.load_state_dict(state)
                outputs.append(net(x))
        moved = (outputs[0] - out_initial).abs().mean()
        assert (outputs[0] - outputs[1]).abs().mean() < 0.03 * moved, name
    assert torch.load(two / "latest_state.pth", weights_only=True)["total_iters"] == 8
    # The logged losses of two processes are the means over both, as one process logs its batch of two.
    np.testing.assert_allclose(_loss_values(two), _loss_values(one), atol=2e-3)
    assert (two / "loss_log.txt").read_text().count("Training Loss") == 1  # rank 0 alone writes


def test_a_stopped_distributed_run_resumes_exactly(launches):
    root, report, _ = launches
    full, resumed = root / "ck" / "p2p_full", root / "ck" / "p2p_resumed"
    for name in ("G", "D"):
        a, b = _load(full, name), _load(resumed, name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
    state = torch.load(resumed / "latest_state.pth", weights_only=True)
    assert state["total_iters"] == 12 and len(state["ranks"]) == 2
    # Each process kept its own random stream and image pool (seed + rank).
    ranks = state["ranks"]
    assert not torch.equal(ranks[0]["rng"]["torch"], ranks[1]["rng"]["torch"])
    assert ranks[0]["recipe"]["pool"]["pool_size"] == ranks[1]["recipe"]["pool"]["pool_size"] == 2  # 4 / 2
    assert ranks[0]["recipe"]["pool"]["rng_state"] != ranks[1]["recipe"]["pool"]["rng_state"]


@pytest.mark.parametrize("run", ["cycle_gan", "pix2pix_full", "gan", "dcgan_wgangp", "classifier", "segmenter",
                                 "cut"])
def test_every_model_keeps_its_processes_in_step(launches, run):
    _, report, _ = launches
    result = report[run]
    assert "error" not in result, result.get("error")
    assert result["world_size"] == 2
    assert set(result["types"].values()) == {"RecipeDDP"}
    rank0, rank1 = result["ranks"]
    assert rank0 == rank1  # identical parameters after training: gradients were averaged over both


def test_syncbatch_on_cpu_processes_is_a_clear_error(launches):
    _, report, _ = launches
    assert "SyncBatchNorm has no CPU version: use --norm batch" in report["syncbatch_on_cpu"]["error"]


def test_rank_zero_alone_talks(launches):
    _, _, output = launches
    assert output.count("gantool: 2 processes (DistributedDataParallel), batch size 1 each, 2 in all") == 4  # 4 runs
    assert output.count("gantool: training finished; weights in ck/cycle_2x1/latest_net_*.pth") == 1


def test_shards_split_the_one_process_order():
    """Rank r takes items r, r + 2, ... of the order one process uses, also from part-way through an epoch."""
    dataset = list(range(10))
    one = epoch_order(len(dataset), True, 7, 4)
    shards = [list(distributed.ShardSampler(dataset, 4, 0, True, 7 * 100003, num_replicas=2, rank=r)) for r in (0, 1)]
    assert [i for pair in zip(*shards) for i in pair] == one
    late = [list(distributed.ShardSampler(dataset, 4, 6, True, 7 * 100003, num_replicas=2, rank=r)) for r in (0, 1)]
    assert [i for pair in zip(*late) for i in pair] == one[6:]


def test_resuming_with_another_number_of_processes_is_refused():
    with pytest.raises(GantoolError, match=r"saved by 2 training process\(es\) and this run has 1"):
        _own_part({"ranks": [{}, {}]}, "latest_state.pth")


def test_gpu_ids_for_two_gpus_relaunches_under_torchrun(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(os, "execv", lambda exe, argv: calls.append(argv))
    script = os.path.join(REPO, "train.py")
    monkeypatch.setattr(sys, "argv", [script, "--gpu_ids", "0,1", "--name", "x"])
    lines = []
    distributed.launch_for_gpus([0, 1], lines.append)
    assert calls == [[sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", script,
                      "--gpu_ids", "0,1", "--name", "x"]]
    assert "one training process per GPU" in lines[0]


def test_gpu_ids_for_two_gpus_without_gpus_is_the_usual_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    assert cli.train_main(["--gpu_ids", "0,1", "--dataroot", str(tmp_path)]) == 2
    assert "asks for a GPU, but this machine has none" in capsys.readouterr().err


def test_syncbatch_in_one_process_is_batch_norm(tmp_path, monkeypatch):
    assert get_norm_layer("syncbatch").func is torch.nn.BatchNorm2d
    keys = {norm: list(define_G(3, 3, 8, "unet_64", norm).state_dict()) for norm in ("batch", "syncbatch")}
    assert keys["batch"] == keys["syncbatch"]  # the same checkpoints
    write_images(tmp_path / "aligned" / "train", 2, size=(128, 64))
    monkeypatch.chdir(tmp_path)
    lines = []
    build_trainer(parse([*PIX2PIX, "--norm", "syncbatch", "--name", "sb"]), lines.append)
    assert "gantool: --norm syncbatch in a single process is plain batch norm" in "\n".join(lines)


# train.py's main with every step slowed and counted in a marker file, so the test can signal mid-run.
SLOW_DRIVER = """
import sys, time
sys.path.insert(0, {repo!r})
from gantool import cli
from gantool.engine.trainer import Trainer
real_step = Trainer._step
def step(self, batch):
    out = real_step(self, batch)
    with open({mark!r}, "a") as f:
        f.write("s")
    time.sleep(0.3)
    return out
Trainer._step = step
sys.exit(cli.train_main(sys.argv[1:]))
"""


def test_ctrl_c_stops_every_process_at_one_step_and_the_run_resumes_exactly(launches):
    """SIGINT to torchrun's whole process group (a Ctrl-C in its terminal): both processes save the same
    step together (none hangs in a collective), and resuming ends where the uninterrupted run ends."""
    import signal
    import time

    root, _, _ = launches
    (root / "slow.py").write_text(SLOW_DRIVER.format(repo=REPO, mark=str(root / "mark.txt")))
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "slow.py",
               *PIX2PIX, "--name", "p2p_signal"]
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while not ((root / "mark.txt").exists() and (root / "mark.txt").read_text().count("s") >= 4):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert err.count("gantool: SIGINT: saved the training state") == 2, out + err  # both processes
    state = torch.load(root / "ck" / "p2p_signal" / "latest_state.pth", weights_only=True)
    assert len(state["ranks"]) == 2 and 4 <= state["total_iters"] < 12, state["total_iters"]

    _torchrun(root, {"resume": [*PIX2PIX, "--name", "p2p_signal", "--continue_train"]}, "signal_resume")
    full, resumed = root / "ck" / "p2p_full", root / "ck" / "p2p_signal"
    for name in ("G", "D"):
        a, b = _load(full, name), _load(resumed, name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
