"""Image history buffer (Shrivastava et al. 2017), as used by CycleGAN's discriminators.

Feeding D a mix of current and past fakes keeps it from chasing only the generator's latest
output, which damps oscillation.
"""
import random
from typing import Any, Dict, List, Optional, Union

import torch
from torch import Tensor


class ImagePool:
    """A buffer of up to ``pool_size`` previously generated images.

    Args:
        pool_size: capacity; ``0`` disables the buffer (:meth:`query` returns its input).
        seed: seed of the pool's own ``random.Random``. The global ``random`` module is never
            used, so the choices depend only on the seed and the queries, and a run resumed
            from :meth:`state_dict` makes the same choices as an uninterrupted one.
    """

    def __init__(self, pool_size: int, seed: int = 0):
        if pool_size < 0:
            raise ValueError(f"--pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.images: List[Tensor] = []
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: Tensor) -> Tensor:
        """Return a batch for the discriminator, updating the buffer.

        For each image: while the buffer is not full, store it and return it; once full, with
        probability 0.5 return a random stored image and store the new one in its place,
        otherwise return the new image.

        Args:
            images: generated batch ``(N, C, H, W)``.

        Returns:
            ``(N, C, H, W)``, detached (D's update does not train G). With ``pool_size`` 0 the
            input itself, gradient included, as in the classic code.
        """
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.pool_size:
                # Clone so the stored copy does not alias the generator's output buffer.
                self.images.append(image.clone())
                out.append(image)
            elif self._rng.uniform(0, 1) > 0.5:
                index = self._rng.randint(0, self.pool_size - 1)
                out.append(self.images[index])
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.stack(out, 0)

    def state_dict(self) -> Dict[str, Any]:
        """The buffer and RNG state, loadable with ``torch.load(weights_only=True)``.

        Returns:
            ``{"pool_size": int, "images": list of CPU tensors (C, H, W), "rng_state": tuple}``;
            ``rng_state`` is ``random.Random.getstate()``, a tuple of ints and ``None``.
        """
        return {
            "pool_size": self.pool_size,
            "images": [image.cpu() for image in self.images],
            "rng_state": self._rng.getstate(),
        }

    def load_state_dict(self, state: Dict[str, Any], device: Optional[Union[str, torch.device]] = None) -> None:
        """Restore from :meth:`state_dict`.

        Args:
            state: the dict returned by :meth:`state_dict` (possibly after ``torch.save``/``torch.load``).
            device: where to put the stored images (default: keep them where they are, CPU after loading).
        """
        images = list(state["images"])
        if len(images) > self.pool_size:
            raise ValueError(
                f"the saved image pool holds {len(images)} images but --pool_size is {self.pool_size}"
            )
        self.images = [image.to(device) if device is not None else image for image in images]
        version, internal, gauss = state["rng_state"]
        # setstate insists on tuples; accept lists too, in case the state went through another format.
        self._rng.setstate((version, tuple(internal), gauss))
