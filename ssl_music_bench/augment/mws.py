"""Masking, warping and shifting (MWS) of log-mel spectrograms, batched on the device.

S3T's "data-driven" spectrogram augmentation (Zhao et al., ICASSP 2022) as re-implemented for
COLA by Garoufis et al. (SMC 2023; cgaroufis/MSCOL_SMC23 ``pretraining.py``, ``mask_and_shift``),
on a 98-frame x 64-bin log-mel crop, in this order, each step with its own coin:

1. time masking (p 0.5): 1-9 masks, start frame 0-86, width 1-9 frames;
2. frequency masking (p 0.5): 1-4 masks, start bin 0-63, width 1-11 bins;
3. frequency shift (p 0.4): content moves down by 1-9 bins, the top bins are filled;
4. time warping (p 0.4): pivot tc in 38-57; output frames 0-48 are resampled linearly from
   input [0, tc], frames 49-97 from [tc + 1, 97].

The reference draws ``int(np.random.uniform(a, b))``, i.e. integers a..b-1; the ranges here are
those integers, both ends included. Masks running past the edge are cut there, as numpy's
slicing does. The reference fills with 0, which in a natural-log mel is a magnitude of 1 (loud),
not silence (log 1e-5 ~ -11.5): ``fill_value`` makes that a choice; its default is the
reference's 0. One deviation: the reference masks numpy *views* of a shared excerpt, so where the
anchor and positive crops overlap their masks and shifts leak into each other; here every
example's masks are its own.

Everything is drawn per example and applied with broadcast comparisons and gathers, no Python
loop over the batch. Spectrograms are (B, ..., bins, frames) (e.g. an encoder frontend's
(B, 1, 64, 98)). For other sizes the positional numbers (starts, widths, shift, pivot) scale with
frames / 98 and bins / 64; at 98 x 64 they are the reference's exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ssl_music_bench.augment.batching import Generator, coin, randint
from ssl_music_bench.contracts.settings import setting

REFERENCE_FRAMES = 98
REFERENCE_BINS = 64


@dataclass
class MWSConfig:
    """Probabilities and integer ranges (inclusive) on the reference 98 x 64 grid (pretraining.py)."""

    time_mask_p: float = setting(0.5, "[0, 1]")  # coins[0] > 0.5
    time_mask_count: tuple[int, int] = setting((1, 9), ">= 0", ordered=True)  # int(uniform(1, 10))
    time_mask_start: tuple[int, int] = setting((0, 86), ">= 0", ordered=True)  # int(uniform(0, 87))
    time_mask_width: tuple[int, int] = setting((1, 9), ">= 0", ordered=True)  # int(uniform(1, 10))
    freq_mask_p: float = setting(0.5, "[0, 1]")  # coins[1] > 0.5
    freq_mask_count: tuple[int, int] = setting((1, 4), ">= 0", ordered=True)  # int(uniform(1, 5))
    freq_mask_start: tuple[int, int] = setting((0, 63), ">= 0", ordered=True)  # int(uniform(0, 64))
    freq_mask_width: tuple[int, int] = setting((1, 11), ">= 0", ordered=True)  # int(uniform(1, 12))
    freq_shift_p: float = setting(0.4, "[0, 1]")  # coins[2] < 0.4
    freq_shift_bins: tuple[int, int] = setting((1, 9), ">= 0", ordered=True)  # int(uniform(1, 10))
    time_warp_p: float = setting(0.4, "[0, 1]")  # coins[3] < 0.4
    time_warp_pivot: tuple[int, int] = setting((38, 57), "[0, 96]", ordered=True)  # int(uniform(38, 58))
    fill_value: float = setting(0.0, "any")  # the reference's 0; log(1e-5) ~ -11.51 would be silence


def scaled_to(config: MWSConfig, bins: int, frames: int) -> MWSConfig:
    """The config's positional ranges rescaled from the reference 64 x 98 grid to bins x frames."""

    def scale(limits: tuple[int, int], size: int, reference: int, minimum: int = 0) -> tuple[int, int]:
        low, high = (max(minimum, round(v * size / reference)) for v in limits)
        return low, max(low, high)

    if (bins, frames) == (REFERENCE_BINS, REFERENCE_FRAMES):
        return config
    pivot = scale(config.time_warp_pivot, frames, REFERENCE_FRAMES)
    return replace(
        config,
        time_mask_start=scale(config.time_mask_start, frames, REFERENCE_FRAMES),
        time_mask_width=scale(config.time_mask_width, frames, REFERENCE_FRAMES, 1),
        freq_mask_start=scale(config.freq_mask_start, bins, REFERENCE_BINS),
        freq_mask_width=scale(config.freq_mask_width, bins, REFERENCE_BINS, 1),
        freq_shift_bins=scale(config.freq_shift_bins, bins, REFERENCE_BINS, 1),
        time_warp_pivot=(min(pivot[0], frames - 2), min(pivot[1], frames - 2)),  # tc + 1 must be a frame
    )


def band_mask(size: int, start: Tensor, width: Tensor, active: Tensor) -> Tensor:
    """(B, size) bool: index i is inside some active band [start, start + width) of its row.

    ``start``, ``width``, ``active``: (B, K), K bands per example, unused ones inactive.
    """
    index = torch.arange(size, device=start.device)
    inside = (index >= start[..., None]) & (index < (start + width)[..., None]) & active[..., None]
    return inside.any(dim=1)


def _along(values: Tensor, spec: Tensor, axis: int) -> Tensor:
    """(B, n) -> broadcastable against spec along ``axis`` (-2 bins, -1 frames)."""
    shape = [values.shape[0]] + [1] * (spec.dim() - 1)
    shape[axis] = values.shape[1]
    return values.view(shape)


# Parameters: the batch shape, then MWS's band settings as S3T states them (count, start, width ranges).
def random_bands(
    batch: int, size: int, p: float, count: tuple[int, int], start: tuple[int, int],
    width: tuple[int, int], device: torch.device, generator: Generator = None,
) -> Tensor:
    """(B, size) bool mask: with probability p, ``count`` bands of ``width`` at ``start`` each."""
    chosen = coin(batch, p, device, generator)
    n = randint(batch, *count, device, generator)
    starts = randint(batch, *start, device, generator, each=(count[1],))
    widths = randint(batch, *width, device, generator, each=(count[1],))
    active = (torch.arange(count[1], device=device) < n[:, None]) & chosen[:, None]
    return band_mask(size, starts, widths, active)


def shift_down(spec: Tensor, bins: Tensor, fill_value: float = 0.0) -> Tensor:
    """Bin f of row b takes bin f + bins[b]; the top bins[b] bins are filled (reference step 3)."""
    n_bins = spec.shape[-2]
    source = torch.arange(n_bins, device=spec.device) + bins[:, None]  # (B, bins)
    index = _along(source.clamp(max=n_bins - 1), spec, -2).expand(spec.shape)
    shifted = spec.gather(-2, index)
    return shifted.masked_fill(_along(source >= n_bins, spec, -2), fill_value)


def warp_positions(pivot: Tensor, frames: int) -> Tensor:
    """(B, frames) input positions: first half from linspace(0, tc), second from linspace(tc + 1, end)."""
    half = frames // 2
    first = torch.linspace(0, 1, half, device=pivot.device)
    second = torch.linspace(0, 1, frames - half, device=pivot.device)
    tc = pivot.to(first.dtype)[:, None]
    return torch.cat([first * tc, (tc + 1) + second * (frames - 2 - tc)], dim=1)


def warp_time(spec: Tensor, pivot: Tensor) -> Tensor:
    """Resample each row's frames at ``warp_positions`` by linear interpolation (reference step 4)."""
    frames = spec.shape[-1]
    position = warp_positions(pivot, frames)
    low = position.floor().long().clamp(0, frames - 1)
    high = (low + 1).clamp(max=frames - 1)
    weight = _along(position - low, spec, -1).to(spec.dtype)
    at_low = spec.gather(-1, _along(low, spec, -1).expand(spec.shape))
    at_high = spec.gather(-1, _along(high, spec, -1).expand(spec.shape))
    return at_low + weight * (at_high - at_low)


def mask_warp_shift(spec: Tensor, config: MWSConfig | None = None, generator: Generator = None) -> Tensor:
    """The four MWS steps, in the reference's order, on a (B, ..., bins, frames) batch.

    Coins and parameters are drawn per example, so the anchors and positives of a batch (or the
    two halves of one concatenated batch) are augmented independently.
    """
    if spec.dim() < 3:
        raise ValueError(f"expected a batch of spectrograms (B, ..., bins, frames), got {tuple(spec.shape)}")
    batch, bins, frames, device = spec.shape[0], spec.shape[-2], spec.shape[-1], spec.device
    c = scaled_to(config if config is not None else MWSConfig(), bins, frames)
    time = random_bands(batch, frames, c.time_mask_p, c.time_mask_count, c.time_mask_start,
                        c.time_mask_width, device, generator)
    spec = spec.masked_fill(_along(time, spec, -1), c.fill_value)
    freq = random_bands(batch, bins, c.freq_mask_p, c.freq_mask_count, c.freq_mask_start,
                        c.freq_mask_width, device, generator)
    spec = spec.masked_fill(_along(freq, spec, -2), c.fill_value)
    shift = randint(batch, *c.freq_shift_bins, device, generator)
    spec = shift_down(spec, shift * coin(batch, c.freq_shift_p, device, generator), c.fill_value)
    pivot = randint(batch, *c.time_warp_pivot, device, generator)
    warp = coin(batch, c.time_warp_p, device, generator).view(-1, *[1] * (spec.dim() - 1))
    return torch.where(warp, warp_time(spec, pivot), spec)
