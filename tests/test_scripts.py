"""The download scripts, exercised offline: argument checks, and the full flow with a fake curl."""
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
MODEL = SCRIPTS / "download_cyclegan_model.sh"
DATASET = SCRIPTS / "download_cyclegan_dataset.sh"
BASH = shutil.which("bash") or "/bin/bash"


def run(script, *args, cwd, path=None):
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([BASH, str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30)


def fake_curl(bin_dir: Path, payload: Path = None) -> str:
    """A ``curl`` that copies ``payload`` to its ``-o`` argument (or fails like an HTTP 404); returns a PATH."""
    bin_dir.mkdir()
    body = f'cp "{payload}" "$out"' if payload else "echo 'curl: (22) 404' >&2; exit 22"
    script = bin_dir / "curl"
    script.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out="$2"; shift; fi; shift; done\n'
        f"{body}\n"
    )
    script.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


@pytest.mark.parametrize("script", [MODEL, DATASET])
def test_syntax_and_executable(script):
    assert subprocess.run([BASH, "-n", str(script)]).returncode == 0
    assert script.stat().st_mode & stat.S_IXUSR


@pytest.mark.parametrize("script,listed", [(MODEL, ["horse2zebra", "style_monet", "iphone2dslr_flower"]),
                                           (DATASET, ["horse2zebra", "maps", "mini_pix2pix", "ae_photos"])])
@pytest.mark.parametrize("args", [(), ("not_a_name",), ("horse2zebra zebra2horse",)])
def test_usage_on_missing_or_unknown_name(tmp_path, script, listed, args):
    result = run(script, *args, cwd=tmp_path)
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert all(name in result.stderr for name in listed)
    if args:
        assert f"'{args[0]}'" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_cityscapes_explains_registration(tmp_path):
    result = run(DATASET, "cityscapes", cwd=tmp_path)
    assert result.returncode != 0
    assert "cityscapes-dataset.com" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", [MODEL, DATASET])
def test_no_downloader_is_a_clear_error(tmp_path, script):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    result = run(script, "horse2zebra", cwd=work, path=str(empty_bin))
    assert result.returncode == 1
    assert "curl or wget" in result.stderr
    assert list(work.iterdir()) == []


def test_model_download_moves_file_into_place(tmp_path):
    payload = tmp_path / "weights.pth"
    payload.write_bytes(b"fake weights")
    work = tmp_path / "work"
    work.mkdir()
    result = run(MODEL, "horse2zebra", cwd=work, path=fake_curl(tmp_path / "bin", payload))
    assert result.returncode == 0, result.stderr
    folder = work / "checkpoints" / "horse2zebra_pretrained"
    assert sorted(p.name for p in folder.iterdir()) == ["latest_net_G.pth"]
    assert (folder / "latest_net_G.pth").read_bytes() == b"fake weights"


def test_failed_model_download_leaves_nothing(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = run(MODEL, "horse2zebra", cwd=work, path=fake_curl(tmp_path / "bin"))
    assert result.returncode != 0
    assert list((work / "checkpoints").iterdir()) == []


def test_dataset_download_unpacks_into_place(tmp_path):
    payload = tmp_path / "mini.zip"
    with zipfile.ZipFile(payload, "w") as archive:
        archive.writestr("mini/trainA/a.jpg", b"a")
        archive.writestr("mini/testB/b.jpg", b"b")
    work = tmp_path / "work"
    work.mkdir()
    result = run(DATASET, "mini", cwd=work, path=fake_curl(tmp_path / "bin", payload))
    assert result.returncode == 0, result.stderr
    datasets = work / "datasets"
    assert sorted(p.name for p in datasets.iterdir()) == ["mini"]  # temp folder and zip are gone
    assert (datasets / "mini" / "trainA" / "a.jpg").read_bytes() == b"a"
    assert (datasets / "mini" / "testB" / "b.jpg").exists()
    again = run(DATASET, "mini", cwd=work, path=fake_curl(tmp_path / "bin2", payload))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_failed_dataset_download_leaves_nothing(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = run(DATASET, "mini", cwd=work, path=fake_curl(tmp_path / "bin"))
    assert result.returncode != 0
    assert list((work / "datasets").iterdir()) == []
