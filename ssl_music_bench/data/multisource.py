"""Source-homogeneous batches of (mixture excerpt, source excerpt) pairs for multi-source methods.

Multi-source association (Garoufis et al., SMC 2023; cgaroufis/MSCOL_SMC23) cuts every mixture
into non-overlapping ~4 s excerpts, marks a source excerpt silent when mean(|x|) <= 0.01 over the
same window of the raw stem, and fills each batch with ONE source: either only excerpts where
that source plays, or (the "silent" batches) excerpts drawn from the whole set.

All decisions (which source, which excerpts) are made up front by :class:`SourceBatchSampler`
from a seeded generator, on a fixed excerpt grid whose activity table was computed on exactly
the windows the dataset later slices; :class:`SourceExcerpts` only slices arrays. Crops, the
resampling to the encoder's rate and the zeroing of silent positives happen on the device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ssl_music_bench.data.sampler import Example, StepSequence, padded_read
from ssl_music_bench.data.silence import stored_levels, window_means
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.errors import BenchError
from ssl_music_bench.train.distributed import distributed_rank

Decision = tuple[int, int, int, bool]  # (store index, excerpt start, source number, silent)


@dataclass(frozen=True)
class ExcerptGrid:
    """Non-overlapping excerpts of ``samples`` and whether each source plays in each one."""

    sources: tuple[str, ...]
    clips: np.ndarray  # (E,) store index of each excerpt
    starts: np.ndarray  # (E,) first sample of each excerpt in its clip
    active: np.ndarray  # (E, S) mean(|stem|) over the excerpt > threshold, per source
    samples: int


def excerpt_grid(
    store: ClipStore, indices: Sequence[int], samples: int, sources: Sequence[str], threshold: float
) -> ExcerptGrid:
    """Cut every clip into whole excerpts of ``samples`` (a shorter clip is one padded excerpt)
    and take each source's activity on exactly those windows: from the levels `bench separate`
    stored when they were computed on the same windows, else measured here."""
    require_stems(store, sources)
    clips, starts, active = [], [], []
    for index in indices:
        length = store.items[index].length
        count = max(1, length // samples)
        used = min(length, count * samples)
        # `bench separate` stored these levels for its stems; measure only what it did not store
        levels = stored_levels(store, index, samples, sources)
        if levels is None:
            levels = np.stack([window_means(store.read(index, 0, used, source=s), samples) for s in sources], axis=1)
        clips += [index] * count
        starts += [k * samples for k in range(count)]
        active.append(levels > threshold)
    if not clips:
        raise BenchError(f"The store at {store.root} has no clips to pretrain on in the chosen split.")
    return ExcerptGrid(tuple(sources), np.asarray(clips), np.asarray(starts), np.concatenate(active), samples)


def require_stems(store: ClipStore, sources: Sequence[str]) -> None:
    """Refuse, with a fix, a store that lacks the stems a multi-source method needs."""
    missing = [s for s in sources if s not in store.sources]
    if missing:
        have = ", ".join(store.sources) or "none"
        raise BenchError(
            f"Multi-source pretraining needs the stems {', '.join(missing)} of every clip, but the "
            f"store at {store.root} has {have}. Separate the dataset into stems first with `bench "
            "separate --task TASK` (open-unmix; it writes a stems store next to the prepared mixtures, "
            "which the task then reads), or pretrain on the built-in synthetic songs, which come "
            "with their stems (drums, bass, vocals, other)."
        )


class SourceBatchSampler(StepSequence):
    """Yields ``steps`` batches of decisions; each batch holds one source drawn uniformly
    (``homogeneous``, MSCOL_SMC23 pretraining.py: one ``tid`` per batch of 128), or, for the
    ablation of batch homogeneity, each example draws its own source (mixed batches).

    A batch is, with probability ``silent_probability``, drawn from the whole grid (positives of
    excerpts where the source is silent are flagged), otherwise only from excerpts where the
    source plays. Excerpts are drawn without replacement when the pool is large enough. With
    several processes every rank draws the same global batch and keeps its own slice, so the
    gathered batch is still source-homogeneous (rank and world size are read when iteration
    starts, i.e. after the trainer has set up the process group, unless given).
    """

    def __init__(  # rank and world_size are for tests that play several processes in one
        self, grid: ExcerptGrid, batch_size: int, steps: int, seed: int, silent_probability: float,
        rank: int | None = None, world_size: int | None = None, homogeneous: bool = True,
    ) -> None:
        self.grid, self.batch_size, self.steps, self.seed = grid, batch_size, steps, seed
        self.silent_probability, self.rank, self.world_size = silent_probability, rank, world_size
        self.homogeneous = homogeneous
        self.pools = [np.flatnonzero(grid.active[:, s]) for s in range(len(grid.sources))]
        never = [name for name, pool in zip(grid.sources, self.pools) if len(pool) == 0]
        if never and silent_probability < 1:
            raise BenchError(
                f"The source(s) {', '.join(never)} are silent (mean |x| at or below the threshold) "
                "in every excerpt of the pretraining data, so no batch of active pairs can be "
                "drawn for them. Leave them out of `sources` (e.g. --set sources=drums,bass)."
            )

    def __iter__(self) -> Iterator[list[Decision]]:
        rank, world = distributed_rank() if self.rank is None else (self.rank, self.world_size or 1)
        rng = np.random.default_rng(self.seed)  # the same on every rank: same source, same batch
        everything = np.arange(len(self.grid.clips))
        total = self.batch_size * world
        for step in range(self.steps):
            if self.homogeneous:
                source = int(rng.integers(len(self.pools)))
                pool = everything if rng.random() < self.silent_probability else self.pools[source]
                chosen = rng.choice(pool, size=total, replace=len(pool) < total)
                sources = np.full(total, source)
            else:
                chosen, sources = self._mixed(rng, everything, total)
            if step < self.first_step:  # drawn and dropped: a resumed run starts later
                continue
            mine = slice(rank * self.batch_size, (rank + 1) * self.batch_size)
            yield [
                (int(self.grid.clips[e]), int(self.grid.starts[e]), int(s), not self.grid.active[e, s])
                for e, s in zip(chosen[mine], sources[mine])
            ]

    def _mixed(self, rng: np.random.Generator, everything: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
        """One mixed batch: every example draws its source uniformly; the batch is, as a whole,
        a whole-set (silent) batch with ``silent_probability``, else each example comes from its
        source's active excerpts (without replacement within a source when the pool allows)."""
        sources = rng.integers(len(self.pools), size=total)
        whole_set = rng.random() < self.silent_probability
        chosen = np.empty(total, dtype=np.int64)
        for source in range(len(self.pools)):
            rows = np.flatnonzero(sources == source)
            pool = everything if whole_set else self.pools[source]
            if len(rows):
                chosen[rows] = rng.choice(pool, size=len(rows), replace=len(pool) < len(rows))
        return chosen, sources


class SourceExcerpts(Dataset[Example]):
    """Decision -> {"audio": mixture excerpt, "positive": source excerpt, flags}; only slicing."""

    def __init__(self, store: ClipStore, sources: Sequence[str], samples: int) -> None:
        self.store, self.sources, self.samples = store, tuple(sources), samples

    def __getitem__(self, decision: Decision) -> Example:  # type: ignore[override]
        index, start, source, silent = decision
        return {
            "audio": torch.from_numpy(padded_read(self.store, index, start, self.samples)),
            "positive": torch.from_numpy(padded_read(self.store, index, start, self.samples, self.sources[source])),
            "silent": torch.tensor(silent),
            "source": torch.tensor(source),
            "index": torch.tensor(index),
            "start": torch.tensor(start),
        }


# Eleven parameters: the data (store, indices), MSA's own settings (sources, excerpt length, silence
# threshold and probability, homogeneity) and the run's loop settings, passed straight through from
# MSA.pretrain_batches; a type bundling them would serve this one call.
def source_batches(
    store: ClipStore, indices: Sequence[int], sources: Sequence[str], samples: int, threshold: float,
    silent_probability: float, batch_size: int, steps: int, seed: int, num_workers: int,
    homogeneous: bool = True,
) -> DataLoader[Example]:
    """Exactly ``steps`` batches of ``batch_size`` pairs, source-homogeneous unless
    ``homogeneous`` is False (see the module doc); with several processes ``batch_size`` is this
    process's share of the global batch."""
    grid = excerpt_grid(store, indices, samples, sources, threshold)
    sampler = SourceBatchSampler(grid, batch_size, steps, seed, silent_probability, homogeneous=homogeneous)
    return DataLoader(
        SourceExcerpts(store, sources, samples),  # type: ignore[arg-type]
        batch_sampler=sampler,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),
    )
