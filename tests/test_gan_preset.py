"""--preset pytorch_gan (PyTorch-GAN's MLP GAN listing), --update_order, --sample_grid, --activation for gan."""
import json

import pytest
import torch
from PIL import Image

from gantool import cli
from gantool.build import build_recipe
from gantool.errors import GantoolError
from gantool.networks.mlp_gan import MLPDiscriminator, MLPGenerator
from gantool.ops.activations import ACTIVATIONS
from gantool.options import parse

# The listing's argparse defaults, as printed in the course notes (implementations/gan/gan.py), with the
# gantool option each maps to.
LISTING = {"n_epochs": 100, "batch_size": 128, "lr": 0.0002, "b1": 0.5, "b2": 0.999, "n_cpu": 8, "latent_dim": 100,
           "img_size": 28, "channels": 1, "sample_interval": 400}
OURS = {"b1": "beta1", "b2": "beta2", "n_cpu": "num_threads", "channels": "input_nc"}
TINY = ["--gpu_ids", "-1", "--display_id", "0", "--max_dataset_size", "16", "--batch_size", "8", "--img_size", "16",
        "--n_epochs", "1", "--n_epochs_decay", "0", "--print_freq", "8"]


def test_preset_reproduces_every_default_of_the_listing():
    opt = parse(["--model", "gan", "--preset", "pytorch_gan"])
    for name, value in LISTING.items():
        assert getattr(opt, OURS.get(name, name)) == value, name
    # constant learning rate (the listing has no decay), 5x5 grids every 400 batches, BCE, G before D
    assert opt.n_epochs_decay == 0 and opt.sample_grid == 25 and opt.gan_mode == "vanilla"
    assert opt.update_order == "G_first" and opt.optimizer == "adam"
    assert opt.display_freq == opt.update_html_freq == 400 * 128  # the trainer counts images
    # without the preset: gantool's own defaults (the built-in digits' demo length, D first, 8x8 grids)
    plain = parse(["--model", "gan"])
    assert (plain.batch_size, plain.sample_grid, plain.update_order) == (64, 64, "D_first")


def test_explicit_options_win_over_the_preset_and_test_py_gets_its_grid():
    opt = parse(["--model", "gan", "--preset", "pytorch_gan", "--batch_size", "32", "--update_order", "D_first"])
    assert opt.batch_size == 32 and opt.update_order == "D_first" and opt.display_freq == 400 * 32
    test = parse(["--model", "gan", "--preset", "pytorch_gan"], is_train=False)
    assert test.num_test == 25 and not hasattr(test, "n_epochs")


def _recorded_step(order):
    opt = parse(["--model", "gan", "--update_order", order, *TINY])
    recipe = build_recipe(opt, torch.device("cpu"))
    calls, seen_by_D = [], {}
    G = recipe.networks["G"]
    before = {k: v.detach().clone() for k, v in G.named_parameters()}  # not BatchNorm's running statistics

    def update(name, loss):
        calls.append(name)
        if name == "D":  # G's weights when D's loss was computed
            seen_by_D["G_changed"] = any(not torch.equal(before[k], v) for k, v in G.named_parameters())
        recipe.plain_update(name, loss)

    recipe.training_step({"A": torch.rand(8, 1, 16, 16) * 2 - 1}, update)
    return calls, seen_by_D["G_changed"]


def test_update_order():
    assert _recorded_step("G_first") == (["G", "D"], True)
    assert _recorded_step("D_first") == (["D", "G"], False)


def test_g_first_discriminator_judges_the_images_made_before_gs_step():
    """As in the listing: D's fake loss is on gen_imgs.detach(), made by G before optimizer_G.step()."""
    opt = parse(["--model", "gan", "--update_order", "G_first", *TINY])
    recipe = build_recipe(opt, torch.device("cpu"))
    made, judged = [], []
    recipe.networks["G"].register_forward_hook(lambda m, i, out: made.append(out.detach().clone()))
    D = recipe.networks["D"]
    D.register_forward_hook(lambda m, i, out: judged.append(i[0].detach().clone()))
    recipe.training_step({"A": torch.rand(8, 1, 16, 16) * 2 - 1})
    assert len(made) == 1  # one generator pass per batch
    assert torch.equal(judged[-1], made[0])  # D's last input: the fakes, from G before its update


@pytest.mark.parametrize("count, cols, rows", [(25, 5, 5), (64, 8, 8), (10, 4, 3)])
def test_sample_grid_draws_that_many_samples(count, cols, rows):
    opt = parse(["--model", "gan", "--sample_grid", str(count), *TINY])
    recipe = build_recipe(opt, torch.device("cpu"))
    recipe.training_step({"A": torch.rand(8, 1, 16, 16) * 2 - 1})
    grid = recipe.visuals()["samples"]
    assert recipe.fixed_z.shape == (count, 100)
    h, w = grid.shape[:2]  # (H, W, C) uint8
    # 16 px images with 2 px padding between and around (make_grid_image)
    assert (h, w) == (rows * 18 + 2, cols * 18 + 2)


@pytest.mark.parametrize("bad", ["1", "5000"])
def test_sample_grid_out_of_range_is_one_line(bad, capsys):
    assert cli.train_main(["--model", "dcgan", "--sample_grid", bad, *TINY]) != 0
    err = capsys.readouterr().err
    assert "--sample_grid must be between 2 and 1024" in err and "Traceback" not in err


def test_preset_run_writes_5x5_grids_and_test_py_samples_25(tmp_path):
    args = ["--model", "gan", "--preset", "pytorch_gan", "--checkpoints_dir", str(tmp_path), "--name", "pg",
            "--gpu_ids", "-1", "--display_id", "0", "--max_dataset_size", "64", "--batch_size", "16",
            "--n_epochs", "1", "--sample_interval", "2", "--num_threads", "0"]
    assert cli.train_main(args) == 0
    grid = Image.open(tmp_path / "pg" / "web" / "images" / "epoch001_samples.png")
    assert grid.size == (5 * 30 + 2, 5 * 30 + 2)  # 28 px samples, 2 px padding
    results = tmp_path / "results"
    assert cli.test_main(["--model", "gan", "--checkpoints_dir", str(tmp_path), "--name", "pg", "--gpu_ids", "-1",
                          "--results_dir", str(results), "--preset", "pytorch_gan"]) == 0
    pngs = list((results / "pg" / "test_latest" / "images").glob("sample*_fake.png"))
    assert len(pngs) == 25


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_mlp_gan_activation_keeps_its_keys(name):
    base_g, base_d = MLPGenerator(8, 1, 8).state_dict(), MLPDiscriminator(1, 8).state_dict()
    g, d = MLPGenerator(8, 1, 8, name), MLPDiscriminator(1, 8, name)
    extra_g, extra_d = set(g.state_dict()) - set(base_g), set(d.state_dict()) - set(base_d)
    assert set(base_g) <= set(g.state_dict()) and set(base_d) <= set(d.state_dict())
    # only PReLU has a parameter: one slope per hidden activation (4 in G, 2 in D)
    assert (len(extra_g), len(extra_d)) == ((4, 2) if name == "prelu" else (0, 0))
    kinds = {type(m).__name__ for m in g.model}
    assert {"relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "prelu": "PReLU", "gelu": "GELU",
            "sigmoid": "Sigmoid", "tanh": "Tanh"}[name] in kinds
    assert g(torch.randn(3, 8)).shape == (3, 1, 8, 8) and d(torch.randn(3, 1, 8, 8)).shape == (3, 1)


def test_default_activation_is_the_reference_leaky_relu():
    torch.manual_seed(0)
    a = MLPGenerator(8, 1, 8)
    torch.manual_seed(0)
    b = MLPGenerator(8, 1, 8, "leaky_relu")
    z = torch.randn(4, 8)
    assert torch.equal(a(z), b(z))
    slopes = [m.negative_slope for m in a.model if isinstance(m, torch.nn.LeakyReLU)]
    assert slopes == [0.2] * 4


def test_activation_round_trips_through_the_side_file(tmp_path):
    args = ["--model", "gan", "--activation", "prelu", "--checkpoints_dir", str(tmp_path), "--name", "act", *TINY]
    assert cli.train_main(args) == 0
    side = json.loads((tmp_path / "act" / "latest_net_G.json").read_text())
    assert side["kwargs"]["activation"] == "prelu"
    # test.py rebuilds the PReLU generator from the side file, without --activation
    assert cli.test_main(["--model", "gan", "--checkpoints_dir", str(tmp_path), "--name", "act", "--gpu_ids", "-1",
                          "--results_dir", str(tmp_path / "r"), "--num_test", "4"]) == 0


def test_old_side_files_without_activation_still_load(tmp_path):
    from gantool.io.arch import arch_from_record

    arch = arch_from_record({"builder": "mlp_gan", "kwargs": {"latent_dim": 100, "channels": 1, "img_size": 28}})
    assert arch.activation == "leaky_relu"


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of relu"):
        MLPGenerator(8, 1, 8, "swish")
    with pytest.raises(GantoolError, match="--update_order must be one of"):
        build_recipe(parse(["--model", "gan", *TINY]), torch.device("cpu")).__class__(
            torch.device("cpu"), True, update_order="sideways")
