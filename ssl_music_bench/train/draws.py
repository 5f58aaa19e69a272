"""Random draws on the device that do not depend on how many processes share the batch.

With DDP each of N processes holds a slice of the global batch (ssl_music_bench/data/sampler.py). If
each drew its crops, coins and noise for its own rows from its own stream, the examples would
get other draws than in one process with the whole batch, and N processes would train a
different (equally random) model than one. Instead every process seeds its device generator with
the same (seed, step) and, for each draw, draws the values of the whole GLOBAL batch and keeps
its own rows: example k of the global batch gets the same crop, coins and noise whatever N is,
so N processes compute what one process computes (tests/train/test_draws.py, tests/train/test_distributed.py).

The price is drawing N times as many numbers, which is small next to the model (parameters are
a few numbers per example; the largest draw is white noise of one crop per example). Every draw
must be made by every process with the same global shape, also where the local rows do not need
it (e.g. noise for rows whose coin said "no"), so that the processes' streams stay in step.

A draw is written as ``draw(batch, lambda n: torch.rand(n, ...))``: ``make(n)`` draws n
examples' values along dimension 0. Outside :func:`sharded_draws` (one process, evaluation,
tests) it is simply ``make(batch)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import Tensor

_shard: tuple[int, int] = (0, 1)  # (rank, world size) of the training step in progress


@contextmanager
def sharded_draws(rank: int, world_size: int) -> Iterator[None]:
    """Within the block, draws are those of this process's rows of the global batch."""
    global _shard
    previous, _shard = _shard, (rank, world_size)
    try:
        yield
    finally:
        _shard = previous


def draw(batch: int, make: Callable[[int], Tensor]) -> Tensor:
    """This process's ``batch`` rows of ``make(batch x world size)`` (see the module doc)."""
    rank, world = _shard
    if world == 1:
        return make(batch)
    return make(batch * world)[rank * batch : (rank + 1) * batch]
