"""Running a trained recipe over a test set: result images, an HTML page and paired metrics."""
import json
import math
import os
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from torch.utils.data import DataLoader

from ..io.files import atomic_write_text
from ..metrics.paired import MetricMeter, paired_metrics
from ..models.base import Recipe
from ..viz.depth_files import save_full_depth
from ..viz.html import HTMLPage
from ..viz.images import make_grid_image, save_image, tensor2im
from .eta import DurationEstimate
from .step import StepRunner


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
        batches: the recipe's own input batches (``Recipe.test_batches``) instead of ``dataset``; every
            image of a batch becomes one result.
        precision, channels_last, compile: how steps run (see ``engine/step.py``).
        fixed_size: every test image has one size (``cudnn.benchmark`` on a GPU).
        distribution: gathers the outputs (and the real target images) for FID/KID (``test.py --metrics``);
            None: no distribution metrics.
        depth: the dataset's ``DepthPolicy`` (``gantool.data.depth``): pictures made from 16-bit or float
            inputs are also saved at that depth, ``<stem>_<label>_16bit.png`` (``_float.tif``, ``.npy``...), next
            to the 8-bit previews the page shows. None: previews only.
    """

    def __init__(self, recipe: Recipe, dataset, web_dir: str, title: str, *, num_test: float = float("inf"),
                 aspect_ratio: float = 1.0, width: int = 256, eval_mode: bool = False,
                 log: Callable[[str], None] = print, batches: Optional[Iterable[Mapping]] = None,
                 precision: str = "auto", channels_last: str = "auto", compile: str = "auto",
                 fixed_size: bool = False, distribution=None, depth=None):
        self.recipe, self.dataset, self.web_dir, self.title, self.batches = recipe, dataset, web_dir, title, batches
        self.num_test, self.aspect_ratio, self.width, self.eval_mode, self.log = (
            num_test, aspect_ratio, width, eval_mode, log)
        self.distribution = distribution
        self.depth = depth
        self.full_files: Dict[str, int] = {}  # full-depth files written, by name ending ("_16bit.png": 4)
        full_depth = getattr(dataset, "reads_full_depth", lambda: False)()  # fp32 for 16-bit/float outputs
        self.steps = StepRunner(recipe.device, precision, channels_last, compile, log=log, fixed_size=fixed_size,
                                full_depth=full_depth)
        self.steps.prepare(recipe, training=False)

    def run(self) -> Dict[str, float]:
        """Translate, save and write the page; returns the average paired metrics (empty without truth)."""
        from tqdm import tqdm

        self.recipe.eval() if self.eval_mode else self.recipe.train()
        page = HTMLPage(self.web_dir, self.title)
        meter = MetricMeter()
        rows: List[tuple] = []
        per_image: List[dict] = []
        if self.batches is not None:
            total, loader = int(self.num_test), self.batches
        else:
            total = int(min(len(self.dataset), self.num_test))
            loader = DataLoader(self.dataset, batch_size=1, shuffle=False, num_workers=0)
        grids: Dict[str, list] = {label: [] for label in self.recipe.grid_visuals}
        eta = DurationEstimate.for_test(total, self.log)
        bar = tqdm(loader, total=total if self.batches is None else None, leave=False, disable=None)
        for i, (batch, j, visuals) in enumerate(self._results(bar, total)):
            if i >= total:
                break
            # Results are named after the input file when there is one, else numbered.
            path = batch["A_paths"][j] if "A_paths" in batch else f"{i:04d}"
            for label in grids:
                grids[label].append(tensor2im(visuals[label]))
            sources = {side: batch[f"{side}_paths"][j] for side in "AB" if f"{side}_paths" in batch}
            row, values = self._save_result(page, path, visuals, meter, sources)
            if self.distribution is not None:
                self.distribution.add(visuals)
            rows.append(row)
            per_image.append({"image": os.path.basename(path), **values})
            eta.observe(1)  # a --num_test that will take hours says so after the first images
        grid_files = self._save_grids(page, grids)
        averages, index = self._write_page(page, rows, per_image, grid_files, meter)
        verb = self.recipe.test_verb if self.batches is None else "generated"
        self.log(f"gantool: {verb} {len(rows)} images; results page {index}")
        return averages

    def _save_result(self, page: HTMLPage, path: str, visuals: Dict[str, object], meter: MetricMeter,
                     sources: Optional[Dict[str, str]] = None):
        """Save one result's pictures; returns its page row ``(stem, files, captions)`` and its table values
        (one number per image, such as a class label, and the paired metrics). ``sources``: the input files
        ({"A": path, "B": path}) whose depth the pictures are also saved at."""
        stem = os.path.splitext(os.path.basename(path))[0]
        values = {label: v.reshape(-1)[0].item() for label, v in visuals.items() if v.dim() <= 1}
        names, captions = [], []
        for label, image in visuals.items():
            if label in values:
                continue
            file = f"{stem}_{label}.png"
            save_image(tensor2im(image), os.path.join(page.image_dir, file), self.aspect_ratio)
            self._save_full_depth(page, f"{stem}_{label}", label, image, sources or {})
            names.append(file)
            captions.append(label)
        scores = {}
        for out, truth in self.recipe.metric_pairs:
            if out in visuals and truth in visuals:
                scores = paired_metrics(visuals[out].float(), visuals[truth].float())
                meter.update(scores)
                captions[list(visuals).index(out)] += f" (L1 {scores['l1']:.3f}, PSNR {scores['psnr']:.1f} dB)"
        if values and captions:
            captions[0] += " (" + ", ".join(f"{k} {v}" for k, v in values.items()) + ")"
        return (stem, names, captions), {**values, **scores}

    def _save_full_depth(self, page: HTMLPage, base: str, label: str, image, sources: Dict[str, str]) -> None:
        """``image`` at its input's depth beside its preview (nothing for 8-bit inputs). A picture labelled
        ``*_B`` takes the depth of the batch's B file, the others that of the A file (the input)."""
        source = sources.get("B" if label.endswith("_B") and "B" in sources else "A")
        if self.depth is None or source is None or image.dim() != 4:
            return
        spec = self.depth.output_for(source, image.shape[1])
        if spec is not None:
            save_full_depth(image, os.path.join(page.image_dir, spec.file_name(base)), spec)
            ending = spec.suffix + spec.ext
            self.full_files[ending] = self.full_files.get(ending, 0) + 1

    def _save_grids(self, page: HTMLPage, grids: Dict[str, list]) -> List[str]:
        """Tile each ``grid_visuals`` label's pictures into ``grid_<label>.png``; returns the file names."""
        files = []
        for label, images in grids.items():
            if images:
                files.append(f"grid_{label}.png")
                grid = make_grid_image(images, ncols=math.ceil(math.sqrt(len(images))))
                save_image(grid, os.path.join(page.image_dir, files[-1]))
        return files

    def _write_page(self, page: HTMLPage, rows: List[tuple], per_image: List[dict], grid_files: List[str],
                    meter: MetricMeter) -> Tuple[Dict[str, float], str]:
        """The summary lines, grids, results and table on the page, and ``metrics.json``; returns the averages
        and the page's path."""
        averages = meter.average() if meter.count() else {}
        page.add_header(self.title)
        if averages:
            summary = (f"paired quality against the ground truth on {meter.count()} images: "
                       f"L1 {averages['l1']:.4f}, PSNR {averages['psnr']:.2f} dB")
            page.add_text(summary + " (per image: table at the end)")
            self.log(f"gantool: {summary}")
        scores = self.recipe.test_summary()  # the recipe's own scores over these images (accuracy, mIoU...)
        if scores:
            summary = f"scores on {len(rows)} images: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
            page.add_text(summary + " (per image: table at the end)")
            self.log(f"gantool: {summary}")
            averages = {**averages, **scores}
        distribution = self._distribution_scores(page)
        full_depth = self._full_depth_note(page)
        if grid_files:
            page.add_header(f"all {len(rows)} results")
            page.add_images(grid_files, grid_files, grid_files, width=max(self.width, 512))
        for stem, names, captions in rows:
            page.add_header(stem)
            page.add_images(names, captions, names, width=self.width)
        if averages:
            page.add_header("paired quality per image" if meter.count() else "per image")
            page.add_table(per_image)
        index = page.save()
        atomic_write_text(os.path.join(self.web_dir, "metrics.json"),
                          json.dumps({"images": len(rows), "average": averages, "per_image": per_image,
                                      # which visual was scored against which: scripts/eval_paired.py reads it
                                      "pairs": [list(p) for p in self.recipe.metric_pairs],
                                      "distribution_pairs": [list(p) for p in self.recipe.distribution_pairs],
                                      **({"distribution": distribution} if distribution else {}),
                                      **({"full_depth": full_depth} if full_depth else {})}, indent=1))
        return {**averages, **{k: v for k, v in distribution.items() if isinstance(v, float)}}, index

    def _full_depth_note(self, page: HTMLPage) -> Dict[str, object]:
        """A line on the page naming the full-depth files; what ``metrics.json`` records of them (the value
        range ``gantool eval paired`` reads float files with)."""
        if not self.full_files:
            return {}
        value_range = self.depth.value_range
        kinds = ", ".join(f"{n} <stem>_<label>{ending}" for ending, n in sorted(self.full_files.items()))
        note = f"the pictures are previews at 8 bits; at the inputs' depth they are beside them in images/: {kinds}"
        if value_range is not None:
            note += f"; float values {value_range.lo:g}..{value_range.hi:g} ({value_range.source})"
        page.add_text(note)
        self.log(f"gantool: {note}")
        return {"files": dict(sorted(self.full_files.items())), "bit_depth": self.depth.bit_depth,
                "value_range": None if value_range is None else [value_range.lo, value_range.hi]}

    def _distribution_scores(self, page: HTMLPage) -> Dict[str, object]:
        """FID/KID of the outputs against the real target images (``--metrics``), on the page and in the log."""
        if self.distribution is None:
            return {}
        from ..metrics.distribution_eval import format_scores

        scores = self.distribution.scores()
        if not scores:
            self.log("gantool: --metrics: no output had real target images to compare with; pass --metrics_real")
            return {}
        summary = "distribution against the real target images: " + format_scores(scores)
        page.add_text(summary)
        self.log(f"gantool: {summary}")
        return scores

    def _results(self, loader: Iterable[Mapping], total: int) -> Iterator[tuple]:
        """Run ``test_step`` on every batch and yield ``(batch, j, visuals of image j as a batch of one)``;
        no batch past the first ``total`` images is run (it would enter the recipe's ``test_summary``)."""
        count = 0
        for batch in loader:
            if count >= total:
                return
            visuals = self.steps.test_step(self.recipe, batch)
            # bf16/fp16 outputs of autocast become float32 for metrics and image files
            visuals = {k: v.float() if v.is_floating_point() else v for k, v in visuals.items()}
            for j in range(next(iter(visuals.values())).shape[0]):
                yield batch, j, {label: v[j:j + 1] for label, v in visuals.items()}
                count += 1
