"""scripts/bench_classic.py against fake classic and gantool command lines (known seconds per image), and
the FLOP figures of scripts/benchmark.py. Offline, no real classic checkout, a few seconds."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch
import torch.nn as nn

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
BENCH_CLASSIC = SCRIPTS / "bench_classic.py"
BENCHMARK = SCRIPTS / "benchmark.py"

# Seconds per image of the fakes: gantool is twice as fast in training, 1.5x in test.
CLASSIC_TRAIN, GANTOOL_TRAIN, CLASSIC_TEST, GANTOOL_TEST = 0.16, 0.08, 0.09, 0.06
STARTUP = 0.05

# One fake train.py/test.py: sleeps STARTUP + seconds per image, logs its call, and prints or writes what
# the real ones do and bench_classic.py reads.
FAKE = textwrap.dedent('''\
    import argparse, os, sys, time
    from pathlib import Path
    TOOL, PHASE, PER_IMAGE, STARTUP = {tool!r}, {phase!r}, {per_image!r}, {startup!r}
    p = argparse.ArgumentParser()
    for flag in ("--dataroot", "--name", "--checkpoints_dir", "--results_dir", "--model"):
        p.add_argument(flag)
    p.add_argument("--max_dataset_size", type=int)
    opt, _ = p.parse_known_args()
    if TOOL == "classic":
        import wandb  # the real classic code imports it at start-up: the script's stub must be on the path
        assert os.environ.get("CUDA_VISIBLE_DEVICES") == "", "the classic run on the CPU must see no GPU"
    folder = Path(opt.dataroot) / ("trainA" if PHASE == "train" else "")
    n = min(opt.max_dataset_size, len(list(folder.glob("*.png"))))
    if PHASE == "test":
        weights = Path(opt.checkpoints_dir) / opt.name / "latest_net_G.pth"
        assert weights.read_bytes() == b"G_A weights", weights
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(f"{{TOOL}} {{PHASE}} {{n}}\\n")
    time.sleep(STARTUP + PER_IMAGE * n)
    if PHASE == "train" and TOOL == "classic":
        print(f"The number of training images = {{n}}")
    elif PHASE == "train":
        print(f"gantool: training {{n}} images per epoch, epochs 1..1, batch size 1")
        out = Path(opt.checkpoints_dir) / opt.name
        out.mkdir(parents=True, exist_ok=True)
        (out / "latest_net_G_A.pth").write_bytes(b"G_A weights")
    else:
        images = Path(opt.results_dir) / opt.name / "test_latest" / "images"
        images.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (images / f"{{i:04d}}_fake.png").write_bytes(b"png")
            (images / f"{{i:04d}}_real.png").write_bytes(b"png")
    ''')


def make_fake(folder: Path, tool: str) -> Path:
    times = {("classic", "train"): CLASSIC_TRAIN, ("gantool", "train"): GANTOOL_TRAIN,
             ("classic", "test"): CLASSIC_TEST, ("gantool", "test"): GANTOOL_TEST}
    for phase in ("train", "test"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{phase}.py").write_text(FAKE.format(tool=tool, phase=phase, per_image=times[tool, phase],
                                                        startup=STARTUP))
    if tool == "classic":
        for f in ("options/base_options.py", "options/train_options.py", "models/cycle_gan_model.py",
                  "models/test_model.py"):
            (folder / f).parent.mkdir(exist_ok=True)
            (folder / f).write_text("# parser.add_argument('--num_threads', default=4, type=int)\n")
    return folder


def bench(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, str(BENCH_CLASSIC), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_interleaving_arithmetic_and_json(tmp_path):
    classic, gantool = make_fake(tmp_path / "classic", "classic"), make_fake(tmp_path / "gantool", "gantool")
    log = tmp_path / "calls.log"
    env = dict(os.environ, FAKE_LOG=str(log))
    before = sorted(p.name for p in classic.rglob("*"))
    result = bench(classic, "--gantool_dir", gantool, "--size", 16, "--rounds", 2, "--train_images", 1, 4,
                   "--test_images", 1, 4, "--gantool_args", "--precision fp32", "--json", env=env)
    assert result.returncode == 0, result.stderr
    res = json.loads(result.stdout)

    # A B A B: each round runs classic (small, large) then gantool (small, large); training rounds, then test.
    expected = [[tool, phase, n] for phase in ("train", "test") for _ in range(2)
                for tool in ("classic", "gantool") for n in (1, 4)]
    assert res["order"] == expected
    assert log.read_text().split("\n")[:-1] == [" ".join(map(str, e)) for e in expected]  # what really ran
    assert [r["round"] for r in res["runs"]] == [1] * 4 + [2] * 4 + [1] * 4 + [2] * 4

    # (t_large - t_small) / 3 is the sleep per image; the start-up cancels.
    train, test = res["train"], res["test"]
    assert train["classic_s_per_iter"] == pytest.approx(CLASSIC_TRAIN, rel=0.25)
    assert train["gantool_s_per_iter"] == pytest.approx(GANTOOL_TRAIN, rel=0.25)
    assert test["classic_s_per_image"] == pytest.approx(CLASSIC_TEST, rel=0.25)
    assert test["gantool_s_per_image"] == pytest.approx(GANTOOL_TEST, rel=0.25)
    assert train["ratio"] == pytest.approx(CLASSIC_TRAIN / GANTOOL_TRAIN, rel=0.3)
    assert test["ratio"] == pytest.approx(CLASSIC_TEST / GANTOOL_TEST, rel=0.3)
    # the reported figures are consistent with the recorded runs
    runs = {(r["round"], r["tool"], r["phase"], r["images"]): r["seconds"] for r in res["runs"]}
    per_round = [(runs[k, "classic", "train", 4] - runs[k, "classic", "train", 1]) / 3 for k in (1, 2)]
    assert train["classic_s_per_iter_rounds"] == pytest.approx(per_round, abs=1e-4)
    assert train["classic_s_per_iter"] == pytest.approx(sum(per_round) / 2, abs=1e-4)  # median of two
    assert train["classic_iters_per_s"] == pytest.approx(1 / train["classic_s_per_iter"], rel=1e-3)
    assert train["ratio"] == pytest.approx(train["classic_s_per_iter"] / train["gantool_s_per_iter"], rel=1e-3)
    assert train["classic_startup_s"] == pytest.approx(STARTUP, abs=0.25)
    assert len(train["round_ratios"]) == 2

    for key in ("machine", "torch", "device", "size", "rounds", "classic_dir", "classic_commit", "gantool_args"):
        assert key in res
    assert res["torch"] == torch.__version__ and res["device"] == "cpu" and res["size"] == 16
    assert res["gantool_args"] == "--precision fp32"
    assert sorted(p.name for p in classic.rglob("*")) == before  # nothing written into DIR

    table = load_bench_classic().table(res)
    assert "gantool/classic" in table and torch.__version__ in table
    train_line = next(line for line in table.splitlines() if line.startswith("train.py"))
    assert f"{train['classic_iters_per_s']:.3f} it/s" in train_line and f"{train['ratio']:.2f}x" in train_line


def load_bench_classic():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import bench_classic
    finally:
        sys.path.remove(str(SCRIPTS))
    return bench_classic


def test_gantool_args_reach_gantool_only(tmp_path):
    bench_classic = load_bench_classic()
    classic = make_fake(tmp_path / "classic", "classic")
    args = bench_classic.parse_args([str(classic), "--gantool_args", "--precision fp32 --ngf 32",
                                     "--classic_args", "--ngf 32"])
    args.log = lambda m: None
    b = bench_classic.Bench(args, tmp_path)
    g = b.command("gantool", "train", 4, tmp_path / "g")
    c = b.command("classic", "train", 4, tmp_path / "c")
    assert g[-4:] == ["--precision", "fp32", "--ngf", "32"] and "--precision" not in c
    assert c[-2:] == ["--ngf", "32"]
    assert g[g.index("--gpu_ids") + 1] == "-1" and g[g.index("--display_id") + 1] == "0"
    assert "--gpu_ids" not in c and "--display_id" not in c  # the fake's options/ define neither
    for flags in (g, c):
        assert flags[flags.index("--max_dataset_size") + 1] == "4" and flags[flags.index("--crop_size") + 1] == "128"
        assert {"--serial_batches", "--no_html"} <= set(flags)
    assert (tmp_path / "classic_stubs" / "wandb.py").is_file()


@pytest.mark.parametrize("kind", ["missing", "empty", "half"])
def test_not_a_classic_checkout_is_one_line(tmp_path, kind):
    folder = tmp_path / "dir"
    if kind != "missing":
        folder.mkdir()
    if kind == "half":
        (folder / "train.py").write_text("")
        (folder / "test.py").write_text("")
    result = bench(folder)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench_classic.py: error: ") and str(folder) in lines[0]
    forwarded = subprocess.run([sys.executable, str(BENCHMARK), "--classic", str(folder), "--rounds", "1"],
                               capture_output=True, text=True, timeout=60)
    assert forwarded.returncode == 2 and forwarded.stderr == result.stderr


# benchmark.py's FLOP figures


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("benchmark_script", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_count_flops_linear_and_conv(benchmark):
    torch.manual_seed(0)
    linear = nn.Linear(64, 32)
    x = torch.randn(8, 64)
    forward = 2 * 8 * 64 * 32
    assert benchmark.count_flops(lambda: linear(x)) == forward
    # backward: the weight gradient (x needs none) doubles it; with x's gradient as well it triples
    assert benchmark.count_flops(lambda: linear(x).sum().backward()) == 2 * forward
    x.requires_grad_(True)
    assert benchmark.count_flops(lambda: linear(x).sum().backward()) == 3 * forward
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert benchmark.count_flops(lambda: conv(torch.randn(1, 3, 16, 16))) == 2 * 16 * 16 * 8 * 3 * 9


def test_matmul_peak_and_text(benchmark):
    peak = benchmark.matmul_peak("cpu", "fp32", n=128, repeats=2)
    assert 1e8 < peak < 1e14  # FLOP/s: a real, finite rate
    assert benchmark.flops_text(0.5, 10_000_000_000, 100e9, "bf16") == (
        "10.0 GFLOP/step  20 GFLOP/s = 20 % of the measured bf16 matmul peak (100 GFLOP/s)")


def test_run_case_reports_flop_keys(benchmark, monkeypatch):
    replies = {"classic": (2.0, "fp32", 100e9), "fp32": (1.6, "fp32", 100e9), "fast": (1.0, "bf16", 200e9)}

    def fake_run(cmd, **kwargs):
        seconds, dtype, peak = replies[cmd[cmd.index("--_one") + 2]]
        reply = {"s_per_step": seconds, "images_per_step": 1, "peak_mb": 100.0, "precision": dtype,
                 "flop_per_step": 40e9, "peak_flops": peak, "peak_dtype": dtype}
        return types.SimpleNamespace(returncode=0, stdout=json.dumps(reply) + "\n", stderr="")

    monkeypatch.setattr(benchmark.subprocess, "run", fake_run)
    lines = []
    out = benchmark.run_case("cycle_gan_128", "cpu", 1, lines.append)
    assert out["classic_s_per_iter"] == 2.0 and out["fast_s_per_iter"] == 1.0  # the old keys stay
    assert out["speedup"] == 1.6 and out["speedup_vs_classic"] == 2.0 and out["fast_precision"] == "bf16"
    assert out["fast_flop_per_step"] == 40e9 and out["fast_achieved_flops"] == 40e9
    assert out["fast_peak_flops"] == 200e9 and out["fast_peak_dtype"] == "bf16"
    assert out["fast_fraction_of_peak"] == 0.2 and out["classic_fraction_of_peak"] == 0.2
    assert out["fp32_achieved_flops"] == 25e9
    assert lines[2].endswith("40.0 GFLOP/step  40 GFLOP/s = 20 % of the measured bf16 matmul peak (200 GFLOP/s)")
