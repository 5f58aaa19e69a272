"""Per-example random draws and "apply to the chosen rows only", shared by every transform.

CLMR wraps each transform in ``RandomApply([t], p)`` and calls it once per clip
(Spijkervet/CLMR main.py; torchaudio-augmentations apply.py), so every clip gets its own coin
and its own parameters. Here one call draws a whole batch of coins and parameters as tensors
on the wave's device, which keeps the augmentation on the training device (why: docs/FACTS-ADDENDA.md).
Every draw goes through ``ssl_music_bench.train.distributed.draw``, so that under DDP an example gets the
same draws whatever the number of processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable

import torch
from torch import Tensor

from ssl_music_bench.train.distributed import draw

Generator = torch.Generator | None


def check_batch(wave: Tensor) -> None:
    """Refuse anything but a floating (B, N) batch early, with a message that says what to pass."""
    if wave.dim() != 2:
        raise ValueError(f"expected a batch of mono clips (B, N), got shape {tuple(wave.shape)}")
    if not wave.is_floating_point():
        raise TypeError(f"expected a floating-point wave, got {wave.dtype}")


def coin(batch: int, p: float, device: torch.device, generator: Generator = None) -> Tensor:
    """(B,) bool: True where an example's own coin says "apply" (probability ``p``)."""
    if p <= 0.0:
        return torch.zeros(batch, dtype=torch.bool, device=device)
    if p >= 1.0:
        return torch.ones(batch, dtype=torch.bool, device=device)
    return draw(batch, lambda n: torch.rand(n, device=device, generator=generator)) < p


def uniform(
    batch: int, low: float, high: float, device: torch.device, generator: Generator = None
) -> Tensor:
    """(B,) float32 drawn from U(low, high), one value per example."""
    u = draw(batch, lambda n: torch.rand(n, device=device, generator=generator))
    return low + (high - low) * u


def randint(
    batch: int, low: int, high: int, device: torch.device, generator: Generator = None, each: tuple[int, ...] = ()
) -> Tensor:
    """(B, *each) int64 drawn uniformly from {low, ..., high} (both ends included, like
    random.randint): one value per example, or ``each``-shaped values per example."""
    return draw(batch, lambda n: torch.randint(low, high + 1, (n, *each), device=device, generator=generator))


CPU_CHUNK_SAMPLES = 1 << 19
"""On CPU, expensive transforms run on about this many samples (rows x length) at a time.

Measured reason: a pitch shift of 48 clips of 59,049 samples makes intermediates of about
35 MB; allocating such blocks maps fresh pages from the OS on every call (glibc serves
blocks over 32 MB with mmap; a 35 MB multiply took 25 ms with a fresh output and 6 ms into
a reused one on the 2-core development machine). Chunks of about nine clips stay in reused
memory and cache; the pitch shift ran about 1.5-2x faster. GPUs take the whole batch.
This is ``apply_to``'s default; the pitch shift and the reverb pass their own measured
sizes (pitch.CPU_CHUNK_SAMPLES, and the whole batch for the reverb).
"""


_static = False


@contextmanager
def static_shapes(enabled: bool = True) -> Iterator[None]:
    """Within it, every transform works on every row and keeps the rows its coin chose with
    ``torch.where``, and sizes that followed the batch's draws (the pitch shift's longest
    stretch, the filter's widest kernel) follow the configured ranges instead.

    Why: the subset path (``mask.nonzero()``, ``int(tensor.max())``) makes shapes depend on the
    draws and waits for the device at every such read, so the chain can be neither captured in
    a CUDA graph nor compiled into one graph, and on a GPU each wait stalls the launch queue.
    Static shapes cost the work of the rows whose coin said no (pitch and reverb p = 0.6: 1.7x
    their arithmetic), which a GPU that is launch-bound at CLMR's batch may not notice; a CPU
    does (the whole chain ran 1.8-3.6x slower on 2 threads, docs/PERFORMANCE.md);
    ``CLMRAugment(static_shapes=True)`` asks for it. Each chosen row's result is the subset
    path's up to floating-point rounding (tests/augment/test_static_shapes.py): every transform
    already computes a row independently of the other rows of its batch.
    """
    global _static
    before, _static = _static, enabled
    try:
        yield
    finally:
        _static = before


def shapes_are_static() -> bool:
    """Whether the transforms run inside :func:`static_shapes`."""
    return _static


def apply_to(
    wave: Tensor,
    mask: Tensor,
    fn: Callable[[Tensor, Tensor | slice], Tensor],
    sort_by: Tensor | None = None,
    chunk_samples: int | None = CPU_CHUNK_SAMPLES,
) -> Tensor:
    """Return ``wave`` with ``fn(wave[rows], rows)`` written into the rows where ``mask`` holds.

    Why a subset and not ``torch.where(mask, fn(wave), wave)``: pitch and reverb cost most of
    the chain and run with p = 0.6, noise with p = 0.01; computing them only for the chosen
    rows saves that work. ``fn`` receives the selected rows and their indices (so that it can
    pick the matching per-example parameters with ``param[rows]``; ``slice(None)`` for every
    row) and must keep the shape. On CPU the rows are processed in chunks of about
    ``chunk_samples`` samples (a loop over chunks, not over clips; None: the whole batch at
    once, for transforms whose per-call work is shared by the rows, like the reverb's
    parameter-free tables); ``sort_by`` (B,) groups rows with similar values into the same
    chunk, for transforms whose cost follows the chunk's largest parameter (the pitch shift's
    longest stretch). Inside :func:`static_shapes`: ``fn`` on every row at once, then
    ``torch.where`` (no chunks, no device-to-host read).
    """
    if _static:
        # every row as ``slice(None)``, not an index tensor: the parameters are then read as
        # views, with no gather, and inductor's CPU code generation, which failed on an
        # arange-indexed read fused with a reduction (the noise's std), has nothing to fuse
        return torch.where(mask[:, None], fn(wave, slice(None)).to(wave.dtype), wave)
    rows = mask.nonzero().squeeze(1)
    if rows.numel() == 0:
        return wave
    if sort_by is not None:
        rows = rows[sort_by[rows].argsort()]
    chunk = rows.numel()
    if wave.device.type == "cpu" and chunk_samples is not None:
        chunk = max(1, chunk_samples // max(1, wave.shape[1]))
    out = wave.clone()
    for start in range(0, rows.numel(), chunk):
        part = rows[start : start + chunk]
        out[part] = fn(wave[part], part).to(wave.dtype)
    return out


def next_fast_len(n: int) -> int:
    """Smallest m >= n whose only prime factors are 2, 3 and 5.

    FFT lengths with large prime factors can be an order of magnitude slower (pocketfft on
    CPU, cuFFT on GPU), and the FFT-based transforms choose their padded length freely.
    """
    best = 1 << max(n - 1, 0).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            m = power35
            while m < n:
                m *= 2
            best = min(best, m)
            power35 *= 3
        power5 *= 5
    return best
