"""Self-describing networks: one small dataclass per generator family (and for the classifier and segmenter
recipes' backbones), saved next to a checkpoint.

gantool's generator builders (``define_G``, ``MLPGenerator``, ``DCGANGenerator``) attach their description
to the module they return (``net.gantool_arch``, a :class:`GeneratorArch`, :class:`MLPGeneratorArch` or
:class:`DCGANGeneratorArch`), and ``checkpoint.save_network`` writes it as a JSON side file beside the
state dict (``latest_net_G_A.pth`` -> ``latest_net_G_A.json``: ``{"gantool_arch": 1, "builder": ...,
"kwargs": {...}}``). The ``.pth`` itself stays a plain classic state dict, so it still moves both ways
with pytorch-CycleGAN-and-pix2pix; a classic file without a side file loads with explicit options.

The same description gives the command-line options that rebuild the network (``options``, ``hint``
for error messages); ``gantool.networks.build_from_arch`` builds it. This module knows no network code.
"""
import dataclasses
import json
import os
from typing import ClassVar, Dict, Optional, Tuple, Union

import torch.nn as nn

from ..errors import GantoolError
from .files import atomic_write_text

ARCH_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Arch:
    """The constructor arguments of one network; subclasses name the builder and the options."""

    #: the name saved in the side file's ``builder`` field
    builder: ClassVar[str] = ""
    #: constructor argument -> the command-line option that sets it (``use_dropout`` is ``--no_dropout`` negated)
    option_names: ClassVar[Dict[str, str]] = {}
    #: the options in the order a user reads them in messages
    hint_order: ClassVar[Tuple[str, ...]] = ()

    def kwargs(self) -> Dict[str, object]:
        """The constructor arguments, as saved in the side file's ``kwargs``."""
        return dataclasses.asdict(self)

    def record(self) -> Dict[str, object]:
        """``{"builder": ..., "kwargs": {...}}``: what the side file holds (besides its version)."""
        return {"builder": self.builder, "kwargs": self.kwargs()}

    def options(self) -> Dict[str, object]:
        """The command-line option values that rebuild this network (``use_dropout`` -> ``no_dropout``...)."""
        out = {}
        for field, option in self.option_names.items():
            value = getattr(self, field)
            out[option] = (not value) if field == "use_dropout" else value
        return out

    def hint_options(self) -> Tuple[str, ...]:
        """The options ``hint`` quotes, in order (``hint_order``; a subclass may leave out unused ones)."""
        return self.hint_order

    def hint(self) -> str:
        """The options as a user types them, for messages: ``--netG resnet_9blocks --ngf 64 ...``."""
        parts = []
        options = self.options()
        for option in self.hint_options():
            value = options[option]
            if value is None:  # not given: the network's own default
                continue
            if isinstance(value, (tuple, list)):  # flags such as --replace_stride_with_dilation 0,1,1
                value = ",".join(str(int(v)) for v in value)
            if isinstance(value, bool):
                parts.append(f"--{option}" if value else "")
            else:
                parts.append(f"--{option} {value}")
        return " ".join(p for p in parts if p)


@dataclasses.dataclass(frozen=True)
class GeneratorArch(Arch):
    """An image-to-image generator of ``define_G`` (ResNet or U-Net)."""

    builder: ClassVar[str] = "define_G"
    option_names: ClassVar[Dict[str, str]] = {"input_nc": "input_nc", "output_nc": "output_nc", "ngf": "ngf",
                                              "netG": "netG", "norm": "norm", "use_dropout": "no_dropout"}
    hint_order: ClassVar[Tuple[str, ...]] = ("netG", "ngf", "norm", "input_nc", "output_nc", "no_dropout")
    input_nc: int
    output_nc: int
    ngf: int
    netG: str
    norm: str
    use_dropout: bool


@dataclasses.dataclass(frozen=True)
class NoiseGeneratorArch(Arch):
    """What every noise-to-image generator has: z of ``latent_dim``, images of ``channels`` x ``img_size``^2."""

    option_names: ClassVar[Dict[str, str]] = {"latent_dim": "latent_dim", "channels": "input_nc",
                                              "img_size": "img_size"}
    hint_order: ClassVar[Tuple[str, ...]] = ("latent_dim", "img_size", "input_nc")
    latent_dim: int
    channels: int
    img_size: int


@dataclasses.dataclass(frozen=True)
class MLPGeneratorArch(NoiseGeneratorArch):
    """The fully connected generator of ``--model gan``."""

    builder: ClassVar[str] = "mlp_gan"
    option_names: ClassVar[Dict[str, str]] = {**NoiseGeneratorArch.option_names, "activation": "activation"}
    hint_order: ClassVar[Tuple[str, ...]] = (*NoiseGeneratorArch.hint_order, "activation")
    activation: str = "leaky_relu"  # side files written before --activation lack it: the classic LeakyReLU


@dataclasses.dataclass(frozen=True)
class DCGANGeneratorArch(NoiseGeneratorArch):
    """The transposed-convolution generator of ``--model dcgan``, ``ngf`` wide."""

    builder: ClassVar[str] = "dcgan"
    option_names: ClassVar[Dict[str, str]] = {**NoiseGeneratorArch.option_names, "ngf": "ngf"}
    hint_order: ClassVar[Tuple[str, ...]] = (*NoiseGeneratorArch.hint_order, "ngf")
    ngf: int


@dataclasses.dataclass(frozen=True)
class BackboneArch(Arch):
    """What the classifier and segmenter recipes' networks share: the options that change their layers.
    ``activation`` and ``replace_stride_with_dilation`` are None where not given (the network's own);
    the flags are kept as a tuple (a side file's JSON list becomes one again)."""

    input_nc: int
    num_classes: int
    small_input: bool = False
    activation: Optional[str] = None
    replace_stride_with_dilation: Optional[Tuple[bool, ...]] = None

    def __post_init__(self):
        if self.replace_stride_with_dilation is not None:
            object.__setattr__(self, "replace_stride_with_dilation", tuple(map(bool, self.replace_stride_with_dilation)))


_BACKBONE_OPTIONS = ("input_nc", "num_classes", "small_input", "activation", "replace_stride_with_dilation")


@dataclasses.dataclass(frozen=True)
class ClassifierArch(BackboneArch):
    """A ``--model classifier`` network: ``--netC`` and its options."""

    builder: ClassVar[str] = "classifier"
    option_names: ClassVar[Dict[str, str]] = {k: k for k in ("netC", *_BACKBONE_OPTIONS)}
    hint_order: ClassVar[Tuple[str, ...]] = ("netC", *_BACKBONE_OPTIONS)
    netC: str = "resnet18"


@dataclasses.dataclass(frozen=True)
class SegmenterArch(BackboneArch):
    """A ``--model segmenter`` network: ``--netS`` and its options (``base_channels``/``unet_depth``: unet's)."""

    builder: ClassVar[str] = "segmenter"
    option_names: ClassVar[Dict[str, str]] = {k: k for k in ("netS", *_BACKBONE_OPTIONS, "base_channels", "unet_depth")}
    hint_order: ClassVar[Tuple[str, ...]] = ("netS", *_BACKBONE_OPTIONS, "base_channels", "unet_depth")
    netS: str = "unet"
    base_channels: int = 64
    unet_depth: int = 4

    def hint_options(self) -> Tuple[str, ...]:
        unet = ("base_channels", "unet_depth")
        return self.hint_order if self.netS == "unet" else tuple(o for o in self.hint_order if o not in unet)


#: side-file ``builder`` -> description class
ARCHITECTURES = {cls.builder: cls for cls in (GeneratorArch, MLPGeneratorArch, DCGANGeneratorArch, ClassifierArch,
                                              SegmenterArch)}


def arch_from_record(record: Union[Arch, Dict[str, object]]) -> Arch:
    """The description of a side file's ``{"builder", "kwargs"}`` (a description is returned as it is)."""
    if isinstance(record, Arch):
        return record
    cls = ARCHITECTURES[record["builder"]]
    fields = [f.name for f in dataclasses.fields(cls)]
    return cls(**{k: record["kwargs"][k] for k in fields if k in record["kwargs"]})  # absent: the field's default


def arch_path(pth_path: str) -> str:
    """The side file of a checkpoint: ``x/latest_net_G.pth`` -> ``x/latest_net_G.json``."""
    return os.path.splitext(pth_path)[0] + ".json"


def write_arch(net: nn.Module, pth_path: str) -> None:
    """Write ``net.gantool_arch`` (when it has one) beside ``pth_path``, atomically."""
    arch = getattr(net, "gantool_arch", None)
    if isinstance(arch, Arch):
        atomic_write_text(arch_path(pth_path), json.dumps({"gantool_arch": ARCH_VERSION, **arch.record()}, indent=1) + "\n")


def read_arch(pth_path: str) -> Optional[Dict[str, object]]:
    """The architecture saved beside ``pth_path`` as ``{"builder", "kwargs"}``, or None for a classic file
    without a side file. ``arch_from_record`` turns it into its description.

    Raises:
        GantoolError: the side file exists but is not gantool metadata.
    """
    path = arch_path(pth_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            arch = json.load(f)
    except (OSError, ValueError) as err:
        raise GantoolError(f"{path} is not readable architecture metadata ({err}); delete it to pass the "
                           "options explicitly") from None
    if not isinstance(arch, dict) or arch.get("builder") not in ARCHITECTURES or not isinstance(arch.get("kwargs"), dict):
        raise GantoolError(f"{path} is not gantool architecture metadata (builders: {', '.join(ARCHITECTURES)}); "
                           "delete it to pass the options explicitly")
    fields = [f.name for f in dataclasses.fields(ARCHITECTURES[arch["builder"]]) if f.default is dataclasses.MISSING]
    missing = [k for k in fields if k not in arch["kwargs"]]
    if missing:
        raise GantoolError(f"{path} lacks {', '.join(missing)}; delete it to pass the options explicitly")
    return arch_from_record(arch).record()


def arch_options(record: Union[Arch, Dict[str, object]]) -> Dict[str, object]:
    """The command-line option values that rebuild ``record`` (see :meth:`Arch.options`)."""
    return arch_from_record(record).options()


def format_arch_options(options: Dict[str, object]) -> str:
    """``{"netG": "unet_64", "no_dropout": False}`` -> ``--netG unet_64 dropout``."""
    parts = []
    for key, value in options.items():
        if key == "no_dropout":
            parts.append("--no_dropout" if value else "dropout")
        elif isinstance(value, bool):
            parts.append(f"--{key}" if value else f"no --{key}")
        elif isinstance(value, (tuple, list)):
            parts.append(f"--{key} {','.join(str(int(v)) for v in value)}")
        elif value is None:
            parts.append(f"no --{key}")
        else:
            parts.append(f"--{key} {value}")
    return " ".join(parts)
