"""Option parsing: classic vocabulary and defaults, recipe hooks, built-in dataset defaults, bad values."""
import pytest

from gantool.data import builtin_option_defaults
from gantool.engine.device import parse_gpu_ids, select_device
from gantool.errors import GantoolError, UnknownNameError
from gantool.options import parse


def test_classic_defaults_with_a_dataroot(tmp_path):
    opt = parse(["--dataroot", str(tmp_path)], is_train=True)
    assert (opt.model, opt.netG, opt.netD, opt.norm, opt.gan_mode) == ("cycle_gan", "resnet_9blocks", "basic",
                                                                      "instance", "lsgan")
    assert (opt.load_size, opt.crop_size, opt.n_epochs, opt.n_epochs_decay) == (286, 256, 100, 100)
    assert (opt.lr, opt.beta1, opt.pool_size, opt.lambda_A, opt.lambda_identity) == (0.0002, 0.5, 50, 10.0, 0.5)
    assert opt.no_dropout is True  # cycle_gan's hook
    assert opt.builtin_dataset is False


def test_builtin_dataset_sets_demo_defaults_but_explicit_options_win():
    opt = parse([], is_train=True)
    demo = builtin_option_defaults(True)
    assert opt.builtin_dataset and opt.crop_size == demo["crop_size"] and opt.n_epochs == demo["n_epochs"]
    opt = parse(["--crop_size", "24", "--load_size", "30", "--n_epochs", "7"], is_train=True)
    assert (opt.crop_size, opt.load_size, opt.n_epochs) == (24, 30, 7)


def test_test_options_follow_the_classic_test_script(tmp_path):
    opt = parse(["--dataroot", str(tmp_path), "--model", "test", "--crop_size", "128", "--batch_size", "8"],
                is_train=False)
    assert opt.dataset_mode == "single" and opt.load_size == 128
    assert (opt.batch_size, opt.num_threads, opt.serial_batches, opt.no_flip) == (1, 0, True, True)
    assert opt.num_test == float("inf") and opt.model_suffix == ""


def test_model_test_refuses_training():
    with pytest.raises(GantoolError, match="test.py"):
        parse(["--model", "test"], is_train=True)


def test_unknown_model_lists_the_choices():
    with pytest.raises(UnknownNameError, match="cycle_gan.*test"):
        parse(["--model", "cyclegan"], is_train=True)


@pytest.mark.parametrize("args, message", [
    (["--batch_size", "0"], "--batch_size must be a positive"),
    (["--n_epochs", "-1"], "--n_epochs must not be negative"),
    (["--n_epochs", "0", "--n_epochs_decay", "0"], "nothing to train"),
    (["--lr", "0"], "--lr must be positive"),
    (["--dataroot", "/no/such/folder"], "is not a folder"),
    (["--gpu_ids", "x"], "not a comma list"),
    (["--suffix", "{nonsense}"], "--suffix"),
])
def test_impossible_values_are_named(args, message):
    with pytest.raises(GantoolError, match=message):
        parse(args, is_train=True)


def test_suffix_formats_the_name(tmp_path):
    opt = parse(["--dataroot", str(tmp_path), "--name", "run", "--suffix", "{model}_{netG}"], is_train=True)
    assert opt.name == "run_cycle_gan_resnet_9blocks"


def test_seed_is_chosen_and_kept():
    assert isinstance(parse([], is_train=True).seed, int)
    assert parse(["--seed", "5"], is_train=True).seed == 5


def test_gpu_ids_parsing_and_cpu_selection():
    assert parse_gpu_ids("-1") == [] and parse_gpu_ids("auto") is None and parse_gpu_ids("0,1") == [0, 1]
    device, ids, message = select_device([])
    assert device.type == "cpu" and ids == [] and "CPU" in message


def test_asking_for_a_missing_gpu_is_one_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GantoolError, match="--gpu_ids -1"):
        select_device([0])


@pytest.mark.parametrize("flag, value", [("--netG", "unet_512"), ("--netD", "big"), ("--norm", "group"),
                                         ("--init_type", "zeros"), ("--gan_mode", "wgan")])
def test_unknown_names_are_caught_while_parsing(flag, value):
    with pytest.raises(UnknownNameError, match=f"unknown {flag} '{value}'; choose from"):
        parse([flag, value], is_train=True)


def test_model_test_keeps_the_classic_generator_on_builtin_data():
    """`test.py --model test --name horse2zebra_pretrained --no_dropout` must build the published architecture."""
    opt = parse(["--model", "test", "--name", "horse2zebra_pretrained", "--no_dropout"], is_train=False)
    assert (opt.netG, opt.ngf, opt.norm, opt.no_dropout) == ("resnet_9blocks", 64, "instance", True)
    assert parse(["--model", "cycle_gan"], is_train=False).netG == "resnet_6blocks_resize"  # the demo network


def test_cycle_gan_demo_settings_stay_scoped_to_the_builtin_data(tmp_path):
    """The study's winner (README "How the demo settings were chosen") on the built-in data only."""
    demo = parse(["--model", "cycle_gan"], is_train=True)
    assert (demo.netG, demo.ngf, demo.ndf, demo.diffaug) == ("resnet_6blocks_resize", 32, 32, "translation,cutout")
    assert (demo.n_epochs, demo.n_epochs_decay, demo.lr, demo.lr_policy) == (2, 1, 0.0002, "linear")
    classic = parse(["--model", "cycle_gan", "--dataroot", str(tmp_path)], is_train=True)
    assert (classic.netG, classic.ngf, classic.diffaug, classic.n_epochs, classic.n_epochs_decay) == \
        ("resnet_9blocks", 64, "", 100, 100)
    assert (classic.load_size, classic.crop_size, classic.pool_size, classic.lambda_identity) == (286, 256, 50, 0.5)
    # Explicit options still win, and the other recipes keep their own demo networks.
    mine = parse(["--model", "cycle_gan", "--netG", "resnet_6blocks", "--diffaug", "", "--n_epochs_decay", "2"])
    assert (mine.netG, mine.diffaug, mine.n_epochs_decay) == ("resnet_6blocks", "", 2)
    assert parse(["--model", "cut"], is_train=True).netG == "resnet_6blocks"
    assert parse(["--model", "cut"], is_train=True).diffaug == ""


def test_other_demo_settings_stay_scoped_to_the_builtin_data(tmp_path):
    """pix2pix's DiffAugment and the samplers' lr 4e-4 (the study's winners) on the built-in data only."""
    assert parse(["--model", "pix2pix"]).diffaug == "translation,cutout"
    assert parse(["--model", "pix2pix", "--dataroot", str(tmp_path)]).diffaug == ""
    for model in ("gan", "dcgan"):
        assert parse(["--model", model]).lr == 0.0004
        assert parse(["--model", model, "--dataroot", str(tmp_path)]).lr == 0.0002
        assert parse(["--model", model, "--lr", "0.0001"]).lr == 0.0001
    assert parse(["--model", "gan", "--preset", "pytorch_gan"]).lr == 0.0002  # the listing's value wins
