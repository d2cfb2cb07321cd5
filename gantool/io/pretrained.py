"""The small pretrained generators that ship inside the package (``gantool/pretrained/<name>/``).

Each folder is laid out like a classic checkpoint folder (``latest_net_G.pth`` plus its
``latest_net_G.json`` architecture, see ``gantool.io.arch``), so ``test.py --name <name>`` finds it
when ``checkpoints/<name>`` does not exist (a local folder of that name wins). The tensors are
stored in float16 to keep the package small; loading copies them into the float32 network.
``scripts/train_pretrained.sh`` makes them.
"""
import os
from typing import List, Optional

PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained")


def shipped_names() -> List[str]:
    """Names of the shipped models (``toy_day2night_pretrained``, ...), sorted."""
    if not os.path.isdir(PRETRAINED_DIR):
        return []
    return sorted(n for n in os.listdir(PRETRAINED_DIR) if os.path.isdir(os.path.join(PRETRAINED_DIR, n)))


def shipped_folder(name: str) -> Optional[str]:
    """The package folder of the shipped model ``name``, or None when there is none."""
    if not name or os.sep in name or "/" in name or name.startswith("."):
        return None
    folder = os.path.join(PRETRAINED_DIR, name)
    return folder if os.path.isdir(folder) else None


def checkpoint_folder(checkpoints_dir: str, name: str) -> str:
    """``<checkpoints_dir>/<name>`` when it exists, else the shipped model of that name, else the former."""
    local = os.path.join(checkpoints_dir, name)
    if os.path.isdir(local):
        return local
    return shipped_folder(name) or local
