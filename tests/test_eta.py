"""The duration estimate: one line, from the first batches, when a run will take long."""
import pytest

from gantool import cli
from gantool.engine import eta
from gantool.engine.eta import DurationEstimate, format_duration


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _run(remaining, seconds_per_batch, batch=4, long_run=3600.0, batches=20):
    clock, lines, results = FakeClock(), [], []
    estimate = DurationEstimate(remaining, "200 epochs of 1096 images", lines.append, long_run, clock)
    for _ in range(batches):
        clock.now += seconds_per_batch
        results.append(estimate.observe(batch))
    return lines, [r for r in results if r is not None]


def test_a_long_run_is_told_once_with_the_measured_rate():
    # 219,200 images at 4 per batch and 1.1 s per batch: after 13 batches (52 images) 219,148 remain,
    # 54,787 batches x 1.1 s = 60,265.7 s = 16.7 h
    lines, estimates = _run(200 * 1096, 1.1)
    assert estimates == [pytest.approx((200 * 1096 - 13 * 4) / 4 * 1.1)]
    assert len(lines) == 1
    assert "this run will take about 16.7 h more at 1.10 s per batch of 4 (200 epochs of 1096 images)" in lines[0]
    assert "--max_iters shorten it" in lines[0]


def test_warmup_batches_are_not_timed():
    clock, lines = FakeClock(), []
    estimate = DurationEstimate(10_000, "x", lines.append, 0.0, clock)
    for k in range(13):
        clock.now += 50.0 if k < 3 else 1.0  # slow first steps (allocation, autotuning) must not count
        seconds = estimate.observe(1)
    assert seconds == pytest.approx(10_000 - 13)  # 1 s per image


def test_a_short_run_says_nothing():
    lines, estimates = _run(1000, 0.01)
    assert lines == [] and len(estimates) == 1 and estimates[0] < 60


def test_nothing_left_measures_nothing():
    lines, estimates = _run(0, 5.0)
    assert lines == [] and estimates == []


@pytest.mark.parametrize("seconds, text", [(30, "1 min"), (95, "2 min"), (11160, "3.1 h"), (280000, "3.2 days")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_for_run_counts_what_is_left_and_caps_at_max_iters():
    assert DurationEstimate.for_run(3, 10, 100, 40, 0, 0, print).remaining == 8 * 100 - 40
    assert DurationEstimate.for_run(3, 10, 100, 40, 250, 300, print).remaining == 50


def test_train_py_prints_it_for_a_long_schedule(tmp_path, capsys, monkeypatch):
    from conftest import TINY_TRAIN, write_images

    monkeypatch.setattr(eta, "LONG_RUN_SECONDS", 0.0)  # every run is "long": the line must appear, once
    root = tmp_path / "data"
    write_images(root / "trainA", 16, size=(32, 32), seed=1)
    write_images(root / "trainB", 16, size=(32, 32), seed=2)
    args = ["--dataroot", str(root), "--checkpoints_dir", str(tmp_path / "ck"), "--name", "eta", *TINY_TRAIN,
            "--n_epochs", "1", "--n_epochs_decay", "0"]
    assert cli.train_main(args) == 0
    out = capsys.readouterr().out
    assert out.count("this run will take about") == 1 and "(1 epoch of 16 images)" in out
