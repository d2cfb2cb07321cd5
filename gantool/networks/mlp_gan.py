"""The fully connected GAN (Goodfellow et al. 2014) as in PyTorch-GAN's ``implementations/gan/gan.py``.

The layouts reproduce that code's ``nn.Sequential`` exactly (``model.0.weight`` ... ``model.11.bias``),
so its generators load unchanged; the discriminator drops the final ``Sigmoid`` (parameter-free, so
the keys are the same) because the losses take logits.
"""
from typing import List

import torch.nn as nn
from torch import Tensor

from ..io.arch import MLPGeneratorArch
from ..ops.activations import check_activation, make_activation

#: the hidden layers' activation of the reference code (LeakyReLU, slope 0.2)
DEFAULT_ACTIVATION = "leaky_relu"


def _block(in_features: int, out_features: int, normalize: bool, activation: str) -> List[nn.Module]:
    layers: List[nn.Module] = [nn.Linear(in_features, out_features)]
    if normalize:
        # eps=0.8 is the reference code's positional slip (it meant momentum); kept because the
        # published MLP GAN samples were tuned with it and it damps early mode collapse.
        layers.append(nn.BatchNorm1d(out_features, 0.8))
    layers.append(make_activation(activation))
    return layers


class MLPGenerator(nn.Module):
    """latent -> 128 -> 256 -> 512 -> 1024 -> C*H*W, LeakyReLU(0.2), BatchNorm1d from the second block, Tanh.

    Args:
        latent_dim: length of the noise vector z.
        channels: image channels C (1 or 3).
        img_size: image height and width.
        activation: the hidden layers' activation (``gantool.ops.activations``); the default keeps the
            reference layout exactly, ``prelu`` adds a ``model.<i>.weight`` slope per hidden layer.

    Shapes: (N, latent_dim) -> (N, C, img_size, img_size) in [-1, 1].
    """

    def __init__(self, latent_dim: int = 100, channels: int = 1, img_size: int = 28,
                 activation: str = DEFAULT_ACTIVATION):
        super().__init__()
        self.img_shape = (channels, img_size, img_size)
        # Saved beside its checkpoints (gantool.io.arch): test.py and the API rebuild it without options.
        self.gantool_arch = MLPGeneratorArch(latent_dim=latent_dim, channels=channels, img_size=img_size,
                                             activation=check_activation(activation))
        self.model = nn.Sequential(
            *_block(latent_dim, 128, False, activation),
            *_block(128, 256, True, activation),
            *_block(256, 512, True, activation),
            *_block(512, 1024, True, activation),
            nn.Linear(1024, channels * img_size * img_size),
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        img = self.model(z.flatten(1))  # (N, C*H*W)
        return img.view(img.shape[0], *self.img_shape)  # (N, C, H, W)


class MLPDiscriminator(nn.Module):
    """C*H*W -> 512 -> 256 -> 1 with LeakyReLU(0.2); returns logits.

    Args:
        channels: image channels C.
        img_size: image height and width.
        activation: the hidden layers' activation, as for ``MLPGenerator``.

    Shapes: (N, C, img_size, img_size) -> (N, 1) raw logits.
    """

    def __init__(self, channels: int = 1, img_size: int = 28, activation: str = DEFAULT_ACTIVATION):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(channels * img_size * img_size, 512),
            make_activation(activation),
            nn.Linear(512, 256),
            make_activation(activation),
            nn.Linear(256, 1),
        )

    def forward(self, img: Tensor) -> Tensor:
        return self.model(img.flatten(1))  # (N, C*H*W) -> (N, 1)
