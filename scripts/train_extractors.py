"""Train the FID/KID feature extractors that gantool ships (``gantool/metrics/builtin_extractors.py``).

    OMP_NUM_THREADS=2 python scripts/train_extractors.py [digits|toy_scenes|all] [--out gantool/metrics/weights] [--quick]

- ``digits``: the 12000 built-in training digits (``render_digits`` with the train split's seed), moved,
  warped and degraded at random, plus pictures of no digit and blends of two digits, so that the
  classifier is confident about digits only; scored on the 1000 built-in test digits.
- ``toy_scenes``: freshly drawn landscapes (``random_scene`` seeded with strings no built-in dataset uses),
  each rendered by day and by night at 64x64 and flipped left-right at random; several tasks at once:
  day or night, counts of houses, trees, flowers and clouds, the sun's position and size, the sky's tint.
  Scored on held-out scenes.

Training is deterministic (fixed seeds, no data-loader processes: reruns on one machine give the same
bytes) and takes 40 s (digits) and 75 s (toy_scenes) on a free 2-core CPU, up to 4 minutes each when
other jobs share it. The weights are written as float16 state dicts (``<out>/<name>.pth``, atomically, with fixed
archive names so equal weights give equal bytes), reloaded through the extractor's own loader and scored.
Their SHA-256 goes into ``SHIPPED_SHA256`` in ``builtin_extractors.py``. ``--quick`` trains a tiny
configuration in seconds (for tests; not for shipping).
"""
import argparse
import io
import math
import os
import random
import sys
import time
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gantool.data.digits import _SPLIT_SEEDS, N_TEST, N_TRAIN, render_digits  # noqa: E402
from gantool.data.toy_scenes import FLOWERS, TRUNK, random_scene, render  # noqa: E402
from gantool.io.files import atomic_write  # noqa: E402
from gantool.io.weights import sha256_of  # noqa: E402
from gantool.metrics import builtin_extractors as bx  # noqa: E402

CONFIGS = {
    "digits": {"full": dict(n_train=N_TRAIN, n_test=N_TEST, epochs=10, batch=128, lr=4e-3),
               "quick": dict(n_train=400, n_test=100, epochs=1, batch=100, lr=4e-3)},
    "toy_scenes": {"full": dict(n_train=5000, n_test=500, epochs=14, batch=128, lr=3e-3),
                   "quick": dict(n_train=64, n_test=32, epochs=1, batch=64, lr=3e-3)},
}
_SCENE_SEED = "gantool-extractor:toy_scenes:{split}:{index}"  # the built-in dataset uses "toy_day2night:..."
_SUN = ((0.5, 0.76 / math.sqrt(12)), (0.2, 0.2 / math.sqrt(12)), (0.08, 0.04 / math.sqrt(12)))  # (mean, std) x, y, r
_SKY_STD = 37 / math.sqrt(12)  # sky_shift is uniform on -18..18


class _Trainee(torch.nn.Module):
    """The training view of an extractor: its network input -> ``head(features(x))``."""

    def __init__(self, net, head):
        super().__init__()
        self.net, self.head = net, head

    def forward(self, x):
        return self.head(self.net.features(x))


def _save(net: torch.nn.Module, path: str) -> None:
    """Write ``net``'s state dict with floating tensors in float16; equal weights give equal bytes."""
    half = {k: v.half().contiguous() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(half, buffer)  # to a buffer: the archive's inner name does not depend on the temporary file's
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def _fit(net, batches, loss_fn, epochs: int, lr: float, steps_per_epoch: int) -> None:
    """AdamW with a one-cycle schedule; ``batches()`` yields the (input, target) batches of one epoch."""
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)
    net.train().to(memory_format=torch.channels_last)
    for epoch in range(epochs):
        total, count, start = 0.0, 0, time.perf_counter()
        for x, target in batches():
            loss = loss_fn(net(x.contiguous(memory_format=torch.channels_last)), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, count = total + float(loss.detach()) * len(x), count + len(x)
        print(f"  epoch {epoch + 1}/{epochs}: loss {total / count:.4f} ({time.perf_counter() - start:.1f} s)")
    net.eval()


def _augment_digits(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """(N, 1, 28, 28) -> the same pictures shifted (up to 2 px), scaled (0.9 to 1.1), rotated (up to 8 degrees)
    and warped by a smooth random displacement (up to about 1 px)."""
    n = len(x)
    angle = (torch.rand(n, generator=g) * 2 - 1) * math.radians(8)
    scale = 0.9 + 0.2 * torch.rand(n, generator=g)
    shift = (torch.rand(n, 2, generator=g) * 2 - 1) * (2 * 2 / 28)  # grid units: 2 / 28 per pixel
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    warp = F.interpolate(torch.randn(n, 2, 4, 4, generator=g), size=x.shape[-2:], mode="bicubic", align_corners=True)
    grid = grid + warp.permute(0, 2, 3, 1) * (2 / 28) * torch.rand(n, 1, 1, 1, generator=g)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _degrade(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """(N, 1, H, W) in [0, 1] -> the same pictures, each half the time dimmer on a grey background, blurred,
    broken (pixels dropped), speckled and noisy, as GAN samples often are (so the classifier calls them
    digits when their shape is one)."""
    n = len(x)

    def some(values: torch.Tensor) -> torch.Tensor:  # (N,) values, zeroed for a random half
        return (values * (torch.rand(n, generator=g) < 0.5)).view(n, 1, 1, 1)

    def rand(*shape) -> torch.Tensor:
        return torch.rand(shape, generator=g)

    x = x * (1 - some(0.4 * rand(n))) + some(0.15 * rand(n))
    for _ in range(2):  # none, one or two 3x3 box blurs, each of random strength
        blur = some(rand(n))
        x = (1 - blur) * x + blur * F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    x = x * (rand(*x.shape) >= some(0.3 * rand(n))) + (rand(*x.shape) < some(0.04 * rand(n))) * rand(*x.shape)
    return (x + some(0.12 * rand(n)) * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _digit_tensor(start: int, count: int, split: str):
    images, labels = render_digits(start, count, _SPLIT_SEEDS[split])
    return torch.from_numpy(images).float().div(255).unsqueeze(1), torch.from_numpy(labels)  # (N, 1, 28, 28), (N,)


def _non_digits(n: int, g: torch.Generator) -> torch.Tensor:
    """(n, 1, 28, 28) pictures that are no digit, each of one random kind: flat grey with noise, dots
    (8 to 50 % of the pixels), or smooth blobs."""
    level, amount = torch.rand(n, 1, 1, 1, generator=g), torch.rand(n, 1, 1, 1, generator=g)
    flat = (level + amount * (torch.rand(n, 1, 28, 28, generator=g) - 0.5)).clamp(0, 1)
    dots = (torch.rand(n, 1, 28, 28, generator=g) < 0.08 + 0.42 * amount).float()
    coarse = torch.rand(n, 1, int(torch.randint(3, 11, (), generator=g)), int(torch.randint(3, 11, (), generator=g)),
                        generator=g)
    blobs = torch.sigmoid((F.interpolate(coarse, size=(28, 28), mode="bilinear") - 0.5 - 0.3 * level) * 30 * amount)
    kind = torch.randint(0, 3, (n,), generator=g)
    return torch.stack([flat, dots, blobs])[kind, torch.arange(n)]


def _digit_batch(x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
    """A training batch from digits ``x`` (N, 1, 28, 28) and labels ``y`` (N,): (N + N/4, 1, 28, 28) normalised
    inputs and their target class probabilities. So that only digits look like digits to the classifier
    (GAN samples at initialisation must not score as confident), N/8 pictures of no digit (target: 1/10
    for each class) and N/8 blends of two digits (target: the blend's weights) are added; all are then
    moved, scaled, rotated (``_augment_digits``) and degraded (``_degrade``)."""
    k = len(x) // 8
    target = F.one_hot(y, 10).float()
    weight = 0.3 + 0.4 * torch.rand(k, 1, generator=g)
    blends = weight[..., None, None] * x[:k] + (1 - weight[..., None, None]) * x[k:2 * k]
    images = torch.cat([x, _non_digits(k, g), blends])
    target = torch.cat([target, torch.full((k, 10), 0.1), weight * target[:k] + (1 - weight) * target[k:2 * k]])
    return (_degrade(_augment_digits(images, g), g) - bx.DIGITS_MEAN) / bx.DIGITS_STD, target


def train_digits(cfg: dict, path: str) -> Dict[str, float]:
    """Train the ``digits`` classifier on the built-in training digits, save it to ``path`` and score it."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x, y = _digit_tensor(0, cfg["n_train"], "train")
    print(f"digits: {len(x)} training digits drawn; {cfg['epochs']} epochs of batches of {cfg['batch']} "
          f"(+ {cfg['batch'] // 4} non-digits and blends)")
    net = bx.DigitsExtractor()

    def batches():
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - cfg["batch"] + 1, cfg["batch"]):  # full batches only: steady batch norm
            idx = order[i:i + cfg["batch"]]
            yield _digit_batch(x[idx], y[idx], g)

    _fit(_Trainee(net, net.classifier), batches, F.cross_entropy, cfg["epochs"], cfg["lr"], len(x) // cfg["batch"])
    _save(net, path)
    net = bx.digits(weights=path)  # the float16 file, through the extractor's own loader
    test_x, test_y = _digit_tensor(0, cfg["n_test"], "test")
    with torch.no_grad():
        accuracy = float((net.logits(test_x).argmax(1) == test_y).float().mean())
    scores = bx.digit_scores(net, test_x)
    noise = bx.digit_scores(net, torch.rand(test_x.shape, generator=torch.Generator().manual_seed(2)))
    blends = bx.digit_scores(net, (test_x + test_x.roll(1, 0)) / 2)
    noisy = bx.digit_scores(net, (test_x + 0.1 * torch.randn(test_x.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1))
    print(f"digits: test accuracy {accuracy:.2%} on {len(test_x)} built-in test digits; confident: "
          f"{scores['confident']:.1%} of them ({scores['classes_seen']} classes seen, largest "
          f"{scores['largest_class']:.1%}), {noisy['confident']:.1%} of them with noise (std 0.1), "
          f"{noise['confident']:.1%} of uniform noise, {blends['confident']:.1%} of 50/50 blends of two test digits")
    return {"accuracy": accuracy, **scores, "noise_confident": noise["confident"], "blends_confident": blends["confident"]}


def scene_targets(scene: dict) -> List[float]:
    """The toy_scenes tasks' targets read from a ``random_scene`` dict, night excluded, in ``SCENE_TASKS`` order:
    counts of houses (two windows each), trees (one trunk each), flowers and clouds (three puffs each), then
    the sun's (x, y, radius) and the sky's colour shift (r, g, b), standardised."""
    shapes = scene["shapes"]
    houses = sum(role in ("window", "window_off") for _, role, _, _ in shapes) // 2
    trees = sum(kind == "rect" and color == TRUNK for kind, _, _, color in shapes)
    flowers = sum(kind == "ellipse" and role == "solid" and color in FLOWERS for kind, role, _, color in shapes)
    clouds = sum(role == "cloud" for _, role, _, _ in shapes) // 3
    x0, y0, x1, y1 = next(box for _, role, box, _ in shapes if role == "sun")
    sun = [((x0 + x1) / 2 - _SUN[0][0]) / _SUN[0][1], ((y0 + y1) / 2 - _SUN[1][0]) / _SUN[1][1],
           ((x1 - x0) / 2 - _SUN[2][0]) / _SUN[2][1]]
    return [houses, trees, flowers, clouds] + sun + [s / _SKY_STD for s in scene["sky_shift"]]


def _scenes(split: str, count: int):
    """(2 count, 3, 64, 64) images in [0, 1] (each scene by day, then by night), (2 count,) night flags,
    (2 count, 10) ``scene_targets``."""
    images, targets = [], []
    for i in range(count):
        scene = random_scene(random.Random(_SCENE_SEED.format(split=split, index=i)))
        for night in (False, True):
            images.append(np.asarray(render(scene, bx.SCENES_SIZE, night)))
        targets += [scene_targets(scene)] * 2
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255)
    return x, torch.arange(len(x)) % 2, torch.tensor(targets, dtype=torch.float32)


def _scene_loss(out: torch.Tensor, target) -> torch.Tensor:
    """The sum of the tasks' losses: binary cross-entropy (night), cross-entropy (counts), MSE (sun, sky)."""
    night, rest = target
    parts = dict(zip(bx.SCENE_TASKS, out.split(list(bx.SCENE_TASKS.values()), 1)))
    loss = F.binary_cross_entropy_with_logits(parts["night"][:, 0], night.float())
    for k, task in enumerate(("houses", "trees", "flowers", "clouds")):
        loss = loss + F.cross_entropy(parts[task], rest[:, k].long())
    return loss + F.mse_loss(parts["sun"], rest[:, 4:7]) + F.mse_loss(parts["sky"], rest[:, 7:10])


def train_toy_scenes(cfg: dict, path: str) -> Dict[str, float]:
    """Train the ``toy_scenes`` network on fresh scenes by day and night, save it to ``path`` and score it."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    x, night, rest = _scenes("train", cfg["n_train"])
    print(f"toy_scenes: {len(x)} training images ({cfg['n_train']} scenes by day and night) drawn in "
          f"{time.perf_counter() - start:.1f} s; {cfg['epochs']} epochs of batches of {cfg['batch']}")
    net = bx.ToyScenesExtractor()

    def batches():
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - cfg["batch"] + 1, cfg["batch"]):
            idx = order[i:i + cfg["batch"]]
            images, target = x[idx].clone(), rest[idx].clone()
            flip = torch.rand(len(idx), generator=g) < 0.5  # a mirrored scene is a scene, its sun mirrored
            images[flip], target[flip, 4] = images[flip].flip(-1), -target[flip, 4]
            yield images * 2 - 1, (night[idx], target)

    _fit(_Trainee(net, net.head), batches, _scene_loss, cfg["epochs"], cfg["lr"], len(x) // cfg["batch"])
    _save(net, path)
    net = bx.toy_scenes(weights=path)
    test_x, test_night, test_rest = _scenes("test", cfg["n_test"])
    with torch.no_grad():
        out = net.outputs(test_x)
    scores = {"night_accuracy": float(((out["night"][:, 0] > 0) == test_night.bool()).float().mean())}
    for k, task in enumerate(("houses", "trees", "flowers", "clouds")):
        error = (out[task].argmax(1) - test_rest[:, k].long()).abs()
        scores[f"{task}_accuracy"] = float((error == 0).float().mean())
        scores[f"{task}_within_one"] = float((error <= 1).float().mean())
    for task, cols in (("sun", slice(4, 7)), ("sky", slice(7, 10))):
        scores[f"{task}_r2"] = float(1 - (out[task] - test_rest[:, cols]).square().mean() / test_rest[:, cols].var())
    print(f"toy_scenes: on {len(test_x)} held-out images ({cfg['n_test']} scenes by day and night): "
          + ", ".join(f"{k.replace('_', ' ')} {v:.1%}" if "r2" not in k else f"{k.replace('_', ' ')} {v:.3f}"
                      for k, v in scores.items()))
    return scores


TRAINERS = {"digits": train_digits, "toy_scenes": train_toy_scenes}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("which", nargs="?", default="all", choices=["all", *TRAINERS])
    parser.add_argument("--out", default=bx.WEIGHTS_DIR, help="folder for <name>.pth (default: the package's)")
    parser.add_argument("--quick", action="store_true", help="a tiny configuration that runs in seconds (tests)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in TRAINERS if args.which == "all" else [args.which]:
        path = os.path.join(args.out, f"{name}.pth")
        start = time.perf_counter()
        TRAINERS[name](CONFIGS[name]["quick" if args.quick else "full"], path)
        sha = sha256_of(path)
        print(f"{name}: wrote {path} ({os.path.getsize(path) / 1024:.0f} KiB, SHA-256 {sha}) in "
              f"{time.perf_counter() - start:.1f} s")
        if not args.quick and sha != bx.SHIPPED_SHA256[name]:
            print(f"{name}: set SHIPPED_SHA256[{name!r}] = {sha!r} in gantool/metrics/builtin_extractors.py")


if __name__ == "__main__":
    main()
