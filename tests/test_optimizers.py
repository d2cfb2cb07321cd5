"""--optimizer adam|adamw|sgd|rmsprop, --momentum, --weight_decay: the update rules, every recipe, resume."""
import pytest
import torch

from gantool import cli
from gantool.build import build_recipe
from gantool.errors import GantoolError
from gantool.models.optimizers import OPTIMIZERS, OptimizerSpec
from gantool.options import parse

TINY = ["--gpu_ids", "-1", "--display_id", "0", "--max_dataset_size", "16", "--batch_size", "8", "--img_size", "16",
        "--n_epochs", "1", "--n_epochs_decay", "0", "--print_freq", "8", "--ngf", "8", "--ndf", "8"]


def _one_step(spec, grads, lr=0.1, start=1.0):
    """A single scalar parameter after one optimiser step per gradient in ``grads``."""
    p = torch.nn.Parameter(torch.tensor([start]))
    opt = spec.make([p], lr, (0.5, 0.999), torch.device("cpu"))
    for g in grads:
        p.grad = torch.tensor([g])
        opt.step()
    return p.item()


def test_sgd_momentum_follows_the_heavy_ball_rule():
    # v1 = g1 = 1, p1 = 1 - 0.1 * 1 = 0.9; v2 = 0.9 * v1 + g2 = 0.9 + 2 = 2.9, p2 = 0.9 - 0.29 = 0.61
    assert _one_step(OptimizerSpec("sgd", momentum=0.9), [1.0, 2.0]) == pytest.approx(0.61)
    # plain SGD: 1 - 0.1 * (1 + 2) = 0.7
    assert _one_step(OptimizerSpec("sgd"), [1.0, 2.0]) == pytest.approx(0.7)


def test_weight_decay_is_l2_for_sgd_and_decoupled_for_adamw():
    # L2: the gradient gains wd * p = 0.5 * 2 = 1 -> p = 2 - 0.1 * 1 = 1.9 with a zero loss gradient
    assert _one_step(OptimizerSpec("sgd", weight_decay=0.5), [0.0], start=2.0) == pytest.approx(1.9)
    # AdamW: p *= 1 - lr * wd first (2 * 0.95 = 1.9); Adam's own step on a zero gradient is zero
    assert _one_step(OptimizerSpec("adamw", weight_decay=0.5), [0.0], start=2.0) == pytest.approx(1.9)
    # Adam with L2: the decay enters the moments, so the first step is the full lr whatever the size of wd * p
    assert _one_step(OptimizerSpec("adam", weight_decay=0.5), [0.0], start=2.0) == pytest.approx(1.9, abs=1e-6)
    assert _one_step(OptimizerSpec("adam", weight_decay=0.01), [0.0], start=2.0) == pytest.approx(1.9, abs=1e-6)


def test_rmsprop_first_step_divides_by_the_root_mean_square():
    # v = 0.01 * g^2 = 0.04 -> step = lr * g / (sqrt(v) + eps) = 0.1 * 2 / 0.2 = 1
    assert _one_step(OptimizerSpec("rmsprop"), [2.0]) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("bad, words", [
    (dict(name="lbfgs"), "unknown --optimizer 'lbfgs'"),
    (dict(name="adam", momentum=0.9), "--momentum applies to --optimizer sgd or rmsprop"),
    (dict(name="sgd", momentum=1.0), "--momentum must be at least 0 and below 1"),
    (dict(name="sgd", weight_decay=-1e-4), "--weight_decay must not be negative"),
])
def test_bad_settings_are_refused(bad, words):
    with pytest.raises(GantoolError, match=words.replace("(", r"\(")):
        OptimizerSpec(**bad)


def test_bad_settings_stop_train_py_with_one_line(capsys):
    assert cli.train_main(["--model", "gan", "--optimizer", "adam", "--momentum", "0.9", *TINY]) != 0
    err = capsys.readouterr().err
    assert "--momentum applies to --optimizer sgd or rmsprop" in err and "Traceback" not in err
    with pytest.raises(SystemExit):  # argparse's own message lists the choices
        parse(["--model", "gan", "--optimizer", "lbfgs"])
    assert "invalid choice: 'lbfgs'" in capsys.readouterr().err


@pytest.mark.parametrize("model, extra", [
    ("gan", []), ("dcgan", []), ("cycle_gan", ["--crop_size", "16", "--load_size", "16"]),
    ("pix2pix", ["--crop_size", "16", "--load_size", "16"]), ("cut", ["--crop_size", "16", "--load_size", "16", "--num_patches", "16"]),
    ("classifier", ["--netC", "lenet"]), ("segmenter", ["--base_channels", "4", "--unet_depth", "2"]),
])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_recipe_builds_every_optimizer(model, extra, name):
    momentum = ["--momentum", "0.9"] if name in ("sgd", "rmsprop") else []
    opt = parse(["--model", model, "--optimizer", name, *momentum, "--weight_decay", "1e-4", *TINY[:2], *extra])
    recipe = build_recipe(opt, torch.device("cpu"))
    assert recipe.optimizers
    for optimizer in recipe.optimizers.values():
        assert type(optimizer).__name__.lower() == name
        group = optimizer.param_groups[0]
        assert group["lr"] == opt.lr and group["weight_decay"] == 1e-4
        assert group.get("momentum", 0.0) == (0.9 if momentum else 0.0)
        # every parameter of the recipe's networks is trained by exactly one optimiser
    trained = [p for o in recipe.optimizers.values() for g in o.param_groups for p in g["params"]]
    assert len(trained) == len({id(p) for p in trained})


def test_default_stays_classic_adam():
    recipe = build_recipe(parse(["--model", "cycle_gan", *TINY[:2]]), torch.device("cpu"))
    for optimizer in recipe.optimizers.values():
        assert type(optimizer) is torch.optim.Adam
        assert optimizer.param_groups[0]["betas"] == (0.5, 0.999) and optimizer.param_groups[0]["weight_decay"] == 0


def test_sgd_run_resumes_exactly_and_refuses_another_kind(tmp_path, capsys):
    common = ["--model", "gan", "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.01", "--seed", "3",
              "--checkpoints_dir", str(tmp_path), *TINY, "--n_epochs", "2"]
    assert cli.train_main(common + ["--name", "once"]) == 0
    assert cli.train_main(common + ["--name", "twice", "--max_iters", "16"]) == 0
    state = torch.load(tmp_path / "twice" / "latest_state.pth", weights_only=True)
    assert state["optimizer_kinds"] == {"G": "SGD", "D": "SGD"}
    assert all("momentum_buffer" in s for s in state["optimizers"]["G"]["state"].values())
    assert cli.train_main(common + ["--name", "twice", "--continue_train"]) == 0
    for net in ("G", "D"):
        once = torch.load(tmp_path / "once" / f"latest_net_{net}.pth", weights_only=True)
        twice = torch.load(tmp_path / "twice" / f"latest_net_{net}.pth", weights_only=True)
        assert all(torch.equal(once[k], twice[k]) for k in once), net

    capsys.readouterr()
    adam = [a for a in common if a not in ("--momentum", "0.9", "sgd", "--optimizer")]
    assert cli.train_main(adam + ["--name", "twice", "--continue_train", "--n_epochs", "3"]) != 0
    err = capsys.readouterr().err
    assert "was trained with --optimizer sgd; continue with --optimizer sgd" in err and "Traceback" not in err


def test_a_new_weight_decay_applies_on_resume(tmp_path):
    common = ["--model", "gan", "--optimizer", "sgd", "--checkpoints_dir", str(tmp_path), "--name", "run", *TINY]
    assert cli.train_main(common + ["--max_iters", "8", "--n_epochs", "2"]) == 0
    from gantool.build import build_trainer

    trainer = build_trainer(parse(common + ["--n_epochs", "2", "--continue_train", "--weight_decay", "0.01"]),
                            log=lambda _: None)
    assert all(g["weight_decay"] == 0.01 for o in trainer.recipe.optimizers.values() for g in o.param_groups)
