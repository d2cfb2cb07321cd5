"""Training visuals: the live visdom dashboard and the static ``checkpoints/<name>/web/index.html`` page.

Visdom is optional and must never break or stall training: it is imported only when
``display_id > 0``, a missing server is reported in one line (naming ``gantool dashboard``, which starts
one offline), every request has a timeout, and any later visdom error turns the dashboard off (one line
again) while training and the HTML page carry on. Each dashboard update sends only what is new (the
latest loss values, the current images), so its cost does not grow with the run either.

The same calls feed the logging sinks (``--use_tensorboard``, ``--use_wandb``: ``sinks.py``), which keep what
they get: losses and learning rates at every loss point, validation scores, and the visuals at the HTML page's
cadence.
"""

from __future__ import annotations

import contextlib
import html as html_escape
import importlib.util
import io
import logging
import math
import os
import socket
import warnings
from typing import Callable, Mapping, Sequence
from urllib.parse import urlparse

import numpy as np
import torch

from .images import make_grid_image, pad_to_same_size, save_image, tensor2im
from .loss_plot import LossCurve, default_paths, write_svg
from .sinks import LogSink, SinkSet
from .training_page import TrainingPage, image_name


def _make_visdom_client(server: str, port: int, env: str, timeout: float):
    """Connect to a visdom server, or raise. Imports visdom (slow-ish, pulls tornado) only here."""
    import visdom

    class _Client(visdom.Visdom):
        # visdom posts without a timeout; a hung server would then hang training on every display.
        def _handle_post(self, url, data=None):
            return self.session.post(url, data=data or {}, timeout=(timeout, 4 * timeout)).text

    # visdom prints tracebacks / "waiting" to stdout and warns through logging/warnings while connecting;
    # keep all of that out of the training log, since we report the outcome in one line ourselves.
    vlog = logging.getLogger("visdom")
    old_level = vlog.level
    vlog.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")  # visdom's own DeprecationWarnings (logger.warn)
            client = _Client(server, port=port, env=env, raise_exceptions=True, use_incoming_socket=False)
            # win_exists round-trip: tells a visdom server from some other program on that port.
            if not client.check_connection(timeout_seconds=0):
                raise ConnectionError("the server did not answer like a visdom server")
    finally:
        vlog.setLevel(old_level)
    return client


class TrainingVisualizer:
    """Shows training progress: images and loss curves in visdom, images in an HTML page, everything in the sinks.

    Args:
        run_dir: the run folder (``checkpoints/<name>``); the page goes to ``run_dir/web``.
        name: run name, used in titles.
        display_id: visdom window id of the loss plot (images use ``display_id + 1``, labels ``+ 2``);
            0 or less turns visdom off without importing it.
        display_server, display_port, display_env: where the visdom server is and which env to use.
        display_ncols: images per dashboard row; 0 or less shows each image in its own window.
        display_winsize: displayed image width in the HTML page.
        use_html: save images and keep ``run_dir/web/index.html`` up to date (``--no_html`` turns it off).
        log: callable taking one string, for the few messages this class emits.
        connect_timeout: seconds allowed to reach the visdom server.
        resume: the run continues an earlier one (``--continue_train``): the HTML page's loss curve goes
            on from the one saved in ``web/loss.json`` instead of starting afresh.
        sinks: further logs (TensorBoard, W&B: ``viz/sinks.py``) that receive the same losses, validation scores
            and visuals, plus the learning rates (see :meth:`follow`); ``close`` flushes them.
    """

    def __init__(
        self,
        run_dir: str,
        name: str,
        display_id: int = 1,
        display_server: str = "http://localhost",
        display_port: int = 8097,
        display_env: str = "main",
        display_ncols: int = 4,
        display_winsize: int = 256,
        use_html: bool = True,
        log: Callable[[str], None] = print,
        connect_timeout: float = 2.0,
        resume: bool = False,
        sinks: Sequence[LogSink] = (),
    ):
        self.run_dir = run_dir
        self.name = name
        self.display_id = display_id
        self.ncols = display_ncols
        self.win_size = display_winsize
        self.use_html = use_html
        self.resume = resume
        self.log = log
        self.web_dir = os.path.join(run_dir, "web")
        self.image_dir = os.path.join(self.web_dir, "images")
        # Same shape as the classic ``plot_data``: X = fractional epochs, Y = one row of losses per X.
        self.loss_history: dict = {"X": [], "Y": [], "legend": []}
        self._saved = False
        self._plot_sent = False  # the visdom loss window holds this run's history: append from now on
        self.loss_curve: LossCurve | None = None  # the HTML page's bounded copy of the history
        self.val_curves: dict[str, LossCurve] = {}  # one curve per validation score (each on its own scale)
        self._val_sent: set[str] = set()
        self.page = TrainingPage(self.web_dir, f"Experiment name = {name}", width=display_winsize)
        if use_html:
            os.makedirs(self.image_dir, exist_ok=True)
        self.sinks = SinkSet(sinks, log)
        self._step: Callable[[], int] = lambda: len(self.loss_history["X"])  # until ``follow`` names the counter
        self._learning_rates: Callable[[], Mapping[str, float]] = dict
        self._sink_images_sent = False
        self.vis = None
        if display_id > 0:
            self.vis = self._connect(display_server, display_port, display_env, connect_timeout)

    def follow(self, step: Callable[[], int], learning_rates: Callable[[], Mapping[str, float]] = dict) -> None:
        """Say where the sinks' step and learning rates come from (the trainer and recipe, wired by ``build.py``).

        Args:
            step: returns the trainer's image counter ``total_iters`` (images of all processes since the run
                began); every sink record is made at this step.
            learning_rates: returns ``name -> lr`` (``lr/<optimizer>``), logged with every loss point.
        """
        self._step, self._learning_rates = step, learning_rates

    def log_options(self, text: str, values: Mapping[str, object]) -> None:
        """Give the sinks the run's options once, at the start: ``text`` is the printout, ``values`` the dict."""
        self.sinks.log_options(text, values)

    def close(self) -> None:
        """Flush and close the sinks (end of training, interruption); the page and visdom need nothing."""
        self.sinks.close()

    @property
    def visdom_on(self) -> bool:
        """Whether the live dashboard is (still) in use."""
        return self.vis is not None

    def _connect(self, server: str, port: int, env: str, timeout: float):
        """Return a visdom client, or None after logging one line saying why the dashboard is off."""
        url = server if "://" in server else "http://" + server
        where = f"{url}:{port}"
        if importlib.util.find_spec("visdom") is None:
            self.log("gantool: the visdom package is not installed, so the live dashboard is off "
                     "(pip install visdom, or pass --display_id 0)")
            return None
        from .dashboard import start_hint

        # `python -m visdom.server` would try the CDNs and crash offline; gantool's command does not.
        no_server = (f"gantool: no visdom server at {where}, so the live dashboard is off "
                     f"(start one with `{start_hint(port)}`, or pass --display_id 0)")
        # A plain TCP probe first: fast when nobody listens, and it spares importing visdom for nothing.
        try:
            socket.create_connection((urlparse(url).hostname or "localhost", port), timeout=timeout).close()
        except OSError:
            self.log(no_server)
            return None
        try:
            return _make_visdom_client(url, port, env, timeout)
        except ImportError as e:
            self.log(f"gantool: cannot import visdom ({e}), so the live dashboard is off (pass --display_id 0)")
        except Exception as e:  # noqa: BLE001 - any failure here only means "no dashboard"
            self.log(f"gantool: the visdom server at {where} did not answer ({type(e).__name__}: {e}), so the "
                     f"live dashboard is off (restart it with `{start_hint(port)}`, or pass --display_id 0)")
        return None

    def _visdom(self, send: Callable[[], object]) -> None:
        """Run one visdom call; on any error, say so once and stop using visdom for this run."""
        if self.vis is None:
            return
        try:
            send()
        except Exception as e:  # noqa: BLE001 - the dashboard is a convenience, training goes on
            self.vis = None
            self.log(f"gantool: visdom failed ({type(e).__name__}: {e}), so the live dashboard is off "
                     "for the rest of this run")

    def display_current_results(self, visuals: Mapping[str, torch.Tensor], epoch: int, save_result: bool) -> None:
        """Show the current visuals in visdom and, when ``save_result``, save them to the HTML page.

        Args:
            visuals: label -> image batch (N, C, H, W) or image (C, H, W) in [-1, 1]; the first image
                of each batch is shown, in insertion order.
            epoch: current epoch; files are ``web/images/epoch{epoch:03d}_{label}.png``.
            save_result: save this call's images and add them to ``web/index.html``. Like the classic,
                the first call of a run is always saved, so the page exists from the start.
        """
        images = {label: tensor2im(t) for label, t in visuals.items()}
        if self.vis is not None:
            self._visdom(lambda: self._send_images(images))
        # The sinks keep every image they get (visdom replaces), so they follow the page's cadence.
        if self.sinks and (save_result or not self._sink_images_sent):
            self._sink_images_sent = True
            self.sinks.log_images(self._step(), images)
        if self.use_html and (save_result or not self._saved):
            self._saved = True
            for label, im in images.items():
                save_image(im, os.path.join(self.image_dir, image_name(epoch, label)))
            if self.loss_curve is None and not os.path.isfile(default_paths(self.web_dir)[0]):
                write_svg(LossCurve([]), self._plot_title(), default_paths(self.web_dir)[0])  # no broken image
            self.page.add_epoch(epoch, list(images))

    def _send_images(self, images: Mapping[str, np.ndarray]) -> None:
        """Classic dashboard: one grid window of all visuals plus a window of their labels."""
        title = self.name
        if self.ncols <= 0:
            for idx, (label, im) in enumerate(images.items(), start=1):
                self.vis.image(im.transpose(2, 0, 1), opts=dict(title=label), win=str(self.display_id + idx))
            return
        ncols = min(self.ncols, len(images))
        arrays = pad_to_same_size(list(images.values()))
        h, w = arrays[0].shape[:2]
        # Blank cells fill the last row of labels, so the label table and the grid line up.
        n_cells = -(-len(arrays) // ncols) * ncols
        labels = [html_escape.escape(label) for label in images] + [""] * (n_cells - len(images))
        rows = "".join("<tr>%s</tr>" % "".join(f"<td>{lab}</td>" for lab in labels[i : i + ncols])
                       for i in range(0, n_cells, ncols))
        css = ("<style>table {border-collapse: separate; border-spacing: 4px; white-space: nowrap; "
               "text-align: center} table td {width: %dpx; height: %dpx; padding: 4px; "
               "outline: 4px solid black}</style>" % (w, h))
        # The grid is composed here, in uint8: visdom's own ``images`` pads with near-black and rescales
        # a batch whose pixels are all <= 1 (a dark image) as if it were floats in [0, 1].
        grid = make_grid_image(arrays, ncols=ncols, padding=2)
        self.vis.image(grid.transpose(2, 0, 1), win=str(self.display_id + 1), opts=dict(title=title + " images"))
        self.vis.text(css + "<table>%s</table>" % rows, win=str(self.display_id + 2),
                      opts=dict(title=title + " labels"))

    def _plot_title(self) -> str:
        return self.name + " loss over time"

    def plot_validation(self, epoch: int, scores: Mapping[str, float]) -> None:
        """Add a validation point per score: ``web/val_<score>.svg`` (shown beside the loss curves at the top
        of the page, one plot per score since FID, KID and PSNR have unlike scales) and, on the dashboard,
        a window per score next to the losses.

        Args:
            epoch: the validated epoch (the x value).
            scores: name -> value (``fid``, ``kid``, ``psnr``...).
        """
        for name, value in scores.items():
            if name not in self.val_curves:
                _, json_path = self._val_paths(name)
                self.val_curves[name] = LossCurve.load(json_path, [name]) if self.resume else LossCurve([name])
            curve = self.val_curves[name]
            curve.add(float(epoch), [float(value)])
            if self.use_html:
                svg_path, json_path = self._val_paths(name)
                write_svg(curve, f"{self.name} validation {name}", svg_path)
                curve.save(json_path)
            if self.vis is not None:
                xs, ys = curve.points() if name not in self._val_sent else ([float(epoch)], [[float(value)]])
                update = "append" if name in self._val_sent else None
                self._visdom(lambda: self.vis.line(X=np.array(xs), Y=np.array([y[0] for y in ys]),
                                                   win=f"{self.display_id}_val_{name}", update=update,
                                                   opts={"title": f"{self.name} validation {name}",
                                                         "xlabel": "epoch", "ylabel": name}))
                self._val_sent.add(name)
        if self.use_html:
            self.page.set_plots(["loss.svg"] + [f"val_{n}.svg" for n in self.val_curves])
        if self.sinks:
            self.sinks.log_scalars(self._step(), {f"val/{n}": float(v) for n, v in scores.items()})

    def _val_paths(self, name: str) -> tuple[str, str]:
        return os.path.join(self.web_dir, f"val_{name}.svg"), os.path.join(self.web_dir, f"val_{name}.json")

    def plot_current_losses(self, epoch: int, counter_ratio: float, losses: Mapping[str, float]) -> None:
        """Record the losses, extend the visdom loss plot (window ``display_id``) and redraw the HTML
        page's ``web/loss.svg``.

        Args:
            epoch: current epoch.
            counter_ratio: progress within the epoch in [0, 1]; the x value is ``epoch + counter_ratio``.
            losses: name -> value (floats or 0-dim tensors). The names of the first call fix the
                legend; a name missing later is plotted as a gap (NaN), new names are ignored.
        """
        hist = self.loss_history
        if not hist["legend"]:
            hist["legend"] = list(losses)
        legend = hist["legend"]
        hist["X"].append(epoch + counter_ratio)
        hist["Y"].append([float(losses[k]) if k in losses else math.nan for k in legend])
        if self.use_html:
            svg_path, json_path = default_paths(self.web_dir)
            if self.loss_curve is None:  # a resumed run continues the curve its last run saved
                self.loss_curve = LossCurve.load(json_path, legend) if self.resume else LossCurve(legend)
            self.loss_curve.add(hist["X"][-1], hist["Y"][-1])
            write_svg(self.loss_curve, self._plot_title(), svg_path)
            self.loss_curve.save(json_path)
        if self.sinks:
            scalars = {f"loss/{k}": float(v) for k, v in losses.items()}
            scalars.update({f"lr/{k}": float(v) for k, v in self._learning_rates().items()})
            self.sinks.log_scalars(self._step(), scalars)
        if self.vis is None:
            return
        opts = {"title": self._plot_title(), "legend": legend, "xlabel": "epoch", "ylabel": "loss"}
        # The first send replaces the window with the whole history; later ones append one row, so
        # an update costs the same at the end of a long run as at its start. String window ids: the
        # server keys windows by string, and its append path would not find an int one.
        rows = hist["Y"] if not self._plot_sent else hist["Y"][-1:]
        x = np.array(hist["X"][-len(rows):])[:, None].repeat(len(legend), 1)
        update = "append" if self._plot_sent else None
        self._visdom(lambda: self.vis.line(X=x, Y=np.array(rows), opts=opts, win=str(self.display_id),
                                           update=update))
        self._plot_sent = self.vis is not None
