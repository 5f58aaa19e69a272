"""Pretraining samples: random excerpts of stored clips.

A pretraining example is a dict of tensors; its audio entries (named by the method's
``audio_keys``) are resampled on the device. Workers only slice memory-mapped arrays and copy
them into a batch; resampling, augmentation and the frontend run on the device, on the whole
batch (docs/DESIGN.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, RandomSampler

from ssl_music_bench.store import ClipStore


Example = dict[str, Tensor]


def random_excerpt(store: ClipStore, index: int, samples: int, source: str = "mix") -> np.ndarray:
    """A random excerpt of ``samples`` from a stored clip, zero-padded when the clip is shorter."""
    length = store.items[index].length
    if length <= samples:
        excerpt = np.zeros(samples, dtype=np.float32)
        excerpt[:length] = store.read(index, source=source)
        return excerpt
    # torch's RNG: seeded by Lightning's seed_everything, per worker when workers are used
    start = int(torch.randint(0, length - samples + 1, ()).item())
    return store.read(index, start, samples, source=source)


class ExcerptDataset(Dataset[Example]):
    """Item k: {"audio": a random excerpt of ``samples`` from clip ``indices[k]``}."""

    def __init__(self, store: ClipStore, indices: list[int], samples: int) -> None:
        self.store = store
        self.indices = indices
        self.samples = samples

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> Example:
        return {"audio": torch.from_numpy(random_excerpt(self.store, self.indices[k], self.samples))}


def pretrain_loader(
    dataset: Dataset[Example], batch_size: int, steps: int, seed: int, num_workers: int
) -> DataLoader[Example]:
    """Exactly ``steps`` batches, examples drawn in seeded random order across passes."""
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
