"""Translate images from Python in one line: ``Translator.load(checkpoint)(image)``.

    from gantool import Translator
    t = Translator.load("checkpoints/x/latest_net_G_A.pth")    # or a shipped name: "toy_day2night_pretrained"
    out = t(pil_image)                                         # PIL in, PIL out; numpy and tensors too

Images of any size are padded to the generator's ``size_multiple`` and cropped back; ``tile=512``
translates large images in overlapping, blended tiles (``gantool.inference.tiling``).
"""
import os
import warnings
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch import Tensor

from ..engine.device import device_from_name
from ..errors import GantoolError
from ..io.arch import GeneratorArch, arch_from_record, format_arch_options, read_arch
from ..io.checkpoint import load_network
from ..io.pretrained import shipped_folder, shipped_names
from ..networks import build_from_arch
from ..ops.padding import crop_to, pad_to_multiple
from .tiling import translate_tiled

# The classic published CycleGAN generators (horse2zebra_pretrained, ...): used for files without metadata.
CLASSIC_ARCH = {"input_nc": 3, "output_nc": 3, "ngf": 64, "netG": "resnet_9blocks", "norm": "instance",
                "use_dropout": False}

ImageLike = Union[Image.Image, np.ndarray, Tensor]


def resolve_checkpoint(path_or_name: str, epoch: str = "latest", ema: bool = False) -> str:
    """A generator ``.pth`` from a file, a checkpoint folder or the name of a shipped model.

    A folder gives ``<epoch>_net_G.pth``, else ``<epoch>_net_G_A.pth`` (a CycleGAN run's A -> B). ``ema``: the
    generator's moving average instead (``train.py --ema_decay``): ``<epoch>_net_G_ema.pth`` ..., or for a
    file ``x.pth`` its ``x_ema.pth``.
    """
    path = path_or_name
    if not os.path.exists(path):
        path = shipped_folder(path_or_name) or path
    suffix = "_ema" if ema else ""
    if os.path.isdir(path):
        candidates = (f"{epoch}_net_G{suffix}.pth", f"{epoch}_net_G_A{suffix}.pth")
        for candidate in candidates:
            if os.path.isfile(os.path.join(path, candidate)):
                return os.path.join(path, candidate)
        untrained = " (was it trained with --ema_decay?)" if ema else ""
        raise GantoolError(f"{path} has no {' or '.join(candidates)}{untrained}; name the .pth file")
    if not os.path.isfile(path):
        shipped = ", ".join(shipped_names()) or "none"
        raise GantoolError(f"{path_or_name} is neither a checkpoint file, nor a folder, nor a shipped model "
                           f"(shipped: {shipped})")
    if ema and not path.endswith("_ema.pth"):
        average = path[:-len(".pth")] + "_ema.pth" if path.endswith(".pth") else path + "_ema"
        if not os.path.isfile(average):
            raise GantoolError(f"there is no {average}: its run was trained without --ema_decay; drop ema=True")
        path = average
    return path


def set_test_semantics(net: nn.Module, eval_mode: bool) -> bool:
    """Put ``net`` in the mode test.py uses; returns True when images must go one at a time.

    ``eval_mode`` (``test.py --eval``): dropout off, BatchNorm with its running statistics.
    Otherwise the classic test.py default (networks in train mode): dropout on, and BatchNorm
    normalising each image by its own statistics, here without updating the running averages
    (those buffers are dropped), so translating never changes the network.
    """
    net.eval()
    if eval_mode:
        return False
    per_image = False
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean = module.running_var = module.num_batches_tracked = None
            module.track_running_stats = False
            per_image = True  # batch statistics: an image must not be normalised with its neighbours
        elif isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()
    return per_image


class Translator:
    """An image-to-image generator ready to translate PIL images, numpy arrays or tensors.

    Args:
        net: a generator (N, input_nc, H, W) -> (N, output_nc, H, W) in [-1, 1], weights loaded.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        eval_mode: ``test.py --eval`` semantics (see ``set_test_semantics``); the default is test.py's.
        tile: translate images larger than ``tile`` x ``tile`` in overlapping tiles (None: whole).
        overlap: pixels shared by neighbouring tiles.
        batch_size: images of one size translated together.
    """

    def __init__(self, net: nn.Module, device: str = "auto", eval_mode: bool = False, tile: Optional[int] = None,
                 overlap: int = 32, batch_size: int = 8):
        self.device = device_from_name(device)
        self.net = net.to(self.device)
        self.per_image = set_test_semantics(self.net, eval_mode)
        self.eval_mode = eval_mode
        self.size_multiple = int(getattr(net, "size_multiple", 1))
        arch = getattr(net, "gantool_arch", None)
        first = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
        self.input_nc = int(getattr(arch, "input_nc", first.in_channels if first is not None else 3))
        self.output_nc = int(getattr(arch, "output_nc", self.input_nc))
        if tile is not None and not 0 <= overlap < tile:
            raise GantoolError(f"--tile {tile} needs 0 <= --overlap < --tile (got --overlap {overlap})")
        self.tile, self.overlap = tile, overlap
        self.batch_size = 1 if self.per_image else max(1, batch_size)

    @classmethod
    def load(cls, checkpoint: str, device: str = "auto", *, eval_mode: bool = False, tile: Optional[int] = None,
             overlap: int = 32, batch_size: int = 8, epoch: str = "latest", ema: bool = False,
             **arch) -> "Translator":
        """Load a generator from a ``.pth`` file, a checkpoint folder or a shipped model's name.

        gantool's checkpoints carry their architecture (a ``.json`` side file); a classic file needs its
        options as keyword arguments (``netG``, ``ngf``, ``norm``, ``use_dropout``, ``input_nc``,
        ``output_nc``; defaults: the classic CycleGAN generator, resnet_9blocks with ngf 64). Keyword
        arguments that contradict a side file are ignored with a warning. ``ema=True`` loads the generator's
        moving average (``<epoch>_net_G_A_ema.pth`` ..., saved by ``train.py --ema_decay``).
        """
        unknown = set(arch) - set(CLASSIC_ARCH)
        if unknown:
            raise GantoolError(f"unknown generator option(s) {', '.join(sorted(unknown))}; "
                               f"use {', '.join(CLASSIC_ARCH)}")
        path = resolve_checkpoint(checkpoint, epoch, ema)
        record = read_arch(path)
        saved = GeneratorArch(**{**CLASSIC_ARCH, **arch}) if record is None else arch_from_record(record)
        if not isinstance(saved, GeneratorArch):
            raise GantoolError(f"{path} is an unconditional generator (noise -> images), not an image translator; "
                               f"sample it with test.py --model {'gan' if saved.builder == 'mlp_gan' else 'dcgan'}")
        clash = {k: v for k, v in arch.items() if getattr(saved, k) != v} if record is not None else {}
        if clash:
            warnings.warn(f"{path} was saved with {format_arch_options(saved.options())}; ignoring "
                          + ", ".join(f"{k}={v!r}" for k, v in clash.items()), stacklevel=2)
        net = build_from_arch(saved)
        load_network(net, path, format_arch_options(saved.options()))
        return cls(net, device, eval_mode=eval_mode, tile=tile, overlap=overlap, batch_size=batch_size)

    # ------------------------------------------------------------------ tensors
    @torch.no_grad()
    def translate_tensor(self, images: Tensor) -> Tensor:
        """(N, input_nc, H, W) in [-1, 1] -> (N, output_nc, H, W) in [-1, 1], any H and W."""
        images = images.to(self.device, torch.float32)
        outs = [self._run(images[i:i + self.batch_size]) for i in range(0, images.shape[0], self.batch_size)]
        return torch.cat(outs, 0)

    def _whole(self, x: Tensor) -> Tensor:
        if self.per_image and x.shape[0] > 1:
            return torch.cat([self._whole(x[i:i + 1]) for i in range(x.shape[0])], 0)
        padded, size = pad_to_multiple(x, self.size_multiple)
        return crop_to(self.net(padded), size)

    def _run(self, x: Tensor) -> Tensor:
        if self.tile is None:
            return self._whole(x)
        return translate_tiled(self._whole, x, self.tile, self.overlap)

    # ------------------------------------------------------------------ images
    def __call__(self, images: Union[ImageLike, Sequence[ImageLike]]):
        """Translate one image or a list of them; each result has its input's type.

        - ``PIL.Image`` -> ``PIL.Image`` (RGB, or L for one output channel);
        - ``numpy`` uint8 or uint16 (H, W, C) / (H, W), or (N, H, W, C) -> the same dtype and layout (values / 255
          or / 65535; floats: [0, 1]);
        - ``torch.Tensor`` (C, H, W) or (N, C, H, W) in [-1, 1] -> the same shape with output channels.
        A list may mix sizes and types.
        """
        if isinstance(images, (list, tuple)):
            return self._translate_list(list(images))
        return self._translate_list([images])[0]

    def _translate_list(self, items: List[ImageLike]) -> list:
        tensors = [self._to_tensor(x) for x in items]  # each (n, C, H, W)
        results: List[Optional[Tensor]] = [None] * len(items)
        by_size = {}
        for i, t in enumerate(tensors):
            by_size.setdefault(tuple(t.shape[1:]), []).append(i)
        for indices in by_size.values():
            outs = self.translate_tensor(torch.cat([tensors[i] for i in indices], 0))
            start = 0
            for i in indices:
                results[i] = outs[start:start + tensors[i].shape[0]]
                start += tensors[i].shape[0]
        return [self._from_tensor(r, x) for r, x in zip(results, items)]

    def _to_tensor(self, x: ImageLike) -> Tensor:
        if isinstance(x, Image.Image):
            mode = "L" if self.input_nc == 1 else "RGB"
            arr = np.asarray(x.convert(mode), dtype=np.float32) / 255.0
            t = torch.from_numpy(arr.copy()).reshape(arr.shape[0], arr.shape[1], -1).permute(2, 0, 1)[None]
        elif isinstance(x, np.ndarray):
            scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(x.dtype, 1.0)
            arr = x.astype(np.float32) / scale if scale != 1.0 else x.astype(np.float32)
            if arr.ndim == 2:
                arr = arr[:, :, None]
            if arr.ndim == 3:
                arr = arr[None]
            if arr.ndim != 4:
                raise GantoolError(f"a numpy image must be (H, W), (H, W, C) or (N, H, W, C), got shape {x.shape}")
            t = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)
        elif isinstance(x, Tensor):
            t = x[None] if x.dim() == 3 else x
            if t.dim() != 4:
                raise GantoolError(f"a tensor must be (C, H, W) or (N, C, H, W) in [-1, 1], got {tuple(x.shape)}")
            return self._channels(t.float(), tuple(x.shape))
        else:
            raise GantoolError(f"cannot translate a {type(x).__name__}: give a PIL image, a numpy array or a tensor")
        return self._channels(t * 2 - 1, tuple(x.shape) if hasattr(x, "shape") else None)

    def _channels(self, t: Tensor, shape) -> Tensor:
        c = t.shape[1]
        if c == self.input_nc:
            return t
        if c == 4 and self.input_nc == 3:
            return t[:, :3]  # drop alpha
        if c == 1:
            return t.expand(-1, self.input_nc, -1, -1)
        if self.input_nc == 1 and c in (3, 4):
            return (0.299 * t[:, 0:1] + 0.587 * t[:, 1:2] + 0.114 * t[:, 2:3])
        raise GantoolError(f"an image with {c} channels {shape} cannot feed a generator with {self.input_nc}")

    @staticmethod
    def _from_tensor(out: Tensor, like: ImageLike):
        out = out.float().cpu()
        if isinstance(like, Tensor):
            return out[0] if like.dim() == 3 else out
        arr = ((out.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()  # (n, H, W, C) in [0, 1]
        if isinstance(like, np.ndarray):
            if like.dtype in (np.uint8, np.uint16):
                arr = np.round(arr * np.iinfo(like.dtype).max).astype(like.dtype)
            else:
                arr = arr.astype(like.dtype if np.issubdtype(like.dtype, np.floating) else np.float32)
            if like.ndim == 4:
                return arr
            arr = arr[0]
            return arr[:, :, 0] if like.ndim == 2 and arr.shape[2] == 1 else arr
        image = np.round(arr[0] * 255).astype(np.uint8)
        if image.shape[2] == 1:
            return Image.fromarray(image[:, :, 0], "L")
        if image.shape[2] != 3:
            raise GantoolError(f"the generator makes {image.shape[2]} channels, which is not an image; "
                               "pass a tensor to get them")
        return Image.fromarray(image, "RGB")
