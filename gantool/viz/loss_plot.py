"""Loss curves for the HTML training page: a bounded-size history and a plain SVG drawing of it.

The page must stay cheap to update however long a run is, so the history never holds more than
``cap`` points per loss: when it fills up, neighbouring points are averaged in pairs and later points
arrive already averaged over the same number of raw values (amortised O(1) per point, O(cap) to draw).
The drawing is a standalone SVG file without scripts or fonts to fetch, so the page works offline.
"""

from __future__ import annotations

import html
import json
import math
import os
from typing import Optional, Sequence

from ..io.files import atomic_write

# Matplotlib's "tab10": distinct, and familiar from the classic toolkit's plots.
_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


class LossCurve:
    """Losses against fractional epoch, at most ``cap`` points per loss.

    Args:
        legend: loss names, in plotting order.
        cap: most points kept (even, at least 2); each kept point averages ``stride`` raw points. The
            default, 512, is about one point per pixel of the drawing's plot area: more would not show.
    """

    def __init__(self, legend: Sequence[str], cap: int = 512):
        self.legend = list(legend)
        self.cap = max(2, cap - cap % 2)
        self.stride = 1
        self.x: list[float] = []
        self.y: list[list[Optional[float]]] = []
        self._pending: list[tuple[float, list[Optional[float]]]] = []

    def add(self, x: float, values: Sequence[Optional[float]]) -> None:
        """Add one point (one value per legend entry; None or NaN for a gap).

        A point at or before the last one means the run restarted or resumed from an earlier checkpoint:
        the points from ``x`` on are dropped, so the curve shows this run's history only once.
        """
        last = self._pending[-1][0] if self._pending else (self.x[-1] if self.x else -math.inf)
        if x <= last:
            self._pending = [p for p in self._pending if p[0] < x]
            keep = sum(1 for v in self.x if v < x)
            del self.x[keep:], self.y[keep:]
        self._pending.append((x, [None if v is None or not math.isfinite(v) else float(v) for v in values]))
        if len(self._pending) < self.stride:
            return
        self.x.append(_mean([p[0] for p in self._pending]))
        self.y.append([_mean(col) for col in zip(*(p[1] for p in self._pending))])
        self._pending = []
        if len(self.x) >= self.cap:
            self.x = [_mean(self.x[i : i + 2]) for i in range(0, len(self.x), 2)]
            self.y = [[_mean(c) for c in zip(a, b)] for a, b in zip(self.y[0::2], self.y[1::2])]
            self.stride *= 2

    def points(self) -> tuple[list[float], list[list[Optional[float]]]]:
        """All points to draw: the kept ones plus the average of the not yet complete last group."""
        x, y = list(self.x), list(self.y)
        if self._pending:
            x.append(_mean([p[0] for p in self._pending]))
            y.append([_mean(col) for col in zip(*(p[1] for p in self._pending))])
        return x, y

    # ------------------------------------------------------------ persistence (resume keeps the curve)
    def save(self, path: str) -> None:
        """Write the curve as JSON (atomic), so a resumed run continues it."""
        data = json.dumps({"legend": self.legend, "cap": self.cap, "stride": self.stride, "x": self.x,
                           "y": self.y, "pending": self._pending}).encode()
        atomic_write(path, lambda f: f.write(data))

    @classmethod
    def load(cls, path: str, legend: Sequence[str]) -> "LossCurve":
        """The curve saved at ``path`` if it has this legend, else a new empty one (a damaged or foreign
        file is not worth stopping training for)."""
        curve = cls(legend)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            if data["legend"] == curve.legend:
                curve.cap, curve.stride, curve.x, curve.y = data["cap"], data["stride"], data["x"], data["y"]
                curve._pending = [(p[0], p[1]) for p in data["pending"]]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return curve


def _step(lo: float, hi: float, n: int = 5) -> float:
    """A round tick spacing (1, 2 or 5 times a power of ten) giving about ``n`` ticks on [lo, hi]."""
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def _ticks(lo: float, hi: float) -> list[float]:
    """Round tick values inside [lo, hi]."""
    step = _step(lo, hi)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _label(v: float) -> str:
    return f"{v:.4g}"


def render_svg(curve: LossCurve, title: str, width: int = 640, height: int = 300) -> str:
    """Draw ``curve`` as a standalone SVG document: one line per loss, axes with ticks, a legend."""
    xs, ys = curve.points()
    left, right, top, bottom = 56, 120, 28, 36
    pw, ph = width - left - right, height - top - bottom
    finite = [v for row in ys for v in row if v is not None]
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    y0, y1 = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if x1 - x0 < 1e-9:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.5, y1 + 0.5
    step = _step(y0, y1)  # widen the loss axis to round ticks, so its ends are labelled
    y0, y1 = math.floor(y0 / step + 1e-9) * step, math.ceil(y1 / step - 1e-9) * step

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f"<title>{html.escape(title)}</title>",
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + pw / 2:.1f}" y="16" text-anchor="middle" font-size="13">{html.escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for t in _ticks(y0, y1):
        out.append(f'<line x1="{left - 4}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{_label(t)}</text>')
    for t in _ticks(x0, x1):
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="#888"/>'
                   f'<text x="{px(t):.1f}" y="{top + ph + 16}" text-anchor="middle">{_label(t)}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 4}" text-anchor="middle">epoch</text>')
    for k, name in enumerate(curve.legend):
        color = _COLORS[k % len(_COLORS)]
        # A gap (None) starts a new subpath, so a missing value breaks the line instead of bridging it.
        pts = [None if row[k] is None else (px(x), py(row[k])) for x, row in zip(xs, ys)]
        d = " ".join(("L" if i and pts[i - 1] else "M") + f"{p[0]:.1f} {p[1]:.1f}" for i, p in enumerate(pts) if p)
        drawn = [p for p in pts if p]
        if len(drawn) == 1:  # a path of one point draws nothing: show a dot
            out.append(f'<circle class="loss" cx="{drawn[0][0]:.1f}" cy="{drawn[0][1]:.1f}" r="2.5" '
                       f'fill="{color}"><title>{html.escape(name)}</title></circle>')
        elif drawn:
            out.append(f'<path class="loss" d="{d}" fill="none" stroke="{color}" stroke-width="1.5">'
                       f"<title>{html.escape(name)}</title></path>")
        ly = top + 12 + 16 * k
        out.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 30}" y1="{ly - 4}" y2="{ly - 4}" '
                   f'stroke="{color}" stroke-width="3"/><text x="{left + pw + 36}" y="{ly}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def write_svg(curve: LossCurve, title: str, path: str) -> None:
    """Draw ``curve`` into ``path`` atomically (a refreshing browser never sees half a drawing)."""
    data = render_svg(curve, title).encode("utf-8")
    atomic_write(path, lambda f: f.write(data))


def default_paths(web_dir: str) -> tuple[str, str]:
    """``(web/loss.svg, web/loss.json)``."""
    return os.path.join(web_dir, "loss.svg"), os.path.join(web_dir, "loss.json")
