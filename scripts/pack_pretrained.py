"""Copy a trained generator into the package as a shipped pretrained model (float16 tensors).

    python scripts/pack_pretrained.py build/pretrained_runs/toy_day2night_cyclegan/latest_net_G_A.pth toy_day2night_pretrained

writes ``gantool/pretrained/<name>/latest_net_G.pth`` (the classic key names, floating tensors in
float16: half the size; loading copies them into the float32 network) and its ``latest_net_G.json``
architecture, which the source checkpoint must have (gantool saves it beside every generator).
"""
import argparse
import io
import json
import os
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gantool.errors import GantoolError  # noqa: E402
from gantool.io.arch import arch_path, read_arch  # noqa: E402
from gantool.io.files import atomic_write, atomic_write_text, clean_state_dict, load_file  # noqa: E402
from gantool.io.pretrained import PRETRAINED_DIR  # noqa: E402


def pack(source: str, name: str, dest_root: str = PRETRAINED_DIR) -> str:
    """Write ``<dest_root>/<name>/latest_net_G.pth`` (+ ``.json``) from ``source``; returns the .pth path."""
    arch = read_arch(source)
    if arch is None:
        raise GantoolError(f"{source} has no architecture side file {arch_path(source)}; train it with gantool")
    state = clean_state_dict(load_file(source))
    half = OrderedDict((k, v.half() if v.is_floating_point() else v) for k, v in state.items())
    path = os.path.join(dest_root, name, "latest_net_G.pth")
    buffer = io.BytesIO()
    torch.save(half, buffer)  # to a buffer: the archive's inner name is fixed, so equal weights give equal bytes
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))
    atomic_write_text(arch_path(path), json.dumps({"gantool_arch": 1, **arch, "stored_dtype": "float16"}, indent=1) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a generator checkpoint saved by gantool (with its .json side file)")
    parser.add_argument("name", help="the shipped model's name, e.g. toy_day2night_pretrained")
    parser.add_argument("--dest", default=PRETRAINED_DIR, help="the package's pretrained folder")
    args = parser.parse_args()
    try:
        path = pack(args.source, args.name, args.dest)
    except GantoolError as err:
        sys.exit(f"pack_pretrained: error: {err}")
    print(f"{path}: {os.path.getsize(path) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
