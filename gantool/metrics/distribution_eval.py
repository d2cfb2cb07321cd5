"""FID and KID of image sets: features from an extractor, cached per set, scored by ``distribution.py``.

One code path for every caller: ``gantool eval fid|kid``, ``test.py --metrics fid,kid`` and the
validation during training (``--val_freq``). Every score carries the extractor's name.
"""
import hashlib
import json
import os
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..errors import GantoolError
from .distribution import fid_from_features, kid_from_features
from .extractor_base import FeatureExtractor
from .extractors import load_extractor
from .image_sets import load_batches

#: the scores this module computes, as ``--metrics`` / ``--val_metrics`` name them
DISTRIBUTION_METRICS = ("fid", "kid")
_CACHE_VERSION = 1


def metric_list(text: str, allowed: Sequence[str], hint: str, prefix: str = "") -> List[str]:
    """The metrics of a comma list such as ``"fid,kid"`` (lower case); an empty list or a name outside ``allowed``
    raises ``"<prefix>unknown metric 'x'; <hint>"``."""
    metrics = [m.strip().lower() for m in text.split(",") if m.strip()]
    bad = [m for m in metrics if m not in allowed]
    if bad or not metrics:
        raise GantoolError(f"{prefix}unknown metric {bad[0] if bad else text!r}; {hint}")
    return metrics


def _cache_key(paths: Sequence[str], extractor: str) -> str:
    """A digest of the extractor and every file's path, size and modification time."""
    h = hashlib.sha256(f"gantool-features-v{_CACHE_VERSION}\n{extractor}\n".encode())
    for path in paths:
        st = os.stat(path)
        h.update(f"{os.path.abspath(path)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


class DistributionScorer:
    """Features of image sets and their FID/KID with one extractor.

    Args:
        extractor: an extractor name (``inception``, ``digits``, ``toy_scenes``...) or a loaded
            :class:`FeatureExtractor`.
        device: where the extractor runs.
        weights, download: see :func:`load_extractor`.
        batch_size: images per extractor call.
        cache: keep the features of file sets in ``<cache folder>/features/<digest>.npz`` (keyed by the
            file list with sizes and times, and the extractor), so a second evaluation of the same real
            set reads them instead of running the network.
        log: prints one line for the user (warnings about small sets, cache use).
    """

    def __init__(self, extractor="inception", device: torch.device = torch.device("cpu"),
                 weights: Optional[str] = None, download: bool = False, batch_size: int = 50, cache: bool = True,
                 log: Callable[[str], None] = print):
        if isinstance(extractor, FeatureExtractor):
            self.net = extractor
        else:
            self.net = load_extractor(extractor, device, weights=weights, download=download, log=log)
        self.device, self.batch_size, self.cache, self.log = device, max(1, batch_size), cache, log
        self.seconds = 0.0  # time spent running the extractor (for the cost figures)
        self._warned = False

    def _warn_once(self, message: str) -> None:
        # Validation scores the same small sets every epoch: saying it once is enough.
        if not self._warned:
            self._warned = True
            self.log(f"gantool: note: {message}")

    @property
    def name(self) -> str:
        """The extractor's name, saved with every score."""
        return self.net.name

    def features_of_tensors(self, batches: Iterable[Tensor]) -> np.ndarray:
        """(N, dim) float64 features of batches of (n, C, H, W) images in [0, 1]."""
        parts: List[np.ndarray] = []
        with torch.no_grad():
            for batch in batches:  # (reading files happens here, outside the extractor's time)
                start = time.perf_counter()
                for chunk in batch.split(self.batch_size):
                    parts.append(self.net(chunk.to(self.device, torch.float32)).double().cpu().numpy())
                self.seconds += time.perf_counter() - start
        if not parts:
            return np.zeros((0, self.net.dim))
        return np.concatenate(parts)

    def features_of_files(self, paths: Sequence[str]) -> np.ndarray:
        """(N, dim) features of image files, from the cache when the same files were scored before."""
        if not paths:
            raise GantoolError("no images to score")
        path = None
        if self.cache:
            from ..io.weights import cache_dir

            path = os.path.join(cache_dir(), "features", _cache_key(paths, self.name) + ".npz")
            if os.path.isfile(path):
                try:
                    with np.load(path) as saved:
                        return saved["features"]
                except (OSError, ValueError, KeyError):
                    pass  # a broken cache file is recomputed and replaced
        features = self.features_of_tensors(load_batches(paths, self.batch_size))
        if path is not None:
            self._save(path, features, paths)
        return features

    def _save(self, path: str, features: np.ndarray, paths: Sequence[str]) -> None:
        from ..io.files import atomic_write

        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, lambda f: np.savez(f, features=features, extractor=self.name,
                                                  files=np.array([os.path.abspath(p) for p in paths])))
        except OSError as err:  # a read-only cache only costs time
            self.log(f"gantool: cannot cache the features in {path} ({err.strerror}); they are recomputed next time")

    def scores(self, real: np.ndarray, fake: np.ndarray, metrics: Sequence[str] = DISTRIBUTION_METRICS,
               kid_subsets: int = 100, kid_subset_size: int = 1000) -> Dict[str, object]:
        """FID and/or KID of two feature sets, with the extractor's name and the image counts.

        Returns:
            ``{"fid": float, "kid": float, "kid_std": float, "extractor": str, "real_images": int,
            "fake_images": int}`` (only the metrics asked for).
        """
        unknown = [m for m in metrics if m not in DISTRIBUTION_METRICS]
        if unknown:
            raise GantoolError(f"unknown distribution metric {unknown[0]!r}; choose from {', '.join(DISTRIBUTION_METRICS)}")
        if len(real) < 2 or len(fake) < 2:
            raise GantoolError(f"FID and KID need at least 2 images per set; got {len(real)} real and {len(fake)} "
                               "generated")
        out: Dict[str, object] = {}
        if "fid" in metrics:
            out["fid"] = fid_from_features(real, fake, warn=self._warn_once)
        if "kid" in metrics:
            out["kid"], out["kid_std"] = kid_from_features(real, fake, num_subsets=kid_subsets,
                                                           subset_size=kid_subset_size)
        out.update(extractor=self.name, real_images=len(real), fake_images=len(fake))
        return out


def format_scores(scores: Dict[str, object]) -> str:
    """``FID 12.345, KID 0.0123 ± 0.0010 (extractor inception-v3-..., 500 real / 500 generated images)``."""
    parts = []
    if "fid" in scores:
        parts.append(f"FID {scores['fid']:.3f}")
    if "kid" in scores:
        parts.append(f"KID {scores['kid']:.5f} ± {scores['kid_std']:.5f}")
    return (", ".join(parts) + f" (extractor {scores['extractor']}, {scores['real_images']} real / "
            f"{scores['fake_images']} generated images)")


def save_scores(path: str, scores: Dict[str, object], **extra) -> None:
    """Write ``scores`` (and ``extra`` keys, e.g. the sets compared) as JSON, atomically."""
    from ..io.files import atomic_write_text

    atomic_write_text(path, json.dumps({**extra, **scores}, indent=1))


def to_unit(images: Tensor) -> Tensor:
    """Network images in [-1, 1] -> [0, 1], float32."""
    return ((images.float() + 1) / 2).clamp(0, 1)


class PairCollector:
    """Gathers the features of generated and real images, visual by visual, for FID/KID per pair.

    Images are buffered and sent to the extractor ``scorer.batch_size`` at a time (a size change sends what
    is buffered), so results that come one image at a time cost no more than a batched pass.

    Args:
        scorer: the extractor.
        pairs: (generated visual, real visual) label pairs; the first pair's scores are ``fid``/``kid``, the
            others' ``fid_<generated>``/``kid_<generated>``.
        metrics: ``fid`` and/or ``kid``.
        real: precomputed real features per pair (a folder of target images, a split's images, or the
            features of an earlier validation); such a pair's real visual is not collected.
    """

    def __init__(self, scorer: DistributionScorer, pairs: Sequence[tuple], metrics: Sequence[str],
                 real: Optional[Dict[tuple, np.ndarray]] = None):
        self.scorer, self.pairs, self.metrics = scorer, [tuple(p) for p in pairs], list(metrics)
        self.real: Dict[tuple, np.ndarray] = dict(real or {})
        self._buffers: Dict[tuple, List[Tensor]] = {}
        self._features: Dict[tuple, List[np.ndarray]] = {}

    def add(self, visuals: Dict[str, Tensor]) -> None:
        """Take the pairs' pictures (N, C, H, W in [-1, 1]) from one step's visuals."""
        for pair in self.pairs:
            self._put((pair, "fake"), visuals.get(pair[0]))
            if pair not in self.real:
                self._put((pair, "real"), visuals.get(pair[1]))

    def _put(self, key: tuple, images: Optional[Tensor]) -> None:
        if images is None:
            return
        buffer = self._buffers.setdefault(key, [])
        if buffer and buffer[0].shape[1:] != images.shape[1:]:
            self._flush(key)
            buffer = self._buffers.setdefault(key, [])
        buffer.append(to_unit(images).cpu())
        if sum(b.shape[0] for b in buffer) >= self.scorer.batch_size:
            self._flush(key)

    def _flush(self, key: tuple) -> None:
        buffer = self._buffers.pop(key, [])
        if buffer:
            self._features.setdefault(key, []).append(self.scorer.features_of_tensors([torch.cat(buffer)]))

    def scores(self) -> Dict[str, object]:
        """FID/KID of every pair that got images, with the extractor's name and the image counts of the first."""
        for key in list(self._buffers):
            self._flush(key)
        out: Dict[str, object] = {}
        scored = 0
        for pair in self.pairs:
            fake = self._features.get((pair, "fake"))
            if pair not in self.real and (pair, "real") in self._features:
                self.real[pair] = np.concatenate(self._features[(pair, "real")])
            if not fake or pair not in self.real:
                continue
            scores = self.scorer.scores(self.real[pair], np.concatenate(fake), self.metrics)
            suffix = "" if scored == 0 else f"_{pair[0]}"
            for name, value in scores.items():
                if name in ("fid", "kid", "kid_std"):
                    out[name + suffix] = value
                elif scored == 0:
                    out[name] = value  # extractor, real_images, fake_images
            scored += 1
        self._features = {}
        return out
