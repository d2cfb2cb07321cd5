"""The training data of a whole run: each epoch's order, and one loader whose workers persist across epochs.

The order depends on (seed, epoch) only, so a resumed run replays it, from any image of the epoch; under
torchrun each process takes its shard of the same order. The worker processes start once per run, not
once per epoch, and learn each epoch from the index they are given.
"""
from typing import List, Optional

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from . import distributed


def epoch_order(size: int, shuffle: bool, seed: int, epoch: int) -> List[int]:
    """The indices of one epoch as a single process takes them: shuffled by (seed, epoch), or in order."""
    if not shuffle:
        return list(range(size))
    g = torch.Generator().manual_seed(seed * 100003 + epoch)
    return torch.randperm(size, generator=g).tolist()


class RunLoader:
    """One DataLoader for the run (``persistent_workers`` when there are workers).

    Args:
        dataset: a map-style dataset with ``set_epoch``.
        batch_size, num_workers, shuffle, pin_memory: as for ``DataLoader`` (shuffle: per-epoch order).
    """

    def __init__(self, dataset, batch_size: int, num_workers: int, shuffle: bool, pin_memory: bool):
        self.dataset, self.batch_size, self.num_workers = dataset, batch_size, num_workers
        self.shuffle, self.pin_memory = shuffle, pin_memory
        self._order = _EpochOrder()
        self._loader: Optional[DataLoader] = None

    def epoch(self, epoch: int, skip: int, seed: int) -> DataLoader:
        """The loader for ``epoch`` from image ``skip`` (images of all processes) with the run's ``seed``."""
        self.dataset.set_epoch(epoch)
        if distributed.is_active():  # this process's shard of the same order (a DistributedSampler)
            indices = list(distributed.ShardSampler(self.dataset, epoch, skip, self.shuffle, seed * 100003))
        else:
            indices = epoch_order(len(self.dataset), self.shuffle, seed, epoch)[skip:]
        self._order.set(epoch, indices)
        if self._loader is None:
            # Its own generator: starting an iterator draws a base seed, which taken from the global RNG would
            # shift every later draw (noise, dropout) of a resumed run, since a resume starts one more iterator.
            g = torch.Generator().manual_seed(seed * 100003)
            self._loader = DataLoader(_EpochItems(self.dataset), batch_size=self.batch_size, sampler=self._order,
                                      num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                                      pin_memory=self.pin_memory, drop_last=False, generator=g)
        return self._loader


class _EpochOrder(Sampler):
    """The current epoch's indices as ``(epoch, index)`` pairs; set before each epoch."""

    def __init__(self):
        self.epoch, self.indices = 0, []

    def set(self, epoch: int, indices: List[int]) -> None:
        self.epoch, self.indices = epoch, indices

    def __iter__(self):
        return iter([(self.epoch, i) for i in self.indices])

    def __len__(self) -> int:
        return len(self.indices)


class _EpochItems(Dataset):
    """The training dataset, told the epoch with every index: persistent workers keep their own copies
    of it, which a ``set_epoch`` in the main process would not reach."""

    def __init__(self, dataset):
        self.dataset, self.epoch = dataset, None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        if epoch != self.epoch:
            self.dataset.set_epoch(epoch)
            self.epoch = epoch
        return self.dataset[index]
