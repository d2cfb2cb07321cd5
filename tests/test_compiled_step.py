"""``--compile``: each recipe's forward-and-loss passes compile whole (``fullgraph=True``, so no graph break and
no host read inside), give the losses and gradients of the eager step, and a compiled run resumes exactly.

Most comparisons compile with the ``aot_eager`` backend (dynamo's capture and AOT autograd, without inductor's
code generation, which would cost minutes on 2 cores); one test runs the real default backend.
"""
import functools

import pytest
import torch

from gantool import cli
from gantool.build import build_recipe
from gantool.engine.step import StepRunner
from gantool.options import parse

from conftest import TINY_TRAIN

pytestmark = pytest.mark.usefixtures("single_thread")
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()  # compiled code of earlier tests must not count against the recompile limit
    yield
    torch._dynamo.reset()


def _batch(model: str, g: torch.Generator) -> dict:
    image = lambda c, s=32: torch.rand(2, c, s, s, generator=g) * 2 - 1  # noqa: E731
    if model in ("gan", "dcgan"):
        return {"A": image(1, 16 if model == "dcgan" else 28)}
    if model == "classifier":
        return {"A": image(1, 28), "label": torch.tensor([3, 7])}
    if model == "segmenter":
        return {"A": image(3), "mask": torch.randint(0, 4, (2, 32, 32), generator=g)}
    return {"A": image(3), "B": image(3)}


SIZE_32 = ["--crop_size", "32", "--load_size", "32"]
CASES = {
    "cycle_gan": ["--model", "cycle_gan", "--netG", "resnet_6blocks", "--ngf", "4", "--ndf", "4", "--pool_size", "2",
                  *SIZE_32],
    "cycle_gan_wgangp": ["--model", "cycle_gan", "--netG", "resnet_6blocks", "--ngf", "4", "--ndf", "4",
                         "--gan_mode", "wgangp", "--norm", "none", *SIZE_32],
    "pix2pix": ["--model", "pix2pix", "--netG", "unet_64", "--ngf", "4", "--ndf", "4", *SIZE_32],
    "dcgan": ["--model", "dcgan", "--img_size", "16", "--ngf", "4", "--ndf", "4"],
    "gan": ["--model", "gan"],
    "classifier": ["--model", "classifier", "--netC", "lenet", "--dataset_mode", "digits"],
    "segmenter": ["--model", "segmenter", "--netS", "unet", "--num_classes", "4", "--base_channels", "4",
                  "--unet_depth", "2", *SIZE_32],
}


def _recipe(argv):
    torch.manual_seed(0)
    return build_recipe(parse(argv + ["--seed", "0"], is_train=True), CPU)


@pytest.mark.parametrize("case", CASES)
def test_compiled_passes_match_the_eager_step(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = CASES[case]
    eager, compiled = _recipe(argv), _recipe(argv)
    passes = compiled.passes_to_compile()
    assert passes, case
    if case == "cycle_gan_wgangp":
        assert passes == ["generator_losses"]  # the penalty's double backward stays eager
    compiled.compile_passes(lambda fn: torch.compile(fn, fullgraph=True, dynamic=False, backend="aot_eager"))
    model = argv[1]
    for step in range(2):  # the second step runs the compiled graphs again, without recompiling
        batch = _batch(model, torch.Generator().manual_seed(step))
        torch.manual_seed(10 + step)
        losses_e = eager.training_step(batch)
        torch.manual_seed(10 + step)
        losses_c = compiled.training_step(batch)
        for k in losses_e:
            assert torch.allclose(losses_e[k], losses_c[k], rtol=1e-5, atol=1e-6), (case, step, k)
    for name in eager.networks:
        for (k, a), b in zip(eager.networks[name].named_parameters(), compiled.networks[name].parameters()):
            if a.grad is not None:
                assert torch.allclose(a.grad, b.grad, rtol=1e-3, atol=1e-6), (case, name, k)


def test_a_graph_break_in_a_pass_fails_loudly(tmp_path, monkeypatch):
    """``fullgraph=True`` is what guarantees one graph per pass: a host read inside one makes compiling fail."""
    monkeypatch.chdir(tmp_path)
    recipe = _recipe(CASES["classifier"])
    real = recipe.forward_loss

    def with_host_read(images, labels):
        loss, logits = real(images, labels)
        if loss.item() > -1:  # a host sync: a graph break
            return loss, logits
        return loss, logits

    recipe.forward_loss = with_host_read
    recipe.compile_passes(lambda fn: torch.compile(fn, fullgraph=True, backend="aot_eager"))
    with pytest.raises(Exception, match="(?i)graph break|item|unsupported"):
        recipe.training_step(_batch("classifier", torch.Generator().manual_seed(0)))


def test_step_runner_compiles_passes_with_the_default_backend(tmp_path, monkeypatch):
    """The real ``--compile on`` path (inductor on the CPU; the MLP GAN compiles fastest): the same losses as
    eager within float tolerance."""
    monkeypatch.chdir(tmp_path)
    eager, compiled = _recipe(CASES["gan"]), _recipe(CASES["gan"])
    logs = []
    runner = StepRunner(CPU, "fp32", "off", "on", log=logs.append)
    runner.prepare(compiled)
    assert "torch.compile on" in logs[0]
    plain = StepRunner(CPU, "fp32", "off", "off", log=lambda m: None)
    batch = _batch("gan", torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    losses_c = runner.train_step(compiled, batch)
    torch.manual_seed(1)
    losses_e = plain.train_step(eager, batch)
    assert any("the first step took" in line for line in logs)
    for k in losses_e:
        assert torch.allclose(losses_e[k], losses_c[k], rtol=1e-4, atol=1e-5), k
    assert not any(hasattr(net, "_orig_mod") for net in compiled.networks.values())  # passes, not networks


def test_a_compiled_run_resumes_exactly(unaligned_root, tmp_path, monkeypatch):
    """--compile on, stopped by --max_iters and resumed, ends with the weights of an uninterrupted compiled run."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    common = ["--dataroot", unaligned_root, "--checkpoints_dir", str(tmp_path), *TINY_TRAIN, "--compile", "on",
              "--precision", "fp32", "--seed", "4", "--n_epochs", "1", "--n_epochs_decay", "1"]
    assert cli.train_main(common + ["--name", "whole"]) == 0
    assert cli.train_main(common + ["--name", "parts", "--max_iters", "5"]) == 0
    assert cli.train_main(common + ["--name", "parts", "--continue_train"]) == 0
    whole = torch.load(tmp_path / "whole" / "latest_net_G_A.pth", weights_only=True)
    parts = torch.load(tmp_path / "parts" / "latest_net_G_A.pth", weights_only=True)
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
