"""Pretraining samples: random excerpts of stored clips, in global batches sharded per process.

A pretraining example is a dict of tensors; its audio entries (named by the method's
``audio_keys``) are resampled on the device. Workers only slice memory-mapped arrays and copy
them into a batch; resampling, augmentation and the frontend run on the device, on the whole
batch (docs/ARCHITECTURE.md, "One run").

With several processes (DDP), a loader's ``batch_size`` is this process's share: every process
draws the same global batch of ``batch_size x world size`` examples from the same seeded
generator and keeps its own slice, and each example's excerpt offset is drawn from a seed of
its own place in the global sequence. So the examples (and excerpts) that one process sees in
one step are exactly those that N processes see together, whatever N is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, RandomSampler

from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.train.distributed import distributed_rank

Example = dict[str, Tensor]


class SeededIndex(int):
    """A dataset index that carries the seed of its random excerpt.

    It is an ``int``, so datasets that wrap :class:`ExcerptDataset` and index their own arrays
    with it (labels, ...) keep working; :class:`ExcerptDataset` draws the excerpt's offset from
    ``seed`` instead of the process's global generator, which differs between processes.
    """

    seed: tuple[int, int]

    def __new__(cls, index: int, seed: tuple[int, int]) -> SeededIndex:
        seeded = super().__new__(cls, index)
        seeded.seed = seed
        return seeded

    def __reduce__(self) -> tuple[type, tuple[int, tuple[int, int]]]:  # pickled to loader workers
        return SeededIndex, (int(self), self.seed)


def padded_read(store: ClipStore, index: int, start: int, samples: int, source: str = "mix") -> np.ndarray:
    """Samples [start, start + samples) of a stored clip, zero-padded past the clip's end."""
    available = min(samples, store.items[index].length - start)
    if available == samples:  # the usual case: the read is already a fresh array, copy nothing
        return store.read(index, start, samples, source=source)
    excerpt = np.zeros(samples, dtype=np.float32)
    excerpt[:available] = store.read(index, start, available, source=source)
    return excerpt


def random_excerpt(
    store: ClipStore, index: int, samples: int, source: str = "mix", rng: np.random.Generator | None = None
) -> np.ndarray:
    """A random excerpt of ``samples`` from a stored clip, zero-padded when the clip is shorter.

    The offset comes from ``rng`` when given, otherwise from torch's global generator (seeded by
    Lightning's seed_everything, per worker when workers are used).
    """
    length = store.items[index].length
    if length <= samples:
        return padded_read(store, index, 0, samples, source)
    if rng is not None:
        start = int(rng.integers(0, length - samples + 1))
    else:
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
        rng = np.random.default_rng(list(k.seed)) if isinstance(k, SeededIndex) else None
        return {"audio": torch.from_numpy(random_excerpt(self.store, self.indices[k], self.samples, rng=rng))}


class StepSequence:
    """A batch sampler's fixed, seeded sequence of ``steps`` batches that can start part-way.

    A resumed pretraining calls ``start_at(step)`` with the step of its checkpoint; subclasses
    draw every step from the beginning and yield those from ``first_step`` on, so the resumed run
    gets exactly the batches an uninterrupted run gets from there (the draws are cheap: indices,
    not audio).
    """

    steps: int
    first_step: int = 0

    def start_at(self, step: int) -> None:
        self.first_step = step

    def __len__(self) -> int:
        return max(self.steps - self.first_step, 0)


class ShardedBatchSampler(StepSequence):
    """``steps`` batches of this process's slice of one seeded global batch.

    The global order is that of ``RandomSampler(num_samples=steps x global batch)`` with a
    generator seeded by ``seed`` (seeded random order across passes, no repeats within a pass);
    one process reproduces exactly what N processes draw together. Rank and world size are read
    when iteration starts, i.e. after the trainer has set up the process group, unless given.
    """

    def __init__(
        self, data: Sized, batch_size: int, steps: int, seed: int,
        rank: int | None = None, world_size: int | None = None,
    ) -> None:
        self.data, self.batch_size, self.steps, self.seed = data, batch_size, steps, seed
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[list[SeededIndex]]:
        rank, world = distributed_rank() if self.rank is None else (self.rank, self.world_size or 1)
        total = self.batch_size * world
        generator = torch.Generator().manual_seed(self.seed)
        order = iter(RandomSampler(self.data, num_samples=self.steps * total, generator=generator))
        for step in range(self.steps):
            batch = [next(order) for _ in range(total)]
            if step >= self.first_step:
                first = rank * self.batch_size
                mine = range(first, first + self.batch_size)
                yield [SeededIndex(batch[p], (self.seed, step * total + p)) for p in mine]


def pretrain_loader(
    dataset: Dataset[Example], batch_size: int, steps: int, seed: int, num_workers: int
) -> DataLoader[Example]:
    """Exactly ``steps`` batches of ``batch_size`` (this process's share of the global batch),
    examples drawn in seeded random order across passes (:class:`ShardedBatchSampler`)."""
    return DataLoader(
        dataset,
        batch_sampler=ShardedBatchSampler(dataset, batch_size, steps, seed),  # type: ignore[arg-type]
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),
    )
