"""--use_tensorboard and --use_wandb through the real command line, read back from what they wrote; a failing sink,
a missing package, no W&B credentials, an interruption, torchrun."""
import glob
import os
import signal
import struct
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO, TINY_TRAIN, run_cli, small_builtin
from gantool import cli
from gantool.engine.trainer import Trainer
from gantool.viz import tensorboard_sink, wandb_sink

pytestmark = pytest.mark.usefixtures("single_thread")

# Two epochs of 16 digits in batches of 8, a loss point every 8 images: losses at images 8, 16, 24, 32.
TINY = ["--model", "gan", "--gpu_ids", "-1", "--display_id", "0", "--max_dataset_size", "16", "--batch_size", "8",
        "--img_size", "16", "--n_epochs", "1", "--n_epochs_decay", "1", "--print_freq", "8", "--ngf", "8",
        "--ndf", "8", "--lr", "0.0002"]  # the classic rate (the built-in demo's is 4e-4)


def _events(folder):
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(folder), size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0})
    acc.Reload()
    return acc


def _options_text(acc):
    return acc.Tensors("options/text_summary")[0].tensor_proto.string_val[0].decode()


def _wandb_records(run_file):
    """The records of an offline run's ``run-<id>.wandb``: a LevelDB-style log (32 KiB blocks of chunks, each
    a 7-byte header: crc32, length, type) after a 7-byte file header, each record a ``Record`` protobuf."""
    from wandb.proto import wandb_internal_pb2

    data = open(run_file, "rb").read()
    assert data[:4] == b":W&B"
    pos, chunk, records = 7, b"", []
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a header is padding
            pos += 32768 - pos % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunk)
            records.append(record)
            chunk = b""
    return records


def _finished_run(pattern):
    """The records of the one offline run matching ``pattern``, once wandb's service has written its ``exit``
    record: ``run.finish()`` can return while the service process is still writing the file (seen once when
    the machine was busy), so the file is read again until it is complete, for up to 60 s."""
    deadline = time.monotonic() + 60
    while True:
        files = glob.glob(pattern)
        records = _wandb_records(files[0]) if len(files) == 1 else []
        if records and records[-1].WhichOneof("record_type") == "exit":
            return records
        if time.monotonic() > deadline:
            raise AssertionError(f"no finished W&B run in {pattern}: files {files}, "
                                 f"records {[r.WhichOneof('record_type') for r in records]}")
        time.sleep(0.2)


@pytest.fixture
def wandb_env(tmp_path, monkeypatch):
    """No credentials, and wandb's own files (cache, config, data) inside tmp_path."""
    for name in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, sub in (("WANDB_DIR", "wandb_dir"), ("WANDB_CACHE_DIR", "cache"), ("WANDB_CONFIG_DIR", "config"),
                      ("WANDB_DATA_DIR", "data")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("NETRC", str(tmp_path / "no.netrc"))
    return tmp_path


def test_tensorboard_gets_losses_learning_rates_visuals_and_options(tmp_path):
    assert cli.train_main([*TINY, "--checkpoints_dir", str(tmp_path), "--name", "tb", "--use_tensorboard"]) == 0
    acc = _events(tmp_path / "tb" / "tb")
    tags = acc.Tags()
    assert set(tags["scalars"]) == {"loss/D", "loss/G", "lr/D", "lr/G"}
    for tag in ("loss/D", "loss/G"):
        assert [e.step for e in acc.Scalars(tag)] == [8, 16, 24, 32], tag  # the trainer's image counter
    # The linear decay halves the rate after epoch 1 of 2.
    assert [e.value for e in acc.Scalars("lr/G")] == pytest.approx([2e-4, 2e-4, 1e-4, 1e-4])
    # The visuals at the page's cadence: every epoch's end here (--display_freq 400 > the 16 images of an epoch).
    assert set(tags["images"]) == {"visuals/samples", "visuals/real"}
    assert [e.step for e in acc.Images("visuals/samples")] == [16, 32]
    assert acc.Images("visuals/samples")[0].encoded_image_string[:4] == b"\x89PNG"
    text = _options_text(acc)
    assert "----------------- Options ---------------" in text and "use_tensorboard: True" in text


def test_tensorboard_gets_validation_scores(tmp_path):
    root = small_builtin(tmp_path, n_train=4, n_test=2)
    args = ["--dataroot", root, "--checkpoints_dir", str(tmp_path), "--name", "val", *TINY_TRAIN,
            "--val_freq", "1", "--val_metrics", "psnr", "--use_tensorboard"]
    assert cli.train_main(args) == 0
    acc = _events(tmp_path / "val" / "tb")
    assert [e.step for e in acc.Scalars("val/psnr")] == [4, 8]  # after each epoch of 4 images
    assert {"loss/G_A", "loss/cycle_B", "lr/G", "lr/D", "val/psnr"} <= set(acc.Tags()["scalars"])
    assert "visuals/fake_B" in acc.Tags()["images"]


def test_wandb_offline_run_holds_losses_visuals_and_options(wandb_env, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "offline")
    common = [*TINY, "--checkpoints_dir", str(wandb_env), "--seed", "4"]
    assert cli.train_main([*common, "--name", "wb", "--use_wandb", "--wandb_project_name", "p"]) == 0
    out = capsys.readouterr().out
    assert "W&B logs offline to" in out and "(WANDB_MODE=offline)" in out and "wandb sync" in out
    records = _finished_run(str(wandb_env / "wb" / "wandb" / "offline-run-*" / "run-*.wandb"))
    [run] = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (run.project, run.display_name) == ("p", "wb")
    rows = [{(i.key or "/".join(i.nested_key)): i.value_json for i in r.history.item}
            for r in records if r.WhichOneof("record_type") == "history"]
    losses = [row for row in rows if "loss/D" in row]
    assert [int(row["_step"]) for row in losses] == [8, 16, 24, 32]
    assert all("loss/G" in row and "lr/G" in row for row in losses)
    assert any(key.startswith("visuals/") for row in rows for key in row)
    config = {i.key: i.value_json for r in records if r.WhichOneof("record_type") == "config"
              for i in r.config.update}
    assert config["name"] == '"wb"' and config["use_wandb"] == "true" and config["max_dataset_size"] == "16.0"
    # Logging changes nothing in the training itself.
    assert cli.train_main([*common, "--name", "plain"]) == 0
    logged, plain = (torch.load(wandb_env / n / "latest_net_G.pth", weights_only=True) for n in ("wb", "plain"))
    assert all(torch.equal(logged[k], plain[k]) for k in plain)


def test_wandb_without_credentials_is_offline_and_quick(wandb_env, monkeypatch):
    """No key, no .netrc entry, no WANDB_MODE, and a W&B server that would never answer: the run is offline
    from the start, never waits for the network, and finishes."""
    monkeypatch.setenv("WANDB_BASE_URL", "http://10.255.255.1:9")  # unroutable: a connection attempt would hang
    monkeypatch.setenv("HOME", str(wandb_env))
    start = time.time()
    result = run_cli("train.py", [*TINY, "--checkpoints_dir", str(wandb_env), "--name", "nc", "--use_wandb"],
                     cwd=wandb_env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert time.time() - start < 60
    assert "W&B logs offline to" in result.stdout and "no W&B credentials" in result.stdout
    assert glob.glob(str(wandb_env / "nc" / "wandb" / "offline-run-*" / "run-*.wandb"))


def test_wandb_mode_follows_credentials_and_wandb_mode(tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    none = {"NETRC": str(tmp_path / "absent")}
    assert wandb_sink.choose_mode(none)[0] == "offline"
    assert wandb_sink.choose_mode({**none, "WANDB_API_KEY": "x" * 40}) == ("online", None)
    assert wandb_sink.choose_mode({"NETRC": str(netrc)}) == ("online", None)
    assert wandb_sink.choose_mode({"NETRC": str(netrc), "WANDB_BASE_URL": "https://wandb.example.com"})[0] == "offline"
    assert wandb_sink.choose_mode({"NETRC": str(netrc), "WANDB_MODE": "offline"})[0] == "offline"
    assert wandb_sink.choose_mode({**none, "WANDB_MODE": "online"})[0] == "offline"  # no login prompt
    assert wandb_sink.choose_mode({**none, "WANDB_MODE": "disabled"})[0] == "disabled"


def test_unreachable_wandb_falls_back_to_offline(wandb_env, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens: refused at once
    monkeypatch.setattr(wandb_sink, "INIT_TIMEOUT", 1.0)
    sink = wandb_sink.WandbSink(str(wandb_env), "p", "n", print)
    try:
        sink.log_scalars(8, {"loss/G": 1.0})
    finally:
        sink.close()
    out = capsys.readouterr().out
    assert "W&B logs offline to" in out and "W&B did not answer" in out


def test_a_failing_sink_costs_one_line_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    def broken(self, step, values):
        raise OSError("No space left on device")

    monkeypatch.setattr(tensorboard_sink.TensorBoardSink, "log_scalars", broken)
    assert cli.train_main([*TINY, "--checkpoints_dir", str(tmp_path), "--name", "f", "--use_tensorboard"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "tensorboard" in line.lower()]
    assert lines[1:] == ["gantool: the tensorboard log failed in log_scalars (OSError: No space left on device), "
                         "so it is off for the rest of this run"]
    assert (tmp_path / "f" / "latest_net_G.pth").is_file()
    acc = _events(tmp_path / "f" / "tb")  # what it wrote before failing was flushed and kept
    assert "use_tensorboard: True" in _options_text(acc) and not acc.Tags()["images"]


def test_a_sink_that_cannot_start_costs_one_line(tmp_path, monkeypatch, capsys):
    def unwritable(self, run_dir, log=print):
        raise PermissionError("Permission denied: 'tb'\nsecond line")

    monkeypatch.setattr(tensorboard_sink.TensorBoardSink, "__init__", unwritable)
    assert cli.train_main([*TINY, "--checkpoints_dir", str(tmp_path), "--name", "s", "--use_tensorboard"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "tensorboard" in line]
    assert lines == ["gantool: the tensorboard log could not start (PermissionError: Permission denied: 'tb'); "
                     "training goes on without it"]
    assert (tmp_path / "s" / "latest_net_G.pth").is_file()


@pytest.mark.parametrize("flag, module, extra", [("--use_tensorboard", "tensorboard", "tensorboard"),
                                                 ("--use_wandb", "wandb", "wandb")])
def test_a_missing_package_is_a_one_line_error(flag, module, extra, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # `import <module>` now raises ImportError
    assert cli.train_main([*TINY, "--checkpoints_dir", str(tmp_path), "--name", "m", flag]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f'gantool: error: {flag}: the {module} package is not installed; pip install "gantool[{extra}]"'
    assert not (tmp_path / "m" / "latest_net_G.pth").exists()


def test_an_interruption_closes_the_sinks(tmp_path, monkeypatch):
    closed = []
    close = tensorboard_sink.TensorBoardSink.close
    monkeypatch.setattr(tensorboard_sink.TensorBoardSink, "close", lambda self: closed.append(1) or close(self))
    asked = []

    def should_stop(self):  # Ctrl-C arrives before epoch 2's first step (the third batch)
        asked.append(1)
        self.stop_signal = signal.SIGINT if len(asked) > 2 else None
        return self.stop_signal is not None

    monkeypatch.setattr(Trainer, "_should_stop", should_stop)
    assert cli.train_main([*TINY, "--checkpoints_dir", str(tmp_path), "--name", "i", "--use_tensorboard"]) == 130
    assert closed == [1]
    assert [e.step for e in _events(tmp_path / "i" / "tb").Scalars("loss/D")] == [8, 16]


def test_under_torchrun_rank_zero_alone_logs(wandb_env, monkeypatch):
    """Two processes of 4 images a batch: one event file, one W&B run, a loss point every 8 images of both."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    args = [*TINY, "--batch_size", "4", "--checkpoints_dir", "ck", "--name", "d", "--use_tensorboard", "--use_wandb"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               os.path.join(REPO, "train.py"), *args]
    result = subprocess.run(command, cwd=wandb_env, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = wandb_env / "ck" / "d"
    assert len(os.listdir(run / "tb")) == 1 and len(glob.glob(str(run / "wandb" / "offline-run-*"))) == 1
    assert result.stdout.count("TensorBoard logs in") == 1
    assert [e.step for e in _events(run / "tb").Scalars("loss/G")] == [8, 16, 24, 32]
