"""The one-time dashboard asset step, checked with visdom's own start-up download check, network stubbed.

Nothing here reaches the network: tarballs are built by the test, and every socket connection is
refused (and recorded) while visdom's ``download_scripts`` runs.
"""

import base64
import dataclasses
import hashlib
import io
import os
import socket
import tarfile

import pytest

from gantool import cli
from gantool.errors import GantoolError
from gantool.viz import assets
from gantool.viz.assets import NPM_ASSETS, install_assets, missing_assets


@pytest.fixture
def no_network(monkeypatch):
    """Refuse every outgoing connection and DNS lookup; returns the list of attempts."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network stubbed out by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def _fake_registry():
    """Tarballs with every file the asset table names, and the table re-pinned to their checksums."""
    tarballs, table = {}, []
    for asset in NPM_ASSETS:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for member in sorted(set(asset.files.values())):
                data = f"/* {asset.name}@{asset.version} {member} */".encode()
                info = tarfile.TarInfo(f"package/{member}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        blob = buf.getvalue()
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
        pinned = dataclasses.replace(asset, integrity=integrity)
        tarballs[pinned.tarball_url("https://registry.test")] = blob
        table.append(pinned)
    return tarballs, table


def test_asset_step_then_visdom_finds_nothing_to_download(tmp_path, no_network):
    import requests
    from visdom.server.build import download_scripts

    static = tmp_path / "static"
    # Without the assets, visdom's start-up check goes for the network and crashes (as it does offline).
    with pytest.raises(requests.exceptions.ConnectionError):
        download_scripts(install_dir=str(tmp_path))
    assert no_network, "the stub saw no connection attempt, so it would not prove anything"
    assert "version.built" in missing_assets(str(static))

    tarballs, table = _fake_registry()
    fetched = []
    written = install_assets(str(static), registry="https://registry.test", assets=table,
                             fetch=lambda url: fetched.append(url) or tarballs[url], log=lambda m: None)
    assert sorted(fetched) == sorted(tarballs)  # one tarball per package, from the registry given
    assert len(written) == sum(len(a.files) for a in NPM_ASSETS) == 30
    assert missing_assets(str(static), assets=table) == []
    assert (static / "js" / "react-react.min.js").read_text() == "/* react@16.2.0 umd/react.production.min.js */"
    glyph = static / "fonts" / "glyphicons-halflings-regular.svg#glyphicons_halflingsregular"
    assert glyph.read_text() == "/* bootstrap@3.3.7 dist/fonts/glyphicons-halflings-regular.svg */"
    assert (static / "fonts" / "classnames").read_text() == "/* classnames@2.2.5 index.js */"
    assert (static / "js" / "mathjax" / "2.7.5" / "jax" / "output" / "SVG" / "jax.js").is_file()
    assert (static / "version.built").read_text() == assets.visdom_version()

    no_network.clear()
    download_scripts(install_dir=str(tmp_path))  # visdom's own check: everything is there, no download
    assert no_network == []


def test_asset_step_refuses_changed_tarballs_and_reports_network_errors(tmp_path):
    tarballs, table = _fake_registry()
    bad = [dataclasses.replace(table[0], integrity=NPM_ASSETS[0].integrity)]  # the real pin, a fake file
    with pytest.raises(GantoolError, match=r"jquery@3\.1\.1 .* does not match its pinned checksum"):
        install_assets(str(tmp_path), registry="https://registry.test", assets=bad,
                       fetch=lambda url: tarballs[url], log=lambda m: None)
    assert not (tmp_path / "version.built").exists() and not (tmp_path / "js" / "jquery.min.js").exists()

    def offline(url):
        raise OSError("Network is unreachable")

    with pytest.raises(GantoolError, match=r"cannot download https://registry\.test/jquery/-/jquery-3\.1\.1\.tgz "
                                           r"\(Network is unreachable\).*npm_config_registry"):
        install_assets(str(tmp_path), registry="https://registry.test/", assets=table, fetch=offline,
                       log=lambda m: None)


def test_installed_visdom_starts_offline(no_network):
    """The real visdom package (set up by `gantool dashboard-assets`, as .ci/run does) needs no download."""
    from visdom.server.build import download_scripts

    missing = missing_assets()
    assert missing == [], f"run `gantool dashboard-assets` first; missing: {missing[:5]}"
    download_scripts()
    assert no_network == []
    static = assets.visdom_static_dir()
    with open(os.path.join(static, "js", "jquery.min.js"), encoding="utf-8") as f:
        assert f.read(40).startswith("/*! jQuery v3.1.1")
    with open(os.path.join(static, "js", "mathjax", "2.7.5", "MathJax.js"), encoding="utf-8") as f:
        assert "MathJax" in f.read(2000)


def test_assets_command_when_ready_and_dashboard_command_without_assets(monkeypatch, capsys, no_network):
    assert cli.main(["dashboard-assets"]) == 0  # already installed: says so, downloads nothing
    assert no_network == []
    assert "already in" in capsys.readouterr().out
    from gantool.viz import dashboard

    monkeypatch.setattr(dashboard, "missing_assets", lambda: ["js/jquery.min.js", "version.built"])
    assert cli.main(["dashboard", "--port", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gantool: error: the dashboard's JavaScript/CSS is not installed in ")
    assert err.endswith("(2 file(s) missing, e.g. js/jquery.min.js); run `gantool dashboard-assets` once "
                        "(it needs the npm registry)") and "\n" not in err
    import tornado

    monkeypatch.setattr(tornado, "version_info", (6, 6, 0, 0))
    monkeypatch.setattr(tornado, "version", "6.6")
    assert cli.main(["dashboard"]) == 2
    assert "tornado 6.6 answers 403 for visdom's page; pip install 'tornado<6.6'" in capsys.readouterr().err


def test_dashboard_app_never_restarts_itself(tmp_path):
    """visdom turns tornado's debug mode on; its autoreload would re-execute the server on file edits."""
    from gantool.viz.dashboard import make_app

    app = make_app(port=1, env_path=str(tmp_path / "envs"))
    assert app.settings["debug"] is True  # still forced by visdom ...
    assert app.settings["autoreload"] is False and app.settings["serve_traceback"] is False  # ... but harmless
    assert app.env_path == str(tmp_path / "envs") and (tmp_path / "envs").is_dir()
