"""Static HTML result pages (``checkpoints/<name>/web/index.html``, ``results/<name>/test_latest/index.html``).

Same page structure as the classic ``util/html.py`` (headers, rows of linked images with captions),
plus metric tables and free text. Pages use relative links only and carry their own tiny inline style,
so a results folder can be moved, zipped or opened offline.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from ..io.files import atomic_write

# Inline so the page needs nothing from the network (no CDN CSS, no web fonts).
_STYLE = """
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; margin-bottom: 0.5em; }
td, th { border: 1px solid #bbb; padding: 4px; vertical-align: top; text-align: center; }
td { word-wrap: break-word; }
img { display: block; margin: 0 auto; image-rendering: pixelated; }
td p { margin: 0.2em 0; }
"""


class HTMLPage:
    """One HTML page in ``web_dir`` whose images live in ``web_dir/images``.

    Build it with ``add_*`` calls in display order, then :meth:`save`. Nothing is written before
    ``save`` except the two folders.

    Args:
        web_dir: folder of the page; created (with ``images/``) if missing.
        title: the page title.
        refresh: if > 0, the browser reloads the page every ``refresh`` seconds (the training page uses
            1 so it follows the run live).
    """

    def __init__(self, web_dir: str, title: str, refresh: int = 0):
        # dominate is only needed when a page is actually built (DESIGN rule 8).
        import dominate
        from dominate import tags

        self._tags = tags
        self.title = title
        self.web_dir = web_dir
        self.image_dir = os.path.join(web_dir, "images")
        os.makedirs(self.image_dir, exist_ok=True)
        self.doc = dominate.document(title=title)
        with self.doc.head:
            tags.meta(charset="utf-8")
            tags.style(_STYLE)
            if refresh > 0:
                tags.meta(http_equiv="refresh", content=str(refresh))

    def get_image_dir(self) -> str:
        """Return :attr:`image_dir` (the classic ``HTML.get_image_dir`` name)."""
        return self.image_dir

    def add_header(self, text: str) -> None:
        """Add a section header (``<h3>``), e.g. ``"epoch [3]"`` or an image name."""
        with self.doc:
            self._tags.h3(text)

    def add_text(self, text: str) -> None:
        """Add a paragraph of plain text (escaped, so any string is safe)."""
        with self.doc:
            self._tags.p(text)

    @staticmethod
    def _href(name: str) -> str:
        """Relative, URL-quoted link to ``images/<name>`` (labels may contain spaces or ``#``)."""
        return quote(posixpath.join("images", name.replace(os.sep, "/")))

    def add_images(self, ims: Sequence[str], txts: Sequence[str], links: Sequence[str], width: int = 256) -> None:
        """Add one table row of images, each with a caption and a link.

        Args:
            ims: image file names relative to :attr:`image_dir`.
            txts: one caption per image.
            links: what each image links to, relative to :attr:`image_dir` (usually the image itself,
                so a click shows it at full size).
            width: displayed width in pixels.
        """
        if not len(ims) == len(txts) == len(links):
            raise ValueError(f"add_images got {len(ims)} images, {len(txts)} captions and {len(links)} links")
        t = self._tags
        row_table = t.table(style="table-layout: fixed;")
        self.doc.add(row_table)
        with row_table:
            with t.tr():
                for im, txt, link in zip(ims, txts, links):
                    with t.td():
                        with t.a(href=self._href(link)):
                            t.img(style=f"width:{int(width)}px", src=self._href(im), alt=txt)
                        t.p(txt)

    def add_table(self, rows: Sequence[Mapping[str, Any]], float_format: str = "{:.4f}") -> None:
        """Add a table with one row per dict, e.g. per-image metrics ``{"image": "1.png", "L1": 0.05}``.

        Columns are the keys in order of first appearance; a missing key leaves its cell empty.
        Floats use ``float_format``; anything else is shown with ``str``.
        """
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        t = self._tags
        metric_table = t.table(_class="metrics")
        self.doc.add(metric_table)
        with metric_table:
            with t.tr():
                for c in columns:
                    t.th(c)
            for row in rows:
                with t.tr():
                    for c in columns:
                        v = row.get(c, "")
                        t.td(float_format.format(v) if isinstance(v, float) else str(v))

    def render(self) -> str:
        """Return the page as an HTML string."""
        return self.doc.render()

    def save(self, filename: str = "index.html") -> str:
        """Write the page to ``web_dir/filename`` atomically (a refreshing browser never sees half a
        page) and return its path."""
        path = os.path.join(self.web_dir, filename)
        data = self.render().encode("utf-8")
        atomic_write(path, lambda f: f.write(data))
        return path
