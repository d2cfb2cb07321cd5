"""paired_metrics and MetricMeter against hand computations."""
import math

import pytest
import torch

from gantool.metrics.paired import PSNR_CAP, MetricMeter, paired_metrics


def test_constant_images():
    pred = torch.zeros(3, 4, 4)  # 0.5 on the [0, 1] scale
    target = torch.ones(3, 4, 4)  # 1.0
    m = paired_metrics(pred, target)
    assert m["l1"] == pytest.approx(0.5)
    assert m["psnr"] == pytest.approx(10 * math.log10(1 / 0.25))  # 6.0206 dB


def test_batch_is_mean_of_per_image_values():
    target = torch.full((2, 1, 2, 2), -1.0)  # black
    # 0.1 and 0.2 off on the [0, 1] scale
    pred = torch.stack([torch.full((1, 2, 2), -0.8), torch.full((1, 2, 2), -0.6)])
    m = paired_metrics(pred, target)
    assert m["l1"] == pytest.approx(0.15)
    assert m["psnr"] == pytest.approx((20.0 + 10 * math.log10(25)) / 2)  # 20 dB and 13.98 dB


def test_mixed_pixels_and_clamping():
    target = torch.tensor([[[-1.0, 1.0]]])  # [0, 1]
    pred = torch.tensor([[[-1.5, 0.0]]])  # clamped to 0, then 0.5
    m = paired_metrics(pred, target)
    assert m["l1"] == pytest.approx(0.25)
    assert m["psnr"] == pytest.approx(10 * math.log10(1 / 0.125))


def test_identical_images_are_capped_and_shapes_checked():
    x = torch.rand(2, 3, 5, 5) * 2 - 1
    assert paired_metrics(x, x) == {"l1": 0.0, "psnr": PSNR_CAP}
    with pytest.raises(ValueError, match="differ in shape"):
        paired_metrics(x, x[:1])


def test_meter_weights_by_count():
    meter = MetricMeter()
    meter.update({"l1": 0.1, "psnr": 20.0}, n=3)
    meter.update({"l1": 0.5, "psnr": 10.0}, n=1)
    assert meter.average() == pytest.approx({"l1": 0.2, "psnr": 17.5})
    assert meter.count() == 4
    assert str(meter) == "l1 0.2000, psnr 17.5000"
    assert MetricMeter().average() == {}
