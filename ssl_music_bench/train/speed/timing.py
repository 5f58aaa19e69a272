"""Wall-clock timing that background load affects as little as possible.

Two ways of doing the same work are timed in turn, repeat by repeat (or step by step), so that
load from other processes (or CPU frequency changes) hits both alike; each call is timed on the
wall clock, with ``torch.cuda.synchronize`` on a GPU, and the fastest repeat of each is the
figure reported (as timeit: other load only ever slows a call down).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from ssl_music_bench.data.sampler import Example


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU), so a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_device(batch: Example, device: torch.device) -> Example:
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes, its device work included."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def batched_vs_looped(
    batched: Callable[[], Any], looped: Callable[[], Any], clips: int, repeats: int, device: torch.device
) -> tuple[float, float]:
    """Clips/s of a batched call over ``clips`` clips and of its one-clip-at-a-time loop.

    One warm-up call each (allocator, FFT plans, CUDA kernels), then the two timed in turn,
    repeat by repeat, so that background load hits both alike; the fastest repeat of each (as
    timeit: load only ever slows a call down).
    """
    batched(), looped()
    fast: list[float] = []
    slow: list[float] = []
    for _ in range(repeats):
        fast.append(clips / timed(batched, device))
        slow.append(clips / timed(looped, device))
    return max(fast), max(slow)


@dataclass
class StepTimes:
    """Seconds of each timed step of the two paths, and what the pipeline waited for its data."""

    pipeline: list[float] = field(default_factory=list)
    model_only: list[float] = field(default_factory=list)
    data_wait_s: float = 0.0
    losses: list[float] = field(default_factory=list)


def pipeline_vs_model_only(
    step: Callable[[Example], torch.Tensor], batches: Iterator[Example], cached: Example, steps: int,
    device: torch.device,
) -> StepTimes:
    """``steps`` pipeline steps (next batch from the loader, onto the device, the step) and as many
    model-only steps (the step on ``cached``, already on the device), interleaved step by step."""
    times = StepTimes()
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        batch = to_device(next(batches), device)
        synchronize(device)
        fetched = time.perf_counter()
        times.losses.append(float(step(batch)))
        synchronize(device)
        times.pipeline.append(time.perf_counter() - start)
        times.data_wait_s += fetched - start
        times.model_only.append(timed(lambda: step(cached), device))
    return times
