"""``gantool eval``: image sets, cached features, FID/KID end to end (no download), and user mistakes."""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import write_images
from gantool import cli
from gantool.errors import GantoolError
from gantool.metrics.distribution import fid_from_features
from gantool.metrics.distribution_eval import DistributionScorer, PairCollector
from gantool.metrics.extractor_base import FeatureExtractor
from gantool.metrics.image_sets import list_images, load_batches

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder (features, weights): nothing is read from the user's."""
    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


class ColourStats(FeatureExtractor):
    """A tiny extractor for the tests: per-channel means and standard deviations at 8x8, counting its calls."""

    name, dim = "test-colour-stats", 6

    def __init__(self):
        super().__init__()
        self.calls = 0

    def preprocess(self, images):
        return torch.nn.functional.interpolate(images.expand(-1, 3, -1, -1), size=(8, 8), mode="bilinear")

    def features(self, x):
        self.calls += 1
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)


def _results_folder(folder, n=3):
    """A test.py results folder: images/<stem>_<label>.png for real_A, fake_B, real_B, and metrics.json."""
    images = folder / "images"
    for label, seed in (("real_A", 1), ("fake_B", 2), ("real_B", 3)):
        write_images(images, n, size=(16, 16), seed=seed, prefix=f"tmp_{label}_")
        for i in range(n):
            os.rename(images / f"tmp_{label}_{i:03d}.png", images / f"s{i}_{label}.png")
    Image.new("RGB", (32, 32)).save(images / "grid_fake_B.png")
    (folder / "metrics.json").write_text(json.dumps({"pairs": [], "distribution_pairs": [["fake_B", "real_B"]]}))
    return folder


def test_image_sets_folders_globs_and_results_folders(tmp_path):
    write_images(tmp_path / "a" / "sub", 2, seed=1)
    write_images(tmp_path / "a", 2, seed=2, prefix="top")
    assert len(list_images(str(tmp_path / "a"))) == 4  # recursive
    assert [os.path.basename(p) for p in list_images(str(tmp_path / "a" / "top*.png"))] == ["top000.png", "top001.png"]
    results = _results_folder(tmp_path / "r")
    assert [os.path.basename(p) for p in list_images(str(results), "fake")] == [f"s{i}_fake_B.png" for i in range(3)]
    assert all(p.endswith("_real_B.png") for p in list_images(str(results), "real"))
    assert all(p.endswith("_real_A.png") for p in list_images(str(results), "fake", label="real_A"))
    for spec, message in ((str(tmp_path / "none"), "does not exist"), (str(tmp_path / "x*.png"), "no image file"),
                          (list_images(str(tmp_path / "a"))[0], "is one file")):
        with pytest.raises(GantoolError, match=message):
            list_images(spec)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GantoolError, match="holds no images"):
        list_images(str(tmp_path / "empty"))
    with pytest.raises(GantoolError, match="no fake_A images"):
        list_images(str(results), label="fake_A")


def test_batches_keep_sizes_apart_and_gray_becomes_rgb(tmp_path):
    write_images(tmp_path, 3, size=(8, 8), mode="L", prefix="a")
    write_images(tmp_path, 2, size=(12, 10), prefix="b")
    batches = list(load_batches(list_images(str(tmp_path)), batch_size=2))
    assert [tuple(b.shape) for b in batches] == [(2, 3, 8, 8), (1, 3, 8, 8), (2, 3, 10, 12)]
    assert torch.equal(batches[0][:, 0], batches[0][:, 2]) and 0 <= batches[0].min() and batches[0].max() <= 1


def test_features_are_cached_by_file_list_and_extractor(tmp_path, cache):
    write_images(tmp_path / "real", 5, seed=1)
    paths = list_images(str(tmp_path / "real"))
    net = ColourStats()
    scorer = DistributionScorer(net, batch_size=2, log=lambda m: None)
    first = scorer.features_of_files(paths)
    calls = net.calls
    assert first.shape == (5, 6) and calls == 3
    assert np.array_equal(scorer.features_of_files(paths), first) and net.calls == calls  # from the cache
    assert len(os.listdir(cache / "features")) == 1
    write_images(tmp_path / "real", 1, seed=9)  # img000.png changes: its size and time differ
    assert not np.array_equal(scorer.features_of_files(paths), first) and net.calls > calls
    for f in os.listdir(cache / "features"):
        (cache / "features" / f).write_bytes(b"broken")  # a damaged cache file is recomputed, not an error
    assert scorer.features_of_files(paths).shape == (5, 6)
    uncached = DistributionScorer(ColourStats(), cache=False)
    uncached.features_of_files(paths)
    assert uncached.net.calls == 1  # 5 images in one batch of the default 50


def test_pair_collector_buffers_without_changing_the_features():
    g = torch.Generator().manual_seed(0)
    fake = [torch.rand(1, 3, 16, 16, generator=g) * 2 - 1 for _ in range(7)]
    real = [torch.rand(1, 3, 16, 16, generator=g) * 2 - 1 for _ in range(7)]
    scorer = DistributionScorer(ColourStats(), batch_size=3)
    collector = PairCollector(scorer, [("fake_B", "real_B"), ("fake_A", "real_A")], ["fid", "kid"])
    for f, r in zip(fake, real):
        collector.add({"fake_B": f, "real_B": r, "fake_A": r, "real_A": f})
    scores = collector.scores()
    direct = fid_from_features(scorer.features_of_tensors([(torch.cat(real) + 1) / 2]),
                               scorer.features_of_tensors([(torch.cat(fake) + 1) / 2]))
    assert scores["fid"] == pytest.approx(direct, rel=1e-9) and scores["fid_fake_A"] == pytest.approx(direct, rel=1e-9)
    assert scores["extractor"] == "test-colour-stats" and scores["fake_images"] == 7
    assert {"kid", "kid_std", "kid_fake_A", "kid_std_fake_A"} <= set(scores)


def test_pipeline_end_to_end_with_a_random_inception(tmp_path, monkeypatch, capsys):
    """The standard extractor's architecture, randomly initialised (the tests never download its weights):
    the command line, the weights check and the scores behave as with the real file."""
    from gantool.io.weights import sha256_of
    from gantool.metrics import inception

    torch.manual_seed(0)
    net = inception.FIDInceptionV3()
    # Batch-norm statistics measured on random images, so the random network's features do not vanish.
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        net.train()(torch.rand(8, 3, 75, 75))
    weights = tmp_path / "random_inception.pth"
    torch.save(net.state_dict(), weights)
    monkeypatch.setattr(inception, "FID_WEIGHTS_SHA256", sha256_of(str(weights)))
    write_images(tmp_path / "a", 4, size=(40, 40), seed=1)
    write_images(tmp_path / "b", 4, size=(40, 40), seed=1, prefix="copy")
    Image.new("RGB", (40, 40), (250, 10, 10)).save(tmp_path / "red.png")
    for i in range(4):
        Image.new("RGB", (40, 40), (200 + 10 * i, 20, 20)).save(tmp_path / f"red{i}.png")
    out = tmp_path / "s.json"
    args = ["--weights", str(weights), "--gpu_ids", "-1", "--json", str(out)]
    assert cli.eval_main(["fid,kid", str(tmp_path / "a"), str(tmp_path / "b"), *args]) == 0
    same = json.loads(out.read_text())
    assert same["fid"] == pytest.approx(0, abs=1e-6) and same["extractor"] == "inception-v3-pt_inception-2015-12-05"
    assert cli.eval_main(["fid", str(tmp_path / "a"), str(tmp_path / "red?.png"), *args]) == 0
    assert json.loads(out.read_text())["fid"] > 1e-3
    err = capsys.readouterr().out
    assert "biased high" in err and "FID" in err  # 4 images of 2048-d features: said, not a NaN


def test_builtin_extractor_cli_and_mistakes(tmp_path, capsys, cache):
    write_images(tmp_path / "a", 6, size=(32, 32), seed=1)
    write_images(tmp_path / "b", 6, size=(24, 24), seed=2, mode="L")  # grayscale files are read as RGB
    out = tmp_path / "k.json"
    assert cli.eval_main(["kid", str(tmp_path / "a"), str(tmp_path / "b"), "--extractor", "toy_scenes",
                          "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert scores["extractor"].startswith("gantool-toy_scenes") and "fid" not in scores and scores["kid_std"] >= 0
    assert "32x32" in capsys.readouterr().out  # the size difference is noted
    for argv, message in (
        (["fid", str(tmp_path / "a"), str(tmp_path / "nowhere")], "does not exist"),
        (["fidd", str(tmp_path / "a"), str(tmp_path / "b")], "unknown metric 'fidd'"),
        (["fid", str(tmp_path / "a"), str(tmp_path / "b"), "--extractor", "vgg"], "choose from: digits, inception"),
        (["fid", str(tmp_path / "a"), str(tmp_path / "b")], "are not in"),  # no Inception weights, no download
    ):
        assert cli.eval_main(argv) == 2
        assert message in capsys.readouterr().err
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not the weights")
    assert cli.eval_main(["fid", str(tmp_path / "a"), str(tmp_path / "b"), "--weights", str(broken)]) == 2
    assert "is corrupt or not the expected file" in capsys.readouterr().err
    one = tmp_path / "one"
    write_images(one, 1)
    assert cli.eval_main(["fid", str(tmp_path / "a"), str(one), "--extractor", "digits"]) == 2
    assert "at least 2 images" in capsys.readouterr().err
    results = _results_folder(tmp_path / "res")
    for f in os.listdir(results / "images"):
        if "fake" in f:
            os.remove(results / "images" / f)
    assert cli.eval_main(["fid", str(tmp_path / "a"), str(results), "--extractor", "digits"]) == 2
    assert "results folder with no" in capsys.readouterr().err
    assert not (cache / "weights").exists()  # nothing was downloaded


def test_paired_subcommand_is_the_script(tmp_path, capsys):
    results = _results_folder(tmp_path / "r")
    (results / "metrics.json").write_text(json.dumps({"pairs": [["fake_B", "real_B"]]}))
    assert cli.eval_main(["paired", str(results)]) == 0
    assert "fake_B vs real_B" in capsys.readouterr().out and (results / "paired_metrics.csv").is_file()


def test_bench_eval_prints_the_cost_per_1000_images(tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    out = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "bench_eval.py"), "--images", "4", "--size",
                          "32", "--extractors", "digits,toy_scenes", "--threads", "1"], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, PYTHONPATH=REPO))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("4 + 4 images of 32x32, 1 thread(s)")
    assert lines[1].startswith("gantool-digits-v1-") and "s per 1000 images" in lines[1] and "MiB" in lines[1]
    assert lines[2].startswith("gantool-toy_scenes-v1-")
