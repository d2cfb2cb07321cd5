"""Measure what one update of the training page costs after 10 and after 500 epochs of entries.

    python scripts/bench_html_page.py [--epochs 10 500] [--updates 20]

For each history length it fills a fresh run folder (4 visuals per epoch, 20 loss points per epoch,
as with --print_freq 50 on 1000 images), then times further updates: one page save
(``display_current_results(save_result=True)``: 4 PNGs plus the page) and one loss point
(``plot_current_losses``: the bounded loss curve and ``loss.svg``). For comparison it also times the
classic full rebuild of the page (every epoch, every image, via dominate) on the same folder.
Runs on the CPU in a temporary folder; prints one table.
"""

import argparse
import os
import re
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gantool.viz import HTMLPage, TrainingVisualizer  # noqa: E402

LABELS = ["real_A", "fake_B", "rec_A", "idt_B"]
POINTS_PER_EPOCH = 20


def visuals(epoch: int) -> dict:
    g = torch.Generator().manual_seed(epoch)
    return {label: torch.rand(1, 3, 64, 64, generator=g) * 2 - 1 for label in LABELS}


def classic_rebuild(web_dir: str) -> None:
    """The page as the classic toolkit (and gantool before) wrote it: everything, every time."""
    saved: dict = {}
    for fname in os.listdir(os.path.join(web_dir, "images")):
        m = re.match(r"^epoch(\d{3,})_(.+)\.png$", fname)
        if m:
            saved.setdefault(int(m.group(1)), []).append(m.group(2))
    page = HTMLPage(web_dir, "Experiment name = bench", refresh=1)
    for epoch in sorted(saved, reverse=True):
        files = [f"epoch{epoch:03d}_{label}.png" for label in sorted(saved[epoch])]
        page.add_header(f"epoch [{epoch}]")
        page.add_images(files, sorted(saved[epoch]), files, width=256)
    page.save("classic.html")


def bench(n_epochs: int, updates: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        v = TrainingVisualizer(tmp, "bench", display_id=0)
        v.plot_current_losses(1, 0.0, {"G_A": 1.0, "D_A": 0.5, "cycle_A": 2.0})
        for epoch in range(1, n_epochs + 1):
            # Filling the history straight into the curve (what plot_current_losses adds) keeps this fast.
            for k in range(1 if epoch == 1 else 0, POINTS_PER_EPOCH):
                v.loss_curve.add(epoch + k / POINTS_PER_EPOCH, [1.0 / epoch, 0.5, 2.0])
            v.display_current_results(visuals(epoch), epoch, save_result=True)
        page_s, plot_s, classic_s, append_s = [], [], [], []
        add_epoch = v.page.add_epoch

        def timed_add_epoch(*a):  # the index.html part of a save, without the PNG encoding
            t0 = time.perf_counter()
            add_epoch(*a)
            append_s.append(time.perf_counter() - t0)

        v.page.add_epoch = timed_add_epoch
        for epoch in range(n_epochs + 1, n_epochs + 1 + updates):
            t = time.perf_counter()
            v.plot_current_losses(epoch, 0.0, {"G_A": 1.0 / epoch, "D_A": 0.5, "cycle_A": 2.0})
            plot_s.append(time.perf_counter() - t)
            images = visuals(epoch)
            t = time.perf_counter()
            v.display_current_results(images, epoch, save_result=True)
            page_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            classic_rebuild(v.web_dir)
            classic_s.append(time.perf_counter() - t)
        return {"page": statistics.median(page_s) * 1e3, "append": statistics.median(append_s) * 1e3,
                "plot": statistics.median(plot_s) * 1e3, "classic": statistics.median(classic_s) * 1e3,
                "size": os.path.getsize(os.path.join(v.web_dir, "index.html")) / 1024,
                "points": len(v.loss_curve.points()[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 500])
    parser.add_argument("--updates", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'epochs':>7} {'page save ms':>13} {'of it index.html ms':>20} {'loss point ms':>14} "
          f"{'classic rebuild ms':>19} {'index.html KiB':>15} {'curve points':>13}")
    for n in args.epochs:
        r = bench(n, args.updates)
        print(f"{n:>7} {r['page']:>13.2f} {r['append']:>20.3f} {r['plot']:>14.2f} {r['classic']:>19.2f} "
              f"{r['size']:>15.1f} {r['points']:>13}")

if __name__ == "__main__":
    main()
