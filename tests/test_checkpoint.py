"""Checkpoint files: atomic writes, classic key compatibility, clear errors for files that do not fit."""
import os

import pytest
import torch

from gantool.io.checkpoint import describe_generator, load_network, save_network
from gantool.io.files import atomic_save, clean_state_dict, load_file
from gantool.errors import GantoolError
from gantool.networks import define_G


def _g(netG="resnet_6blocks", norm="instance", dropout=False, ngf=8):
    torch.manual_seed(0)
    return define_G(3, 3, ngf, netG, norm, dropout)


def test_round_trip_and_plain_state_dict(tmp_path):
    net, path = _g(), str(tmp_path / "latest_net_G.pth")
    save_network(net, path)
    state = torch.load(path, weights_only=True)
    assert list(state) == list(net.state_dict())  # a plain state dict, classic keys
    other = _g()
    torch.nn.init.zeros_(other.model[1].weight)
    load_network(other, path)
    assert torch.equal(other.model[1].weight, net.model[1].weight)


def test_wrapper_prefixes_are_stripped(tmp_path):
    net, path = _g(), str(tmp_path / "g.pth")
    torch.save({"module._orig_mod." + k: v for k, v in net.state_dict().items()}, path)
    load_network(_g(), path)
    assert list(clean_state_dict({"module.a": 1, "_orig_mod.b": 2})) == ["a", "b"]


def test_old_instance_norm_running_stats_are_dropped(tmp_path):
    net, path = _g(), str(tmp_path / "old.pth")
    state = net.state_dict()
    state["model.2.running_mean"] = torch.zeros(8)  # what PyTorch < 0.4 saved for InstanceNorm
    state["model.2.running_var"] = torch.ones(8)
    torch.save(state, path)
    load_network(_g(), path)


def test_wrong_architecture_names_the_options_to_use(tmp_path):
    path = str(tmp_path / "g.pth")
    save_network(_g("resnet_6blocks", dropout=True), path)
    with pytest.raises(GantoolError) as err:
        load_network(_g("resnet_9blocks"), path, "--netG resnet_9blocks --ngf 8")
    assert "--netG resnet_6blocks" in str(err.value) and "--no_dropout" not in str(err.value)
    save_network(_g("unet_128", norm="batch"), path)
    assert describe_generator(torch.load(path, weights_only=True)).startswith("--netG unet_128 --ngf 8 --norm batch")


def test_truncated_and_pickled_files_are_refused(tmp_path):
    path = str(tmp_path / "g.pth")
    save_network(_g(), path)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(GantoolError, match="truncated or corrupt"):
        load_network(_g(), path)
    torch.save({"weights": torch.zeros(1), "code": os.getcwd}, path)  # a pickled function
    with pytest.raises(GantoolError, match="refused"):
        load_file(path)
    with pytest.raises(GantoolError, match="does not exist"):
        load_file(str(tmp_path / "missing.pth"))


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = str(tmp_path / "state.pth")
    atomic_save({"v": torch.tensor(1)}, path)

    def broken_save(obj, f):
        f.write(b"half")  # atomic_save hands torch.save an open temporary file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(GantoolError, match="No space left"):
        atomic_save({"v": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["v"].item() == 1
    assert os.listdir(tmp_path) == ["state.pth"]  # no temporary file left behind
