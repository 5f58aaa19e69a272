"""Pretraining samples: random excerpts of stored clips.

Workers only slice memory-mapped arrays and copy them into a batch; resampling, augmentation
and the frontend run on the device, on the whole batch (docs/DESIGN.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, RandomSampler

from ssl_music_bench.store import ClipStore


class ExcerptDataset(Dataset[Tensor]):
    """Item k: a random excerpt of ``samples`` from clip ``indices[k]`` (zero-padded if shorter)."""

    def __init__(self, store: ClipStore, indices: list[int], samples: int) -> None:
        self.store = store
        self.indices = indices
        self.samples = samples

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> Tensor:
        index = self.indices[k]
        length = self.store.items[index].length
        if length <= self.samples:
            excerpt = np.zeros(self.samples, dtype=np.float32)
            excerpt[:length] = self.store.read(index)
            return torch.from_numpy(excerpt)
        # torch's RNG: seeded by Lightning's seed_everything, per worker when workers are used
        start = int(torch.randint(0, length - self.samples + 1, ()).item())
        return torch.from_numpy(self.store.read(index, start, self.samples))


def excerpt_loader(
    store: ClipStore, indices: list[int], samples: int, batch_size: int, steps: int, seed: int, num_workers: int
) -> DataLoader[Tensor]:
    """Exactly ``steps`` batches of excerpts, clips drawn in seeded random order across epochs."""
    dataset = ExcerptDataset(store, indices, samples)
    generator = torch.Generator().manual_seed(seed)
    sampler = RandomSampler(dataset, num_samples=steps * batch_size, generator=generator)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=True,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),
    )
