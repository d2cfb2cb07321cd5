"""``checkpoints/<name>/web/index.html``: the training page, updated in O(1) per save.

The classic page was rebuilt from every saved epoch on each save, so a long run paid more per update
as it went. Here the page is written whole once per run (the first save, from the images on disk, so
``--continue_train`` keeps the earlier epochs) and then only *appended to*: one ``<section>`` per new
epoch at the end of the file. The file never closes ``<body>``/``<html>`` (both end tags are optional
in HTML5), so an appended section is a valid last child of ``<body>``; CSS (``column-reverse``) shows
the sections newest first, under a header with the loss curves (``loss.svg``, redrawn at a bounded cost
by :mod:`.loss_plot`). No script and no network: the folder can be opened, moved or zipped offline.
"""

from __future__ import annotations

import html
import os
import re
from typing import Sequence

from ..io.files import append_line, atomic_write
from .html import HTMLPage

SAVED_IMAGE = re.compile(r"^epoch(\d{3,})_(.+)\.png$")

_STYLE = """
body { font-family: sans-serif; margin: 1em; display: flex; flex-direction: column-reverse; }
header { order: 1; }
table { border-collapse: collapse; margin-bottom: 0.5em; }
td { border: 1px solid #bbb; padding: 4px; vertical-align: top; text-align: center; word-wrap: break-word; }
img { display: block; margin: 0 auto; image-rendering: pixelated; }
img.loss { margin: 0; image-rendering: auto; max-width: 100%; }
td p { margin: 0.2em 0; }
"""


def image_name(epoch: int, label: str) -> str:
    """File name of one saved visual, ``epoch003_fake_B.png`` (the classic name)."""
    return f"epoch{epoch:03d}_{label}.png"


class TrainingPage:
    """The training page of one run.

    Args:
        web_dir: ``checkpoints/<name>/web``; images are expected in ``web_dir/images``.
        title: page title, e.g. ``"Experiment name = horse2zebra"``.
        width: displayed image width in pixels (``--display_winsize``).
        refresh: seconds between browser reloads (0: none); 1 lets the page follow the run live.
        loss_image: file name (in ``web_dir``) of the loss plot shown at the top.
    """

    def __init__(self, web_dir: str, title: str, width: int = 256, refresh: int = 1, loss_image: str = "loss.svg"):
        self.web_dir = web_dir
        self.image_dir = os.path.join(web_dir, "images")
        self.path = os.path.join(web_dir, "index.html")
        self.title, self.width, self.refresh, self.loss_image = title, width, refresh, loss_image
        self.last_epoch: int | None = None
        self.plots = [loss_image]  # the plots at the top: the losses, then the validation scores

    def set_plots(self, files: Sequence[str]) -> None:
        """Show these plot files (in ``web_dir``) at the top; the page is rewritten when they change."""
        if list(files) == self.plots:
            return
        self.plots = list(files)
        if self.last_epoch is not None and os.path.isfile(self.path):
            self._rebuild(self.last_epoch, [])

    def add_epoch(self, epoch: int, labels: Sequence[str]) -> None:
        """Show the images ``images/epoch{epoch:03d}_{label}.png`` (already saved) under ``epoch [N]``.

        The first call of a run rewrites the page from the images on disk; later calls append a
        section for a new epoch, and do nothing for the epoch already shown (its files were just
        overwritten in place, the links stay right).
        """
        if self.last_epoch is None or not os.path.isfile(self.path):
            self._rebuild(epoch, labels)
        elif epoch != self.last_epoch:
            append_line(self.path, self._section(epoch, labels))  # one small write: a reader sees all of it or none
        self.last_epoch = epoch

    def _rebuild(self, epoch: int, labels: Sequence[str]) -> None:
        """Write the page with every saved epoch up to ``epoch``.

        Images of later epochs belong to an earlier run of the same name that went further; leaving
        them out keeps this run's page free of duplicates when it reaches those epochs.
        """
        saved: dict[int, list[str]] = {}
        for fname in os.listdir(self.image_dir):
            m = SAVED_IMAGE.match(fname)
            if m and int(m.group(1)) <= epoch:
                saved.setdefault(int(m.group(1)), []).append(m.group(2))
        saved.setdefault(epoch, list(labels))
        order = {label: i for i, label in enumerate(labels)}
        parts = [self._head()]
        for e in sorted(saved):
            parts.append(self._section(e, sorted(saved[e], key=lambda lab: (order.get(lab, len(order)), lab))))
        data = "".join(parts).encode("utf-8")
        atomic_write(self.path, lambda f: f.write(data))

    def _head(self) -> str:
        title = html.escape(self.title)
        refresh = f'<meta http-equiv="refresh" content="{int(self.refresh)}">\n' if self.refresh > 0 else ""
        plots = "".join(f'<img class="loss" src="{html.escape(p)}" alt="{html.escape(os.path.splitext(p)[0])} '
                        f'curves">\n' for p in self.plots)
        return (f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n{refresh}'
                f"<style>{_STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n{plots}</header>\n")

    def _section(self, epoch: int, labels: Sequence[str]) -> str:
        cells = []
        for label in labels:
            href = html.escape(HTMLPage._href(image_name(epoch, label)))
            cells.append(f'<td><a href="{href}"><img style="width:{int(self.width)}px" src="{href}" '
                         f'alt="{html.escape(label)}"></a><p>{html.escape(label)}</p></td>')
        return (f'<section id="epoch{epoch}">\n<h3>epoch [{epoch}]</h3>\n'
                f'<table style="table-layout: fixed;"><tr>{"".join(cells)}</tr></table>\n</section>\n')
