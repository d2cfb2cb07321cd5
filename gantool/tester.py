"""Running a trained recipe over a test set: result images, an HTML page and paired metrics."""
import json
import os
from typing import Callable, Dict, List

import torch
from torch.utils.data import DataLoader

from .checkpoint import atomic_write_text
from .metrics import MetricMeter, paired_metrics
from .models.base import Recipe
from .viz.html import HTMLPage
from .viz.images import save_image, tensor2im


class Tester:
    """Translates ``dataset`` with ``recipe`` and writes ``<results_dir>/<name>/<phase>_<epoch>/``.

    Args:
        recipe: a recipe whose networks are loaded already.
        dataset: yields batches of one image with 'A' (and 'B', 'truth' where the mode has them).
        web_dir: the output folder (``index.html`` plus ``images/``).
        title: the page title.
        num_test: at most this many images (``inf``: all).
        aspect_ratio: saved images are stretched by this ratio (classic ``--aspect_ratio``).
        width: image width on the page (``--display_winsize``).
        eval_mode: networks in eval mode (``--eval``); otherwise train mode, as the classic test.py.
    """

    def __init__(self, recipe: Recipe, dataset, web_dir: str, title: str, *, num_test: float = float("inf"),
                 aspect_ratio: float = 1.0, width: int = 256, eval_mode: bool = False,
                 log: Callable[[str], None] = print):
        self.recipe, self.dataset, self.web_dir, self.title = recipe, dataset, web_dir, title
        self.num_test, self.aspect_ratio, self.width, self.eval_mode, self.log = (
            num_test, aspect_ratio, width, eval_mode, log)

    def run(self) -> Dict[str, float]:
        """Translate, save and write the page; returns the average paired metrics (empty without truth)."""
        from tqdm import tqdm

        self.recipe.eval() if self.eval_mode else self.recipe.train()
        page = HTMLPage(self.web_dir, self.title)
        meter = MetricMeter()
        rows: List[tuple] = []
        per_image: List[dict] = []
        total = int(min(len(self.dataset), self.num_test))
        loader = DataLoader(self.dataset, batch_size=1, shuffle=False, num_workers=0)
        for i, batch in enumerate(tqdm(loader, total=total, unit="img", leave=False, disable=None)):
            if i >= total:
                break
            visuals = self.recipe.test_step(self.recipe.to_device(batch))
            # Results are named after the input file when there is one, else numbered.
            path = batch["A_paths"][0] if "A_paths" in batch else f"{i:04d}"
            stem = os.path.splitext(os.path.basename(path))[0]
            names, captions = [], []
            for label, image in visuals.items():
                file = f"{stem}_{label}.png"
                save_image(tensor2im(image), os.path.join(page.image_dir, file), self.aspect_ratio)
                names.append(file)
                captions.append(label)
            scores = {}
            for out, truth in self.recipe.metric_pairs:
                if out in visuals and truth in visuals:
                    scores = paired_metrics(visuals[out].float(), visuals[truth].float())
                    meter.update(scores)
                    captions[list(visuals).index(out)] += f" (L1 {scores['l1']:.3f}, PSNR {scores['psnr']:.1f} dB)"
            rows.append((stem, names, captions))
            per_image.append({"image": os.path.basename(path), **scores})
        averages = meter.average() if meter.count() else {}
        page.add_header(self.title)
        if averages:
            summary = (f"paired quality against the ground truth on {meter.count()} images: "
                       f"L1 {averages['l1']:.4f}, PSNR {averages['psnr']:.2f} dB")
            page.add_text(summary + " (per image: table at the end)")
            self.log(f"gantool: {summary}")
        for stem, names, captions in rows:
            page.add_header(stem)
            page.add_images(names, captions, names, width=self.width)
        if averages:
            page.add_header("paired quality per image")
            page.add_table(per_image)
        index = page.save()
        atomic_write_text(os.path.join(self.web_dir, "metrics.json"),
                          json.dumps({"images": len(rows), "average": averages, "per_image": per_image}, indent=1))
        self.log(f"gantool: translated {len(rows)} images; results page {index}")
        return averages
