"""``--use_wandb``: the same as the TensorBoard sink, logged to Weights & Biases.

The run must never fail or stall because the W&B service is out of reach. Without credentials
(``WANDB_API_KEY``, ``WANDB_IDENTITY_TOKEN_FILE`` or a ``.netrc`` entry from ``wandb login``) the run is
offline from the start: online, wandb would stop at a login prompt or fail. Online, ``wandb.init`` gets
:data:`INIT_TIMEOUT` seconds and then the run goes offline instead; at the end, uploads get
:data:`FINISH_TIMEOUT` seconds, and whatever is left stays on disk for ``wandb sync``.
"""

from __future__ import annotations

import netrc
import os
from typing import Callable, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import numpy as np

from .images import pad_to_same_size
from .sinks import LogSink, first_line, plain_options

#: seconds allowed to reach the W&B server at start-up (wandb's own default is 90)
INIT_TIMEOUT = 20.0
#: seconds allowed to finish uploading at the end of training (wandb's default waits for ever)
FINISH_TIMEOUT = 30.0


def has_credentials(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether wandb could log in without asking: an API key or identity token in the environment, or a
    ``.netrc`` entry (``$NETRC``, else ``~/.netrc``) for the W&B host (``$WANDB_BASE_URL``, else api.wandb.ai)."""
    if environ.get("WANDB_API_KEY") or environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").netloc
    path = environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(entry and entry[2])


def choose_mode(environ: Mapping[str, str] = os.environ) -> Tuple[str, Optional[str]]:
    """``(mode, why)``: ``WANDB_MODE`` offline/disabled is obeyed; otherwise online when there are credentials,
    else offline (``why`` says so)."""
    asked = (environ.get("WANDB_MODE") or "").strip().lower()
    if asked in ("offline", "dryrun"):
        return "offline", "WANDB_MODE=" + asked
    if asked == "disabled":
        return "disabled", "WANDB_MODE=disabled"
    if not has_credentials(environ):
        return "offline", "no W&B credentials: set WANDB_API_KEY or run `wandb login`"
    return "online", None


class WandbSink(LogSink):
    """One W&B run per training process start: project ``--wandb_project_name``, run name ``--name``, files in
    ``run_dir/wandb/``. Tags as in TensorBoard (``loss/*``, ``lr/*``, ``val/*``); the visuals are one list of
    captioned images (``visuals``); the options are the run's config.

    Args:
        run_dir: the run folder (``checkpoints/<name>``).
        project: the W&B project.
        name: the run's display name.
        log: prints the one line that says the mode and where the files are.
    """

    name = "wandb"

    def __init__(self, run_dir: str, project: str, name: str, log: Callable[[str], None] = print):
        import wandb

        self.wandb = wandb
        mode, why = choose_mode()
        if mode == "online":
            try:
                self.run = self._init(run_dir, project, name, "online")
            except Exception as e:  # noqa: BLE001 - unreachable, refused, bad key...: log locally instead
                mode, why = "offline", f"W&B did not answer: {type(e).__name__}: {first_line(e)}"
        if mode != "online":
            self.run = self._init(run_dir, project, name, mode)
        files = os.path.dirname(self.run.dir)  # the run's folder: <run_dir>/wandb/<offline-run-...>
        if mode == "online":
            log(f"gantool: W&B run {name} in project {project}: {self.run.url} (local copy in {files})")
        elif mode == "offline":
            log(f"gantool: W&B logs offline to {files} ({why}); upload it later with `wandb sync {files}`")
        else:
            log(f"gantool: W&B logging is disabled ({why})")

    def _init(self, run_dir: str, project: str, name: str, mode: str):
        settings = self.wandb.Settings(
            init_timeout=INIT_TIMEOUT, finish_timeout=FINISH_TIMEOUT,
            silent=True,  # gantool says in one line what matters (mode, where)
            console="off",  # leave stdout alone: the progress bar and the loss printout are ours
        )
        # reinit="create_new": a run the user's own code holds open is neither finished nor written into.
        return self.wandb.init(project=project, name=name, dir=run_dir, mode=mode, reinit="create_new",
                               settings=settings)

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """One history row per step (same-step calls are merged by wandb)."""
        self.run.log(dict(values), step=step)

    def log_images(self, step: int, images: Mapping[str, np.ndarray]) -> None:
        """The visuals as one captioned list, shown side by side in one panel (padded to one size, which W&B's
        panel needs)."""
        padded = pad_to_same_size(list(images.values()))
        self.run.log({"visuals": [self.wandb.Image(im, caption=label) for label, im in zip(images, padded)]},
                     step=step)

    def log_options(self, text: str, values: Mapping[str, object]) -> None:
        """The options as the run's config (searchable and comparable across runs in W&B)."""
        self.run.config.update(plain_options(values), allow_val_change=True)

    def close(self) -> None:
        """Finish the run (uploads bounded by :data:`FINISH_TIMEOUT` online)."""
        self.run.finish()
