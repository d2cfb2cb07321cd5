"""The visdom dashboard's JavaScript, CSS and fonts, taken once from the npm registry.

visdom 0.2.4 downloads these files from several CDNs every time its server starts until
``static/version.built`` names its version, and crashes without internet (its MathJax download is
unguarded). Every file is published in an npm package, so ``gantool dashboard-assets`` fetches those
packages' tarballs (one registry, mirrors welcome), checks them against the pinned checksums below and
writes each file under the name visdom's page asks for. Afterwards visdom's own check finds nothing to
download, so both ``gantool dashboard`` and ``python -m visdom.server`` start offline.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

from ..errors import GantoolError
from ..io.files import atomic_write

DEFAULT_REGISTRY = "https://registry.npmjs.org"
_MATHJAX_FILES = ["MathJax.js", "config/Safe.js", "config/TeX-AMS-MML_HTMLorMML.js", "extensions/Safe.js",
                  "jax/output/SVG/config.js", "jax/output/SVG/jax.js", "jax/output/SVG/fonts/TeX/fontdata.js",
                  "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js"]
_GLYPHS = "fonts/glyphicons-halflings-regular"


@dataclass(frozen=True)
class NpmAsset:
    """One npm package and the files visdom needs from it.

    Args:
        name, version: the package.
        integrity: the registry's ``dist.integrity`` (``sha512-<base64>``); pinned, so a changed or
            corrupted tarball is refused rather than served to the browser.
        files: destination under visdom's ``static/`` -> path inside the tarball (without ``package/``).
    """

    name: str
    version: str
    integrity: str
    files: Mapping[str, str]

    def tarball_url(self, registry: str) -> str:
        """The registry's tarball address, ``<registry>/<name>/-/<name>-<version>.tgz``."""
        return f"{registry.rstrip('/')}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


NPM_ASSETS = [
    NpmAsset("jquery", "3.1.1",
             "sha512-zuiWRmx65Kd1oFGdWLvAjbsumdOBFvs3r1vuqCyKFF79R7exBHNbiNEJ8LR+xkzgfxqBznMD/4Cv6PHXS6mvEw==",
             {"js/jquery.min.js": "dist/jquery.min.js"}),
    NpmAsset("bootstrap", "3.3.7",
             "sha512-qcFaisBrcBhTFkz1IUnGDYnX6ZWfFzH8zOixUDtHW9Ip+r+7MfMFav2rzy7cIHc7rgIg7xjhWBoo1mS/U26j4g==",
             {"js/bootstrap.min.js": "dist/js/bootstrap.min.js", "css/bootstrap.min.css": "dist/css/bootstrap.min.css",
              **{f"{_GLYPHS}.{ext}": f"dist/{_GLYPHS}.{ext}" for ext in ("eot", "woff2", "woff", "ttf", "svg")},
              # visdom's download list keeps the URL fragment in the file name.
              f"{_GLYPHS}.svg#glyphicons_halflingsregular": f"dist/{_GLYPHS}.svg"}),
    NpmAsset("react", "16.2.0",
             "sha512-ZmIomM7EE1DvPEnSFAHZn9Vs9zJl5A9H7el0EGTE6ZbW9FKe/14IYAlPbC8iH25YarEQxZL+E8VW7Mi7kfQrDQ==",
             {"js/react-react.min.js": "umd/react.production.min.js"}),
    NpmAsset("react-dom", "16.2.0",
             "sha512-zpGAdwHVn9K0091d+hr+R0qrjoJ84cIBFL2uU60KvWBPfZ7LPSrfqviTxGHWN0sjPZb2hxWzMexwrvJdKePvjg==",
             {"js/react-dom.min.js": "umd/react-dom.production.min.js"}),
    NpmAsset("react-modal", "3.1.10",
             "sha512-7b77AGWCkdg0YOf/qcYIGCpuwbxRwOA8P3UrUovk4grUNv+idOmHovJAx/Dcd3fuwHtgixxVjpcjVG60985MSA==",
             {"js/react-modal.min.js": "dist/react-modal.min.js"}),
    NpmAsset("plotly.js-dist-min", "2.11.1",
             "sha512-F9WWNht0D3yBLZGHbLoJNfvplXvy+GUPSsA/lCbMuYd/UwzSu6Vmyprxlps9Einw1LDS1hYBrJeioK0lE3ieXA==",
             {"js/plotly-plotly.min.js": "plotly.min.js"}),
    NpmAsset("sjcl", "1.0.7",
             "sha512-xQbiwKfiAj6vyk44ANJ5RRymALRdRZOuRoKNYkWUU404p/RFXmMaay1Z5vRn30GJjkD+psox4Jd38jZojSuNYA==",
             {"js/sjcl.js": "sjcl.js"}),
    NpmAsset("layout-bin-packer", "1.4.0",
             "sha512-dQOZnajbOBGIcS9YlzKrkRtMCGa2oEpyf1zGRn93suphSvPclJe54Sbgtb053GJ21DUk84IBzaeQvjn+Gb10fA==",
             {"js/layout_bin_packer.js": "dist/layout-bin-packer.js",
              "js/layout-bin-packer.js.map": "dist/layout-bin-packer.js.map"}),
    NpmAsset("d3", "3.5.17",
             "sha512-yFk/2idb8OHPKkbAL8QaOaqENNoMhIaSHZerk3oQsECwkObkCpJyjYwCe+OHiq6UEdhe1m8ZGARRRO3ljFjlKg==",
             {"js/d3.v3.min.js": "d3.min.js"}),
    NpmAsset("d3-selection-multi", "1.0.1",
             "sha512-mEnRkJ6A+Otd1LuRPV3az+s/RLDmIEhuz/MnT21O2nPcWNH7wZotdIlRjMA4Wpr+n7AESQ5fD8v1J3nL2Mnw9g==",
             {"js/d3-selection-multi.v1.js": "build/d3-selection-multi.js"}),
    NpmAsset("save-svg-as-png", "1.4.17",
             "sha512-7QDaqJsVhdFPwviCxkgHiGm9omeaMBe1VKbHySWU6oFB2LtnGCcYS13eVoslUgq6VZC6Tjq/HddBd1K6p2PGpA==",
             {"js/saveSvgAsPng.js": "lib/saveSvgAsPng.js"}),
    NpmAsset("react-resizable", "1.4.6",
             "sha512-4zLORO51u0/mlDsrVCAA4p266d+3mb2ZMNdiWOotAh/PdnfrRzZhgePmKE08PSQatXVIfMjmyD+Sapay8tmxdQ==",
             {"css/react-resizable-styles.css": "css/styles.css"}),
    NpmAsset("react-grid-layout", "0.16.3",
             "sha512-ytP92EqUjqcFhGzvdeKrK610dQ04GdFwRCWtD6PoeL5wR3liETcFISO7k8RBqnosV86JtXf/DwIfrL0COLs0gg==",
             {"css/react-grid-layout-styles.css": "css/styles.css"}),
    # visdom saves the package's main file (what the CDN serves for the bare package) as fonts/classnames.
    NpmAsset("classnames", "2.2.5",
             "sha512-DTt3GhOUDKhh4ONwIJW4lmhyotQmV2LjNlGK/J2hkwUcqcbKkCLAdJPtxQnxnlc7SR3f1CEXCyMmc7WLUsWbNA==",
             {"fonts/classnames": "index.js"}),
    NpmAsset("mathjax", "2.7.5",
             "sha512-OzsJNitEHAJB3y4IIlPCAvS0yoXwYjlo2Y4kmm9KQzyIBZt2d8yKRalby3uTRNN4fZQiGL2iMXjpdP1u2Rq2DQ==",
             {f"js/mathjax/2.7.5/{f}": f for f in _MATHJAX_FILES}),
]


def _visdom_dir() -> str:
    import importlib.util

    spec = importlib.util.find_spec("visdom")
    if spec is None or not spec.submodule_search_locations:
        raise GantoolError("the visdom package is not installed (pip install visdom)")
    return list(spec.submodule_search_locations)[0]


def visdom_static_dir() -> str:
    """The ``static`` folder of the installed visdom package (where its server serves files from)."""
    return os.path.join(_visdom_dir(), "static")


def visdom_version() -> str:
    """``visdom.__version__`` of the installed package, read as visdom does but without importing it."""
    try:
        with open(os.path.join(_visdom_dir(), "VERSION"), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return "no_version_file"


def missing_assets(static_dir: Optional[str] = None, assets=NPM_ASSETS) -> list[str]:
    """Files (relative to ``static/``) that visdom would try to download at start; empty when ready.

    ``version.built`` is listed when it is absent or names another visdom version, since visdom then
    downloads everything again.
    """
    static_dir = static_dir or visdom_static_dir()
    missing = [dest for a in assets for dest in a.files if not os.path.isfile(os.path.join(static_dir, dest))]
    built = os.path.join(static_dir, "version.built")
    try:
        with open(built, encoding="utf-8") as f:
            if f.read().strip() != visdom_version():
                missing.append("version.built")
    except OSError:
        missing.append("version.built")
    return missing


def _download(url: str, timeout: float = 60.0, tries: int = 3) -> bytes:
    """GET ``url``; the default fetcher of :func:`install_assets`. A dropped connection is retried,
    since the step usually runs unattended (CI, a fresh machine); an HTTP error answer is not."""
    request = urllib.request.Request(url, headers={"User-Agent": "gantool"})
    for attempt in range(tries):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read()
        except urllib.error.HTTPError:
            raise
        except OSError:
            if attempt + 1 == tries:
                raise
            time.sleep(2**attempt)
    return b""  # tries < 1: nothing asked, nothing fetched


def _check_integrity(asset: NpmAsset, data: bytes) -> None:
    algo, _, expected = asset.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise GantoolError(f"{asset.name}@{asset.version} from the registry does not match its pinned checksum; "
                           "is the registry (or a proxy in between) serving another file?")


def install_assets(static_dir: Optional[str] = None, registry: Optional[str] = None,
                   fetch: Callable[[str], bytes] = _download, assets=NPM_ASSETS,
                   log: Callable[[str], None] = print) -> list[str]:
    """Fetch the dashboard's files from npm tarballs into visdom's ``static/``; return what was written.

    Args:
        static_dir: visdom's ``static`` folder (default: the installed package's).
        registry: npm registry base URL; default ``$npm_config_registry`` or the public registry.
        fetch: ``url -> bytes``; tests pass a stub so they never touch the network.
        assets: the packages and files (default :data:`NPM_ASSETS`).
        log: one line per package.

    Every file is checked (pinned sha512) and written atomically; ``version.built`` comes last, so an
    interrupted run leaves visdom's "not built" state and can simply be repeated.
    """
    static_dir = static_dir or visdom_static_dir()
    registry = registry or os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY") \
        or DEFAULT_REGISTRY
    written = []
    try:
        for sub in ("js", "css", "fonts"):
            os.makedirs(os.path.join(static_dir, sub), exist_ok=True)
        for asset in assets:
            url = asset.tarball_url(registry)
            try:
                data = fetch(url)
            except OSError as err:  # URLError, timeouts, refused connections
                raise GantoolError(f"cannot download {url} ({getattr(err, 'reason', err)}); the dashboard files "
                                   "come from the npm registry: check the network or set npm_config_registry "
                                   "to a mirror") from None
            _check_integrity(asset, data)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for dest, member in asset.files.items():
                    # Named members only, read as bytes: nothing from the archive chooses a path on disk.
                    try:
                        content = tar.extractfile(f"package/{member}").read()
                    except KeyError:
                        raise GantoolError(f"{asset.name}@{asset.version} has no file {member}") from None
                    path = os.path.join(static_dir, dest)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    atomic_write(path, lambda f, c=content: f.write(c))
                    written.append(dest)
            log(f"gantool: {asset.name}@{asset.version}: {len(asset.files)} file(s)")
        version = visdom_version().encode()
        atomic_write(os.path.join(static_dir, "version.built"), lambda f: f.write(version))
    except PermissionError as err:
        raise GantoolError(f"cannot write into {static_dir} ({err.strerror}); install gantool and visdom in a "
                           "virtual environment you own") from None
    return written
