"""sRGB <-> CIE Lab (D65) in torch, for the colorization model.

The formulas and constants are those of scikit-image's ``rgb2lab`` / ``lab2rgb`` (which the classic
colorization code uses), so L lies in [0, 100] and a, b roughly in [-110, 110]. Everything works on
the channel dimension ``-3``: one image (3, H, W) or a batch (N, 3, H, W), on any device.
"""
import torch
from torch import Tensor

# sRGB (linear) -> XYZ, and the D65 reference white.
_RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423),
               (0.212671, 0.715160, 0.072169),
               (0.019334, 0.119193, 0.950227))
_WHITE = (0.95047, 1.0, 1.08883)

#: L/50 - 1 and ab/110 map Lab into [-1, 1] (the classic colorization normalisation).
L_SCALE, AB_SCALE = 50.0, 110.0


def _matmul_channels(matrix: Tensor, x: Tensor) -> Tensor:
    """Apply a 3x3 ``matrix`` to the channel dimension -3 of ``x`` (..., 3, H, W), in float32 even
    under bf16/fp16 autocast (an 8-bit mantissa would shift colours by several Lab units)."""
    with torch.autocast(x.device.type, enabled=False):
        dtype = torch.promote_types(x.dtype, torch.float32)
        return torch.einsum("ij,...jhw->...ihw", matrix.to(dtype), x.to(dtype))


def _const(values, like: Tensor) -> Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def _check(x: Tensor, name: str) -> None:
    if x.dim() < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} expects (3, H, W) or (N, 3, H, W) images, got shape {tuple(x.shape)}")


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1] -> Lab (L in [0, 100], a and b about [-110, 110]).

    Args:
        rgb: (3, H, W) or (N, 3, H, W), float, values in [0, 1].
    Returns:
        Lab of the same shape and dtype.
    """
    _check(rgb, "rgb_to_lab")
    rgb = rgb.clamp(0, 1)
    # Undo the sRGB gamma curve (linear segment near black).
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _matmul_channels(_const(_RGB_TO_XYZ, rgb), linear)
    xyz = xyz / _const(_WHITE, rgb).view(3, 1, 1)
    # Cube root with the linear segment of the CIE definition; clamp keeps the root's argument >= 0.
    f = torch.where(xyz > 0.008856, xyz.clamp_min(0.008856) ** (1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """Lab -> sRGB in [0, 1] (out-of-gamut colours are clipped, as scikit-image does).

    Args:
        lab: (3, H, W) or (N, 3, H, W), float; L in [0, 100], a and b about [-110, 110].
    Returns:
        RGB of the same shape and dtype, in [0, 1].
    """
    _check(lab, "lab_to_rgb")
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    # z below 0 has no colour: clip it (scikit-image does the same, with a warning).
    f = torch.stack([fy + a / 500, fy, (fy - b / 200).clamp_min(0)], dim=-3)
    xyz = torch.where(f > 0.2068966, f ** 3, (f - 16 / 116) / 7.787)
    xyz = xyz * _const(_WHITE, lab).view(3, 1, 1)
    linear = _matmul_channels(torch.linalg.inv(_const(_RGB_TO_XYZ, lab).double()).to(lab.dtype), xyz)
    # Re-apply the sRGB gamma; clamp before the power, since negative values have no real root.
    rgb = torch.where(linear > 0.0031308, 1.055 * linear.clamp_min(0.0031308) ** (1 / 2.4) - 0.055,
                      linear * 12.92)
    return rgb.clamp(0, 1)


def lab_to_model(lab: Tensor):
    """Split Lab into the model's inputs and targets in [-1, 1].

    Args:
        lab: (..., 3, H, W) Lab.
    Returns:
        ``(L, ab)``: (..., 1, H, W) ``L / 50 - 1`` and (..., 2, H, W) ``ab / 110``.
    """
    return lab[..., :1, :, :] / L_SCALE - 1.0, lab[..., 1:, :, :] / AB_SCALE


def model_to_rgb(L: Tensor, ab: Tensor) -> Tensor:
    """Join the model's L (N, 1, H, W) and ab (N, 2, H, W), both in [-1, 1], into RGB in [-1, 1].

    Returns:
        (N, 3, H, W) RGB in [-1, 1], the range every saved visual uses.
    """
    lab = torch.cat([(L.float() + 1.0) * L_SCALE, ab.float() * AB_SCALE], dim=-3)
    return lab_to_rgb(lab) * 2 - 1
