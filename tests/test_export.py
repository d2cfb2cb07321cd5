"""``gantool export``: TorchScript round trip, ONNX when the package is installed, explicit test semantics."""
import importlib.util
import sys

import pytest
import torch

from gantool.io.checkpoint import save_network
from gantool.errors import GantoolError
from gantool.inference.export import export, export_main
from gantool.networks import define_G
from gantool.inference.translator import Translator

pytestmark = pytest.mark.usefixtures("single_thread")
HAS_ONNX = importlib.util.find_spec("onnx") is not None


@pytest.fixture
def generators(tmp_path):
    torch.manual_seed(0)
    paths = {}
    for name, args in {"resnet": (3, 3, 4, "resnet_6blocks", "instance", False),
                       "unet": (3, 3, 4, "unet_64", "batch", True)}.items():
        paths[name] = str(tmp_path / name / "latest_net_G.pth")
        save_network(define_G(*args), paths[name])
    return paths


@pytest.mark.parametrize("name, eval_mode", [("resnet", False), ("unet", False), ("unet", True)])
def test_torchscript_round_trip_any_size(generators, tmp_path, name, eval_mode):
    lines = []
    out = str(tmp_path / "g.pt")
    export_main([generators[name], "-o", out] + (["--eval"] if eval_mode else []), lines.append)
    checked = next(line for line in lines if "max difference" in line)
    assert lines[0].startswith("gantool: memory: ") and "tolerance" in checked and out in lines[-1]
    loaded = torch.jit.load(out)
    reference = Translator.load(generators[name], device="cpu", eval_mode=eval_mode)
    x = torch.rand(1, 3, 70, 45) * 2 - 1  # not a multiple of the U-Net's 64: padded inside
    torch.manual_seed(3)
    got = loaded(x)
    torch.manual_seed(3)
    assert got.shape == (1, 3, 70, 45) and torch.allclose(got, reference.translate_tensor(x), atol=1e-5)


def test_a_difference_above_the_tolerance_fails_and_keeps_the_previous_file(generators, tmp_path):
    out = tmp_path / "g.pt"
    out.write_bytes(b"an earlier export")
    with pytest.raises(GantoolError, match="differs from the eager model"):
        export(Translator.load(generators["resnet"], device="cpu"), "torchscript", str(out),
               tolerance=-1.0, log=lambda m: None)
    assert out.read_bytes() == b"an earlier export" and [p.name for p in tmp_path.iterdir()] != []
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no half-written file left


@pytest.mark.parametrize("where", ["a_file/x.pt", "a_file/deeper/x.pt"])
def test_an_output_under_a_file_is_one_line(generators, tmp_path, capsys, where):
    from gantool import cli

    (tmp_path / "a_file").write_text("in the way")
    assert cli.main(["export", generators["resnet"], "-o", str(tmp_path / where)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'a_file'} is a file, not a folder; choose another -o" in err and "Traceback" not in err
    assert (tmp_path / "a_file").read_text() == "in the way"


@pytest.mark.skipif(not HAS_ONNX, reason="the onnx package is not installed (the message is tested below)")
def test_onnx_export_with_dynamic_height_and_width(generators, tmp_path):
    import onnx
    from onnx.reference import ReferenceEvaluator

    out = str(tmp_path / "g.onnx")
    lines = []
    export_main([generators["resnet"], "--format", "onnx", "-o", out], lines.append)
    model = onnx.load(out)
    assert {p.key: p.value for p in model.metadata_props}["size_multiple"] == "4"
    x = torch.rand(2, 3, 20, 12) * 2 - 1
    got = torch.from_numpy(ReferenceEvaluator(out).run(None, {"image": x.numpy()})[0])
    want = Translator.load(generators["resnet"], device="cpu").translate_tensor(x)
    assert torch.allclose(got, want, atol=1e-4)
    with pytest.raises(GantoolError, match="dropout.*pass --eval"):
        export_main([generators["unet"], "--format", "onnx", "-o", out], lines.append)
    export_main([generators["unet"], "--format", "onnx", "-o", out, "--eval"], lines.append)
    assert "max difference" in lines[-2]


def test_onnx_missing_is_said_clearly(generators, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails as if it were not installed
    with pytest.raises(GantoolError, match="ONNX export needs the onnx package: pip install onnx"):
        export_main([generators["resnet"], "--format", "onnx", "-o", str(tmp_path / "g.onnx")], print)
