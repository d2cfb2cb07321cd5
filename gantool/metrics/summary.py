"""Layer-by-layer inspection: output shapes, parameter counts, MACs and receptive fields.

``summary(net, (3, 256, 256))`` returns a table such as::

    Layer     Type    Output shape        Params         MACs  Connections  RF     Jump
    model.0   Conv2d  (1, 64, 128, 128)    3,136   50,331,648   51,380,224  4x4    2x2
    ...
    model.11  Conv2d  (1, 1, 30, 30)       8,193    7,372,800    7,373,700  70x70  8x8

MACs (multiply-accumulates) and connections are per image, whatever the batch of the input shape,
and per call (a module run twice counts twice); ``layer_cost`` says what counts: the products of
convolutions, transposed convolutions, linear layers and LeNet-5's trainable subsampling, not bias
additions, norms or activations. Connections are the classic LeNet-5 notes' figure (MACs plus
one per biased output element: parameters x output positions for a convolution); the column is
shown only when it differs from MACs somewhere (any layer with a bias).

Shapes come from forward hooks on the leaf modules during one forward pass. The receptive field
("RF": the input pixels one output pixel can see, height x width) and the jump (the input-pixel
distance between neighbouring output pixels) follow the usual layer arithmetic, computed from the
layers actually run, never looked up:

- convolution or pooling with kernel k, stride s, dilation d: RF += (d (k - 1)) * jump, jump *= s;
- transposed convolution: each output pixel sees n = ceil((d (k - 1) + 1) / s) inputs, so
  RF += (n - 1) * jump, jump /= s;
- layers that keep the geometry (norms, activations, padding layers, cropping, reshapes) pass
  the field through;
- functional resampling without a module (``F.interpolate``, ``F.adaptive_avg_pool2d``, ``F.max_pool2d``
  called in ``forward``) is treated as a pool whose window and stride are the size ratio, which is
  exact for integer ratios and global pooling, approximate otherwise.

Approximation for branches: every tensor operation, not only modules, carries the field from its
inputs to its output (a ``TorchFunctionMode``), and where several inputs meet (residual additions,
Inception or U-Net concatenations) the output gets the largest field and jump among them. That is
their union when the branches are centred alike, as in ResNet, Inception and DenseNet blocks; for
off-centre branches it is a lower bound.
"""
import math
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from ..backbones.lenet_classic import TrainableSubsampling
from .layer_cost import format_count, layer_cost

Pair = Tuple[float, float]
_ATTR = "_gantool_receptive_field"  # (rf_h, rf_w, jump_h, jump_w), attached to tensors during the pass

# Functional ops that change the geometry without a module around them (see the module docstring).
_RESAMPLING = {
    "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "adaptive_avg_pool2d",
    "adaptive_max_pool2d", "_adaptive_max_pool2d", "adaptive_max_pool2d_with_indices", "avg_pool2d",
    "max_pool2d", "_max_pool2d", "max_pool2d_with_indices", "lp_pool2d",
}


@dataclass
class LayerRow:
    """One call of a leaf module during the summary's forward pass.

    Attributes:
        name: qualified module name (``model.0``); ``""`` when the net itself is a leaf.
        kind: the module's class name.
        output_shape: shape of the output tensor (the first tensor of a tuple output), or None.
        params: parameters owned by the module, on its first call; None on later calls of a shared module.
        receptive_field: (height, width) in input pixels, or None when the output is not an image.
        jump: (height, width) input pixels between neighbouring output pixels, or None likewise.
        macs: multiply-accumulates of this call for one image (0 for layers without weighted sums).
        connections: input-to-output connections plus bias connections of this call, for one image.
    """

    name: str
    kind: str
    output_shape: Optional[Tuple[int, ...]]
    params: Optional[int]
    receptive_field: Optional[Pair]
    jump: Optional[Pair]
    macs: int = 0
    connections: int = 0


@dataclass
class Summary:
    """The result of ``summarize``; ``str(summary)`` is the table.

    Attributes:
        rows: one ``LayerRow`` per leaf-module call, in execution order.
        input_shape: the (N, C, H, W) input used.
        output_shape: shape of the net's (first) output tensor.
        total_params / trainable_params: over all of ``net.parameters()``, shared ones once.
        receptive_field / jump: of one pixel of the net's output, when that output is an image
            (N, C, H, W); else of the last image-shaped layer output (see ``field_layer``).
        field_layer: ``""`` when the figures are the output's, else the row name they come from.
        total_macs / total_connections: sums over the rows, for one image.
    """

    rows: List[LayerRow]
    input_shape: Tuple[int, ...]
    output_shape: Optional[Tuple[int, ...]]
    total_params: int
    trainable_params: int
    receptive_field: Optional[Pair] = None
    jump: Optional[Pair] = None
    field_layer: str = ""
    title: str = field(default="")
    total_macs: int = 0
    total_connections: int = 0

    @property
    def shows_connections(self) -> bool:
        """Whether the table has a Connections column: some row's connections differ from its MACs."""
        return any(r.connections != r.macs for r in self.rows)

    def table(self) -> str:
        """The layer table with totals, as text."""
        connections = self.shows_connections
        counts = ["Params", "MACs"] + (["Connections"] if connections else [])
        header = ["Layer", "Type", "Output shape", *counts, "RF", "Jump"]
        lines = []
        for r in self.rows:
            cells = ["-" if r.params is None else f"{r.params:,}", _fmt_count(r.macs)]
            if connections:
                cells.append(_fmt_count(r.connections))
            lines.append([r.name or "(net)", r.kind, _fmt_shape(r.output_shape), *cells,
                          _fmt_pair(r.receptive_field), _fmt_pair(r.jump)])
        widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
        right = set(range(3, 3 + len(counts)))  # right-align the counts

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "-" * len(fmt(header))
        out = ([self.title] if self.title else []) + [fmt(header), rule] + [fmt(line) for line in lines] + [rule]
        out += [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
            f"Total MACs: {format_count(self.total_macs)} per image",
        ]
        if connections:
            out.append(f"Total connections: {format_count(self.total_connections)} per image")
        out.append(f"Input: {_fmt_shape(self.input_shape)}   Output: {_fmt_shape(self.output_shape)}")
        if self.receptive_field is not None:
            where = "each output pixel" if not self.field_layer else f"each pixel of {self.field_layer} (last image-shaped output)"
            out.append(f"Receptive field of {where}: {_fmt_pair(self.receptive_field)} input pixels, "
                       f"jump {_fmt_pair(self.jump)}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()


def summarize(net: nn.Module, input_shape: Sequence[int]) -> Summary:
    """Run one forward pass of ``net`` and collect a ``Summary`` (see the module docstring).

    The pass runs in eval mode (so BatchNorm works on a batch of one and GoogLeNet-style auxiliary
    heads stay off) under ``torch.no_grad()``, on random input on the device of the net's first
    parameter; every module's training flag is restored afterwards.

    Args:
        net: any module taking one (N, C, H, W) tensor.
        input_shape: (C, H, W), for a batch of one, or (N, C, H, W).

    Returns:
        The ``Summary``.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        shape = (1,) + shape
    if len(shape) != 4:
        raise ValueError(f"input_shape must be (C, H, W) or (N, C, H, W), got {tuple(input_shape)}")
    first = next(net.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    rows: List[LayerRow] = []
    seen: set = set()
    handles = []
    for name, module in net.named_modules():
        if next(module.children(), None) is None:
            handles.append(module.register_forward_hook(_make_hook(name, rows, seen, batch=shape[0])))
    modes = {m: m.training for m in net.modules()}
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(device)
    setattr(x, _ATTR, (1.0, 1.0, 1.0, 1.0))
    try:
        net.eval()
        with torch.no_grad(), _FieldTracker():
            out = net(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    out = _first_tensor(out)
    result = Summary(
        rows=rows,
        input_shape=shape,
        output_shape=tuple(out.shape) if out is not None else None,
        total_params=sum(p.numel() for p in net.parameters()),
        trainable_params=sum(p.numel() for p in net.parameters() if p.requires_grad),
        total_macs=sum(r.macs for r in rows),
        total_connections=sum(r.connections for r in rows),
    )
    field_ = getattr(out, _ATTR, None) if out is not None and out.dim() == 4 else None
    if field_ is None:  # not an image output: report the last image-shaped layer output
        spatial = [r for r in rows if r.receptive_field is not None]
        if spatial:
            result.field_layer = spatial[-1].name or "(net)"
            result.receptive_field, result.jump = spatial[-1].receptive_field, spatial[-1].jump
    else:
        result.receptive_field, result.jump = _round(field_[:2]), _round(field_[2:])
    return result


def summary(net: nn.Module, input_shape: Sequence[int]) -> str:
    """The layer table of ``net`` for one input of ``input_shape`` ((C, H, W) or (N, C, H, W)):
    each leaf layer's output shape, parameters, MACs (and connections), receptive field and jump, and the totals.

    ``summarize`` returns the same figures as data. See the module docstring for the arithmetic.
    """
    return summarize(net, input_shape).table()


# ---- receptive-field arithmetic -------------------------------------------------------------

def _pair(v: Any) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _window(f: Tuple[float, ...], kernel: Any, stride: Any, dilation: Any = 1) -> Tuple[float, ...]:
    """Field after a sliding window (convolution or pool)."""
    (kh, kw), (sh, sw), (dh, dw) = _pair(kernel), _pair(stride), _pair(dilation)
    rh, rw, jh, jw = f
    return rh + dh * (kh - 1) * jh, rw + dw * (kw - 1) * jw, jh * sh, jw * sw


def _transposed(f: Tuple[float, ...], kernel: Any, stride: Any, dilation: Any) -> Tuple[float, ...]:
    """Field after a transposed convolution: each output sees ceil(k_eff / s) inputs."""
    (kh, kw), (sh, sw), (dh, dw) = _pair(kernel), _pair(stride), _pair(dilation)
    rh, rw, jh, jw = f
    nh, nw = math.ceil((dh * (kh - 1) + 1) / sh), math.ceil((dw * (kw - 1) + 1) / sw)
    return rh + (nh - 1) * jh, rw + (nw - 1) * jw, jh / sh, jw / sw


def _resample(f: Tuple[float, ...], size_in: Sequence[int], size_out: Sequence[int]) -> Tuple[float, ...]:
    """Field after a resampling of unknown window: window ceil(ratio), stride ratio, per side."""
    rh, rw, jh, jw = f
    ratio_h, ratio_w = size_in[0] / size_out[0], size_in[1] / size_out[1]
    rh += (math.ceil(ratio_h - 1e-9) - 1) * jh
    rw += (math.ceil(ratio_w - 1e-9) - 1) * jw
    return rh, rw, jh * ratio_h, jw * ratio_w


def _module_field(module: nn.Module, f: Tuple[float, ...]) -> Optional[Tuple[float, ...]]:
    """The exact field after ``module`` when it is a 2-D window layer, else None."""
    if isinstance(module, nn.ConvTranspose2d):
        return _transposed(f, module.kernel_size, module.stride, module.dilation)
    if isinstance(module, nn.Conv2d):
        return _window(f, module.kernel_size, module.stride, module.dilation)
    if isinstance(module, nn.MaxPool2d):
        return _window(f, module.kernel_size, module.stride, module.dilation)
    if isinstance(module, (nn.AvgPool2d, nn.LPPool2d, TrainableSubsampling)):
        return _window(f, module.kernel_size, module.stride or module.kernel_size)
    return None


def _round(p: Sequence[float]) -> Pair:
    return tuple(int(round(v)) if abs(v - round(v)) < 1e-6 else v for v in p)  # type: ignore[return-value]


# ---- tracking --------------------------------------------------------------------------------

def _tensors(obj: Any) -> List[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def _first_tensor(obj: Any) -> Optional[torch.Tensor]:
    found = _tensors(obj)
    return found[0] if found else None


class _FieldTracker(TorchFunctionMode):
    """Carries the field from the inputs of every tensor operation to its outputs."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [t for t in _tensors((args, kwargs)) if hasattr(t, _ATTR)]
        if not inputs:
            return out
        fields = [getattr(t, _ATTR) for t in inputs]
        merged = tuple(max(f[i] for f in fields) for i in range(4))
        if getattr(func, "__name__", "") in _RESAMPLING:
            first, result = inputs[0], _first_tensor(out)
            if first.dim() == 4 and result is not None and result.dim() == 4:
                merged = _resample(getattr(first, _ATTR), first.shape[-2:], result.shape[-2:])
        for t in _tensors(out):
            setattr(t, _ATTR, merged)
        return out


def _make_hook(name: str, rows: List[LayerRow], seen: set, batch: int):
    def hook(mod: nn.Module, inputs: Tuple[Any, ...], output: Any) -> None:
        x, out = _first_tensor(inputs), _first_tensor(output)
        f_in = getattr(x, _ATTR, None) if x is not None else None
        if f_in is not None and out is not None and out.dim() == 4:
            exact = _module_field(mod, f_in)
            if exact is not None:
                setattr(out, _ATTR, exact)
        f_out = getattr(out, _ATTR, None) if out is not None and out.dim() == 4 else None
        params = None if id(mod) in seen else sum(p.numel() for p in mod.parameters(recurse=False))
        seen.add(id(mod))
        macs, connections = layer_cost(mod, x, out, batch)
        rows.append(LayerRow(
            name=name,
            kind=type(mod).__name__,
            output_shape=tuple(out.shape) if out is not None else None,
            params=params,
            receptive_field=_round(f_out[:2]) if f_out else None,
            jump=_round(f_out[2:]) if f_out else None,
            macs=macs,
            connections=connections,
        ))

    return hook


def _fmt_shape(shape: Optional[Sequence[int]]) -> str:
    return "-" if shape is None else "(" + ", ".join(str(s) for s in shape) + ")"


def _fmt_count(n: int) -> str:
    return "-" if n == 0 else f"{n:,}"  # "-": the layer does no weighted sums


def _fmt_pair(p: Optional[Pair]) -> str:
    if p is None:
        return "-"
    return "x".join(str(v) if isinstance(v, int) else f"{v:.3g}" for v in p)
