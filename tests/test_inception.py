"""The FID Inception-v3 extractor and the weights it needs: architecture, preprocessing, cache, download.

Offline: the real weights are never fetched. Downloads are tested against an HTTP server on 127.0.0.1,
and loading against the state dict of a randomly initialised network saved once per module.
"""
import hashlib
import http.server
import os
import socket
import threading
import urllib.request

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.inception import InceptionA, InceptionC, InceptionE

from gantool.errors import GantoolError
from gantool.io import weights as weights_io
from gantool.metrics import inception as inception_module
from gantool.metrics.extractors import extractor_names, load_extractor
from gantool.metrics.inception import FID_WEIGHTS_FILE, FID_WEIGHTS_URL, FIDInceptionV3

pytestmark = pytest.mark.usefixtures("single_thread")

FILE = "thing-0123abcd.pth"


@pytest.fixture(autouse=True)
def offline_cache(tmp_path, monkeypatch):
    """The cache in tmp_path; requests to the test server skip any proxy; urlopen calls are recorded."""
    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "*")
    calls = []
    real = urllib.request.urlopen

    def urlopen(url, *args, **kwargs):
        calls.append(url)
        assert url.startswith("http://127.0.0.1:"), f"a test tried to reach {url}"
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


@pytest.fixture(scope="module")
def weights_file(net, tmp_path_factory):
    """(path, SHA-256) of ``net``'s full state dict (~96 MB, ~0.2 s to write)."""
    path = str(tmp_path_factory.mktemp("weights") / FID_WEIGHTS_FILE)
    torch.save(net.state_dict(), path)
    return path, weights_io.sha256_of(path)


@pytest.fixture
def server():
    """A local HTTP server: ``routes[path] = (body, declared length or None)``; yields (base URL, routes, seen),
    ``seen`` holding the paths it was asked for."""
    routes, seen = {}, []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            if self.path not in routes:
                self.send_error(404)
                return
            body, length = routes[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes, seen
    httpd.shutdown()
    httpd.server_close()
    thread.join()


# --- the network --------------------------------------------------------------------------------------------

def test_keys_and_shapes_are_those_of_torchvision_inception_v3(net):
    reference = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    assert [(k, v.shape) for k, v in net.state_dict().items()] == \
        [(k, v.shape) for k, v in reference.state_dict().items()]
    assert (net.name, net.dim) == ("inception-v3-pt_inception-2015-12-05", 2048)


def test_every_branch_pool_is_the_tf_one(net):
    for name in ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7b"]:
        pool = getattr(net, name).pool
        assert isinstance(pool, nn.AvgPool2d) and pool.count_include_pad is False, name
        assert (pool.kernel_size, pool.stride, pool.padding) == (3, 1, 1), name


@pytest.mark.parametrize("name, torchvision_block, pool_channels", [
    ("Mixed_5b", lambda: InceptionA(192, pool_features=32), 32),
    ("Mixed_6b", lambda: InceptionC(768, channels_7x7=128), 192),
    ("Mixed_7b", lambda: InceptionE(1280), 192),
])
def test_average_pools_leave_the_padding_out(net, name, torchvision_block, pool_channels):
    ours, theirs = getattr(net, name), torchvision_block().eval()
    theirs.load_state_dict(ours.state_dict())
    x = torch.ones(1, theirs.branch1x1.conv.in_channels, 5, 5)  # a constant image: TF's average stays constant
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert torch.equal(a[:, :-pool_channels], b[:, :-pool_channels])  # the other branches are torchvision's
    pool_a, pool_b = a[:, -pool_channels:], b[:, -pool_channels:]
    assert torch.allclose(pool_a, pool_a[:, :, 2:3, 2:3].expand_as(pool_a), atol=1e-6)
    assert torch.allclose(pool_a[:, :, 2, 2], pool_b[:, :, 2, 2], atol=1e-6)  # inside, no padding to count
    assert not torch.allclose(pool_a[:, :, 0, 0], pool_b[:, :, 0, 0], atol=1e-4)  # torchvision averages zeros


def test_the_last_block_max_pools(net):
    ours, theirs = net.Mixed_7c, InceptionE(2048).eval()
    pool = ours.pool
    assert isinstance(pool, nn.MaxPool2d) and (pool.kernel_size, pool.stride, pool.padding) == (3, 1, 1)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(1, 2048, 4, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = ours(x), theirs(x)
        expected = ours.branch_pool(F.max_pool2d(x, kernel_size=3, stride=1, padding=1))
    assert torch.equal(a[:, :-192], b[:, :-192])
    assert torch.allclose(a[:, -192:], expected, atol=1e-6)
    assert not torch.allclose(a[:, -192:], b[:, -192:], atol=1e-3)


def test_random_network_gives_finite_2048_features(net):
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        small = net.features(torch.rand(2, 3, 75, 75, generator=g) * 2 - 1)  # the smallest input it takes
        full = net(torch.rand(2, 1, 40, 40, generator=g))  # resized to 299x299 inside
    for out in (small, full):
        assert out.shape == (2, 2048) and out.dtype == torch.float32
        assert torch.isfinite(out).all() and (out >= 0).all()  # an average of ReLUs


# --- preprocessing ------------------------------------------------------------------------------------------

def test_preprocess_range_size_and_gray(net):
    assert torch.equal(net.preprocess(torch.zeros(2, 3, 20, 30)), torch.full((2, 3, 299, 299), -1.0))
    assert torch.allclose(net.preprocess(torch.ones(1, 1, 320, 300)), torch.ones(1, 3, 299, 299), atol=1e-6)
    constant = net.preprocess(torch.full((1, 3, 31, 47), 0.25))
    assert torch.allclose(constant, torch.full_like(constant, -0.5), atol=1e-6)
    gray = torch.rand(2, 1, 30, 40, generator=torch.Generator().manual_seed(3))
    assert torch.equal(net.preprocess(gray), net.preprocess(gray.repeat(1, 3, 1, 1)))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        net.preprocess(torch.rand(1, 2, 8, 8))
    with pytest.raises(ValueError, match="N, C, H, W"):
        net.preprocess(torch.rand(3, 8, 8))


def test_resize_is_bilinear_without_antialias_like_pytorch_fid(net):
    ramp = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    row = net.preprocess(ramp)[0, 0, 100]
    # by hand: output pixel j samples x = (j + 0.5) * 2 / 299 - 0.5, clamped to the two input pixels
    x = ((torch.arange(299, dtype=torch.float64) + 0.5) * 2 / 299 - 0.5).clamp(0, 1)
    assert torch.allclose(row.double(), 2 * x - 1, atol=1e-6)
    board = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).view(1, 1, 2, 2)
    expected = F.interpolate(board, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    assert torch.allclose(net.preprocess(board)[:, :1], expected, atol=1e-6)
    fine = (torch.arange(400).view(1, -1) + torch.arange(400).view(-1, 1)).remainder(2).float().view(1, 1, 400, 400)
    plain = F.interpolate(fine, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    smooth = F.interpolate(fine, size=(299, 299), mode="bilinear", align_corners=False, antialias=True) * 2 - 1
    assert torch.allclose(net.preprocess(fine)[:, :1], plain, atol=1e-6)
    assert not torch.allclose(plain, smooth, atol=1e-2)


# --- the weights file ---------------------------------------------------------------------------------------

def test_cache_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path / "g"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights_io.cache_dir() == str(tmp_path / "g")
    monkeypatch.delenv("GANTOOL_CACHE")
    assert weights_io.cache_dir() == str(tmp_path / "xdg" / "gantool")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert weights_io.cache_dir() == str(tmp_path / "home" / ".cache" / "gantool")
    assert weights_io.cached_weights_path(FILE) == str(tmp_path / "home" / ".cache" / "gantool" / "weights" / FILE)
    assert os.listdir(tmp_path) == []  # nothing created


def test_sha256_and_verify(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(b"weights" * 1000)
    digest = hashlib.sha256(b"weights" * 1000).hexdigest()
    assert weights_io.sha256_of(str(path)) == digest
    weights_io.verify(str(path), digest)
    weights_io.verify(str(path), digest[:8].upper())  # torch.hub's file-name prefix
    with pytest.raises(ValueError, match="not a hex digest"):
        weights_io.verify(str(path), "6726")
    with pytest.raises(GantoolError) as err:
        weights_io.verify(str(path), "0" * 64)
    message = str(err.value)
    assert f"{path} is corrupt or not the expected file (SHA-256 {digest[:16]}... != expected 0000" in message
    assert message.endswith("delete it and download again") and "\n" not in message


def test_find_weights_checks_the_named_then_the_cached_file(tmp_path, offline_cache):
    url, digest = "http://127.0.0.1:9/x", hashlib.sha256(b"abc").hexdigest()
    mine = tmp_path / "mine.pth"
    mine.write_bytes(b"abc")
    assert weights_io.find_weights(FILE, url, digest, weights=str(mine)) == str(mine)
    with pytest.raises(GantoolError, match="--weights .*nope.pth does not exist"):
        weights_io.find_weights(FILE, url, digest, weights=str(tmp_path / "nope.pth"))
    cached = weights_io.cached_weights_path(FILE)
    os.makedirs(os.path.dirname(cached))
    os.replace(mine, cached)
    assert weights_io.find_weights(FILE, url, digest) == cached
    for weights in (cached, None):
        with pytest.raises(GantoolError, match="is corrupt or not the expected file"):
            weights_io.find_weights(FILE, url, "f" * 64, weights=weights)
    assert offline_cache == []


def test_missing_weights_say_how_to_get_them_without_downloading(offline_cache):
    with pytest.raises(GantoolError) as err:
        load_extractor("inception")
    expected = (f"the FID Inception weights are not in {weights_io.cached_weights_path(FID_WEIGHTS_FILE)}: run "
                f"`gantool eval --download` once with internet, or download {FID_WEIGHTS_URL} yourself and put it "
                "there (or pass --weights FILE)")
    assert str(err.value) == expected
    assert offline_cache == []


# --- downloads ----------------------------------------------------------------------------------------------

def test_download_lands_atomically_and_verifies(server):
    base, routes, seen = server
    payload = os.urandom(3_000_000)
    routes["/w.pth"] = (payload, None)
    url, digest, lines = base + "/w.pth", hashlib.sha256(payload).hexdigest(), []
    target = weights_io.cached_weights_path(FILE)
    assert weights_io.find_weights(FILE, url, digest, download=True, log=lines.append) == target
    assert open(target, "rb").read() == payload and os.listdir(os.path.dirname(target)) == [FILE]  # no temporary
    assert seen == ["/w.pth"] and lines[0] == f"downloading {url} to {target}"
    assert weights_io.find_weights(FILE, url, digest, download=True) == target and seen == ["/w.pth"]  # cached
    with open(target, "r+b") as f:  # corrupt it: asked to download, the file is fetched again
        f.write(b"bad")
    weights_io.find_weights(FILE, url, digest, download=True, log=lines.append)
    assert open(target, "rb").read() == payload and len(seen) == 2 and "wrong SHA-256" in lines[2]


@pytest.mark.parametrize("body, length, message", [
    (b"not the weights", None, "sent a file that is not the expected one"),
    (b"half of the file", 1000, "the connection closed after 16 of 1000 bytes"),
])
def test_bad_download_leaves_no_file(server, body, length, message):
    base, routes, _ = server
    routes["/w.pth"] = (body, length)
    with pytest.raises(GantoolError, match=message) as err:
        weights_io.find_weights(FILE, base + "/w.pth", "ab" * 32, download=True, log=lambda line: None)
    assert "\n" not in str(err.value) and os.listdir(os.path.dirname(weights_io.cached_weights_path(FILE))) == []


def test_network_errors_name_the_url(server):
    base, _, _ = server
    with pytest.raises(GantoolError, match=f"could not download {base}/missing.pth: HTTP error 404"):
        weights_io.download(base + "/missing.pth", weights_io.cached_weights_path(FILE), "ab" * 32, log=lambda s: None)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/w.pth"
    with pytest.raises(GantoolError, match=f"could not download {url}: .*refused"):
        weights_io.download(url, weights_io.cached_weights_path(FILE), "ab" * 32, log=lambda s: None)
    assert os.listdir(os.path.dirname(weights_io.cached_weights_path(FILE))) == []


# --- loading ------------------------------------------------------------------------------------------------

def test_load_weights_refuses_other_files(tmp_path):
    path = str(tmp_path / "w.pth")
    torch.save([1, 2, 3], path)
    with pytest.raises(GantoolError, match="is not the weights: it holds a list"):
        weights_io.load_weights(nn.Linear(2, 3), path)
    torch.save(nn.Linear(2, 4).state_dict(), path)
    with pytest.raises(GantoolError, match=r"weight is \(4, 2\), expected \(3, 2\)"):
        weights_io.load_weights(nn.Linear(2, 3), path)
    torch.save({"weight": torch.zeros(3, 2), "scale": torch.ones(1)}, path)
    with pytest.raises(GantoolError, match=r"1 keys missing \('bias' ...\), 1 unexpected \('scale' ...\)"):
        weights_io.load_weights(nn.Linear(2, 3), path)
    norm = nn.BatchNorm2d(3)
    state = {k: v + 1 for k, v in norm.state_dict().items() if "num_batches" not in k}
    torch.save(state, path)
    weights_io.load_weights(norm, path)  # old files without the batch counter load
    assert torch.equal(norm.running_var, torch.full((3,), 2.0))


def test_registry_entry_loads_explicit_weights(net, weights_file, monkeypatch):
    path, digest = weights_file
    monkeypatch.setattr(inception_module, "FID_WEIGHTS_SHA256", digest)
    assert "inception" in extractor_names()
    extractor = load_extractor("inception", weights=path)
    assert isinstance(extractor, FIDInceptionV3) and not extractor.training
    assert not any(p.requires_grad for p in extractor.parameters())
    images = torch.rand(2, 1, 40, 40, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(extractor(images), net(images))


def test_registry_entry_refuses_a_file_of_another_network(tmp_path, monkeypatch):
    path = str(tmp_path / "other.pth")
    torch.save({"fc.weight": torch.zeros(1000, 2048)}, path)
    monkeypatch.setattr(inception_module, "FID_WEIGHTS_SHA256", weights_io.sha256_of(path))
    with pytest.raises(GantoolError, match=r"is not the FID Inception-v3 weights \(pt_inception-2015-12-05\): "
                                           r"\d+ keys missing"):
        load_extractor("inception", weights=path)


def test_download_through_the_registry_entry(net, weights_file, server, monkeypatch):
    """``gantool eval --download`` in small: the entry fetches the file once, then finds it in the cache."""
    base, routes, seen = server
    path, digest = weights_file
    with open(path, "rb") as f:
        routes["/fid/" + FID_WEIGHTS_FILE] = (f.read(), None)
    monkeypatch.setattr(inception_module, "FID_WEIGHTS_URL", f"{base}/fid/{FID_WEIGHTS_FILE}")
    monkeypatch.setattr(inception_module, "FID_WEIGHTS_SHA256", digest)
    lines = []
    first = load_extractor("inception", download=True, log=lines.append)
    second = load_extractor("inception", log=lines.append)
    assert len(seen) == 1 and len(lines) == 2 and lines[1].endswith("MB, SHA-256 checked")
    assert os.listdir(os.path.dirname(weights_io.cached_weights_path(FID_WEIGHTS_FILE))) == [FID_WEIGHTS_FILE]
    for extractor in (first, second):  # downloaded, then found in the cache
        assert all(torch.equal(a, b) for a, b in zip(extractor.state_dict().values(), net.state_dict().values()))
