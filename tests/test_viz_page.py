"""The training page (``checkpoints/<name>/web/index.html``): appended, not rebuilt; its loss curve."""

import os

import pytest

from gantool.viz import TrainingVisualizer
from test_viz import _parse, _sections, _visuals


def test_training_page_is_appended_not_rewritten(tmp_path):
    """After the first save, each update only appends: earlier bytes are never rewritten."""
    v = TrainingVisualizer(str(tmp_path), "run", display_id=0)
    index = tmp_path / "web" / "index.html"
    v.display_current_results(_visuals(0.0), 1, save_result=True)
    before = index.read_bytes()
    inode = os.stat(index).st_ino
    for epoch in range(2, 6):
        v.plot_current_losses(epoch, 0.5, {"G_A": 1.0 / epoch, "D_A": 0.5})
        v.display_current_results(_visuals(0.0), epoch, save_result=True)
        after = index.read_bytes()
        assert after.startswith(before) and os.stat(index).st_ino == inode
        assert after[len(before):].decode().count("<section") == 1
        before = after
    _, parser = _parse(index)
    assert _sections(parser) == [f"epoch [{e}]" for e in range(1, 6)]


def test_training_page_resume_and_rerun(tmp_path):
    """A new run in the same folder rebuilds once from the images on disk, up to its epoch."""
    first = TrainingVisualizer(str(tmp_path), "run", display_id=0)
    for epoch in (1, 2, 3):
        first.plot_current_losses(epoch, 0.0, {"G": float(epoch)})
        first.display_current_results(_visuals(0.0), epoch, save_result=True)
    resumed = TrainingVisualizer(str(tmp_path), "run", display_id=0, resume=True)  # --continue_train at epoch 3
    resumed.plot_current_losses(3, 0.5, {"G": 3.5})
    resumed.display_current_results(_visuals(0.0), 3, save_result=True)
    resumed.display_current_results(_visuals(0.0), 4, save_result=True)
    _, parser = _parse(tmp_path / "web" / "index.html")
    assert _sections(parser) == ["epoch [1]", "epoch [2]", "epoch [3]", "epoch [4]"]
    assert resumed.loss_curve.points()[0] == [1.0, 2.0, 3.0, 3.5]  # the curve went on from the saved one
    again = TrainingVisualizer(str(tmp_path), "run", display_id=0)  # a fresh run of the same name
    again.plot_current_losses(1, 0.5, {"G": 9.0})
    again.display_current_results(_visuals(0.0), 1, save_result=True)
    again.display_current_results(_visuals(0.0), 2, save_result=True)
    _, parser = _parse(tmp_path / "web" / "index.html")
    assert _sections(parser) == ["epoch [1]", "epoch [2]"]  # the old run's epochs 3 and 4 are not shown
    assert again.loss_curve.points()[0] == [1.5]  # a fresh curve


# ---------------------------------------------------------------- loss curve of the HTML page

def test_loss_curve_stays_bounded_and_keeps_the_mean():
    from gantool.viz.loss_plot import LossCurve

    curve = LossCurve(["a", "b"], cap=64)
    n = 10_000
    for i in range(n):
        curve.add(i / 100, [float(i), None if i % 2 else 1.0])
    xs, ys = curve.points()
    assert len(curve.x) < 64 and curve.stride == 256 and len(xs) <= 64
    assert xs == sorted(xs)
    assert ys[0][0] == pytest.approx(sum(range(256)) / 256)  # the first point averages the first 256 raw
    complete = len(curve.x) * curve.stride
    assert sum(y[0] for y in curve.y) / len(curve.y) == pytest.approx((complete - 1) / 2)
    assert all(y[1] == 1.0 for y in ys)  # gaps (None) are left out of the means, not counted as 0


def test_loss_curve_svg(tmp_path):
    import xml.etree.ElementTree as ET

    from gantool.viz.loss_plot import LossCurve, render_svg

    curve = LossCurve(["G_A", "D <A>", "one"])
    for i in range(5):
        curve.add(1 + i / 5, [1.0 + i, float("nan") if i == 2 else 0.5, 2.0 if i == 0 else None])
    root = ET.fromstring(render_svg(curve, "run loss over time"))
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.get("width") == "640" and root.find("s:title", ns).text == "run loss over time"
    drawn = root.findall(".//*[@class='loss']", ns)
    assert [e.find("s:title", ns).text for e in drawn] == ["G_A", "D <A>", "one"]
    assert drawn[0].get("d").count("M") == 1 and drawn[0].get("d").count("L") == 4
    assert drawn[1].get("d").count("M") == 2  # the NaN breaks the line
    assert drawn[2].tag.endswith("circle")  # a single value is a dot
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "epoch" in texts and "1" in texts and "1.8" in texts
    assert not root.findall(".//s:script", ns)
    empty = ET.fromstring(render_svg(LossCurve([]), "nothing yet"))  # drawn before the first loss
    assert not empty.findall(".//*[@class='loss']", ns)
