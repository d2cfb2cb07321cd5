"""``gantool dashboard-assets`` and ``gantool dashboard``: the visdom server, offline and on loopback.

``gantool dashboard`` is ``python -m visdom.server -bind_local`` without visdom's start-up download:
it refuses to start (one line, saying what to run) instead of crashing when the assets are missing or
tornado answers 403, and it binds to 127.0.0.1 unless asked otherwise, since the dashboard has no login.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
from typing import Callable, List

from ..errors import GantoolError
from ..io.files import ensure_folder
from .assets import DEFAULT_REGISTRY, install_assets, missing_assets, visdom_static_dir

DEFAULT_PORT = 8097
ASSETS_COMMAND = "gantool dashboard-assets"


def start_hint(port: int) -> str:
    """The command that starts a dashboard on ``port`` (used by the visualizer's "no server" line)."""
    return "gantool dashboard" + ("" if port == DEFAULT_PORT else f" --port {port}")


def check_server_ready() -> None:
    """Raise a one-line :class:`GantoolError` if visdom's server cannot serve a working page here."""
    import tornado

    if tornado.version_info >= (6, 6):
        raise GantoolError(f"tornado {tornado.version} answers 403 for visdom's page; pip install 'tornado<6.6'")
    missing = missing_assets()
    if missing:
        raise GantoolError(f"the dashboard's JavaScript/CSS is not installed in {visdom_static_dir()} "
                           f"({len(missing)} file(s) missing, e.g. {missing[0]}); run `{ASSETS_COMMAND}` once "
                           "(it needs the npm registry)")


def make_app(port: int = DEFAULT_PORT, env_path: str = "", readonly: bool = False):
    """visdom's tornado ``Application`` (not yet listening), without tornado's autoreload.

    Args:
        port: the port it will listen on (visdom puts it in its pages).
        env_path: where visdom keeps its environments (default ``~/.visdom``); created.
        readonly: serve existing environments without accepting new data.
    """
    from visdom.server import app as visdom_app
    from visdom.server.defaults import DEFAULT_ENV_PATH

    # visdom forces tornado's debug mode, whose autoreload re-executes the server whenever any imported
    # module file changes (a pip upgrade, an edit in an editable install), dropping every open page.
    # tornado only sets these when they are absent, so naming them here wins.
    visdom_app.tornado_settings.update(autoreload=False, serve_traceback=False, static_hash_cache=True)
    env_path = os.path.abspath(os.path.expanduser(env_path)) if env_path else DEFAULT_ENV_PATH
    ensure_folder(env_path, "--env_path")
    return visdom_app.Application(port=port, base_url="", env_path=env_path, readonly=readonly)


def serve(port: int = DEFAULT_PORT, host: str = "127.0.0.1", env_path: str = "", readonly: bool = False,
          log: Callable[[str], None] = print) -> None:
    """Run the visdom server until interrupted.

    Args:
        port: TCP port (the training option ``--display_port`` must match).
        host: address to bind; 127.0.0.1 keeps the dashboard on this machine, 0.0.0.0 opens it to all.
        env_path, readonly: as for :func:`make_app`.
        log: receives the "listening" line.
    """
    check_server_ready()
    from tornado import ioloop

    # visdom logs at INFO by default (every websocket open and close); keep warnings only.
    logging.basicConfig(level=logging.WARNING)
    # Its page links an optional ../user/style.css that the package does not ship, and tornado logs an
    # ERROR for it on every page load: noise that would hide real errors.
    logging.getLogger("tornado.general").addFilter(lambda record: "user/style.css" not in record.getMessage())
    app = make_app(port, env_path, readonly)
    try:
        app.listen(port, address=host, max_buffer_size=1024**3)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise GantoolError(f"port {port} is in use (a dashboard may already run there: open "
                               f"http://{host}:{port}); choose another with --port") from None
        raise GantoolError(f"cannot listen on {host}:{port} ({err.strerror})") from None
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    log(f"gantool: visdom dashboard at http://{shown}:{port} (environments in {app.env_path}); Ctrl-C stops it")
    ioloop.IOLoop.current().start()


def dashboard_main(argv: List[str], log: Callable[[str], None] = print) -> None:
    """``gantool dashboard [--port P] [--host H] [--env_path DIR] [--readonly]``."""
    parser = argparse.ArgumentParser(prog="gantool dashboard",
                                     description="Start the visdom dashboard that train.py --display_id 1 sends to.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (train.py --display_port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind; 0.0.0.0 opens it to the network")
    parser.add_argument("--env_path", default="", help="folder of saved environments (default ~/.visdom)")
    parser.add_argument("--readonly", action="store_true", help="show saved environments, accept no new data")
    args = parser.parse_args(argv)
    serve(args.port, args.host, args.env_path, args.readonly, log)


def assets_main(argv: List[str], log: Callable[[str], None] = print) -> None:
    """``gantool dashboard-assets [--registry URL]``: the one-time download, from the npm registry."""
    parser = argparse.ArgumentParser(prog="gantool dashboard-assets",
                                     description="Fetch the dashboard's JavaScript, CSS and fonts from npm "
                                                 "packages into the installed visdom package (once).")
    parser.add_argument("--registry", default=None,
                        help=f"npm registry (default $npm_config_registry or {DEFAULT_REGISTRY})")
    parser.add_argument("--force", action="store_true", help="download even if every file is there")
    args = parser.parse_args(argv)
    static_dir = visdom_static_dir()
    if not args.force and not missing_assets(static_dir):
        log(f"gantool: the dashboard files are already in {static_dir}; start it with `gantool dashboard`")
        return
    written = install_assets(static_dir, registry=args.registry, log=log)
    log(f"gantool: wrote {len(written)} dashboard files to {static_dir}; start it with `gantool dashboard`")
