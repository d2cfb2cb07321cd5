"""test.py's duration estimate: a --num_test (or test folder) that would take hours says so once, early."""
import os

import pytest

from conftest import TINY, TINY_TRAIN, run_cli, write_images
from gantool import cli
from gantool.engine.eta import DurationEstimate

pytestmark = pytest.mark.usefixtures("single_thread")


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _test(images, seconds_per_image, saved=None):
    """Observe ``saved`` (default: all) results of a test of ``images`` images; (lines, estimates)."""
    clock, lines, results = FakeClock(), [], []
    estimate = DurationEstimate.for_test(images, lines.append, clock)
    for _ in range(images if saved is None else saved):
        clock.now += seconds_per_image
        results.append(estimate.observe(1))
    return lines, [r for r in results if r is not None]


def test_a_long_test_is_told_once_with_the_rate_per_image():
    # 100,000 images at 1.1 s each: after 13 images (3 warm-up, 10 timed) 99,987 remain, 109,985.7 s = 30.6 h
    lines, estimates = _test(100_000, 1.1, saved=40)
    assert estimates == [pytest.approx((100_000 - 13) * 1.1)]
    assert lines == ["gantool: this test will take about 30.6 h more at 1.10 s per image (100000 images); "
                     "--num_test shortens it"]


def test_a_short_test_says_nothing():
    lines, estimates = _test(200, 0.05)
    assert lines == [] and len(estimates) == 1 and estimates[0] < 60


def test_fewer_images_than_the_measurement_measure_nothing():
    assert _test(12, 1000.0) == ([], [])  # 3 warm-up + 10 timed images are needed for a rate


def test_for_test_counts_the_images_and_keeps_the_training_message_apart():
    assert DurationEstimate.for_test(1, print).schedule == "1 image"
    assert DurationEstimate.for_test(7, print).remaining == 7
    assert "--n_epochs" in DurationEstimate(10, "x", print).message  # the trainer's line is unchanged


# ----------------------------------------------------------------- through test.py

# The real test.py, with every run counted as long (the threshold is a module constant read at start-up).
LONG_TEST = """import runpy, sys
from gantool.engine import eta
eta.LONG_RUN_SECONDS = 0.0
sys.argv = [{script!r}] + sys.argv[1:]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny CycleGAN run and 14 test images per side; (tmp folder, test.py arguments)."""
    tmp = tmp_path_factory.mktemp("duration")
    root = tmp / "data"
    for side, seed in (("A", 1), ("B", 2)):
        write_images(root / f"train{side}", 2, size=(32, 32), seed=seed)
        write_images(root / f"test{side}", 14, size=(32, 32), seed=seed + 2)
    common = ["--dataroot", str(root), "--checkpoints_dir", str(tmp / "ck"), "--name", "run"]
    assert cli.train_main([*common, *TINY_TRAIN, "--max_iters", "2"]) == 0
    return tmp, [*common, "--results_dir", str(tmp / "res"), *TINY]


def test_test_py_tells_a_long_test_once(trained):
    tmp, args = trained
    wrapper = tmp / "long_test.py"
    wrapper.write_text(LONG_TEST.format(script=os.path.join(os.path.dirname(os.path.dirname(__file__)), "test.py")))
    result = run_cli(str(wrapper), args, cwd=tmp)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "this test will take about" in line]
    assert len(lines) == 1 and lines[0].endswith("s per image (14 images); --num_test shortens it"), result.stdout
    assert "gantool: translated 14 images" in result.stdout  # told at start-up, then the test ran to its end


def test_test_py_says_nothing_for_a_short_test(trained, capsys):
    _, args = trained
    assert cli.test_main(args) == 0
    assert "will take about" not in capsys.readouterr().out
