"""CLMR's "filter" transform: each chosen clip is high-passed or low-passed (its own coin).

The reference (torchaudio-augmentations ``HighLowPass``, ``augmentations/filter.py``) calls
julius' ``lowpass_filter`` / ``highpass_filter``: a zero-phase windowed-sinc FIR (Hann window
spanning 8 zero crossings of the sinc on each side, taps normalised to sum 1, replicate
padding at the edges), high-pass being ``x - lowpass(x)``. This file designs the same filter
for every example at once, each with its own cutoff and length, and applies the whole batch
with one real FFT, so a batch costs about as much as a single long convolution. It matches
the reference up to floating-point rounding; it is not an IIR/biquad approximation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ssl_music_bench.augment.batching import (
    Generator,
    apply_to,
    check_batch,
    coin,
    next_fast_len,
    shapes_are_static,
    uniform,
)

ZEROS = 8
"""Sinc zero crossings per side covered by the window (julius' default ``zeros=8``)."""


def half_width(cutoff_hz: float, sample_rate: int) -> int:
    """A kernel's half-width in taps for one cutoff, as julius sizes it."""
    return math.floor(ZEROS / (cutoff_hz / sample_rate) / 2)


def lowpass_kernels(cutoff_hz: Tensor, sample_rate: int, lowest_hz: float | None = None) -> Tensor:
    """(B, K) zero-phase windowed-sinc low-pass kernels, centred at index K // 2.

    Row b has half-width ``int(ZEROS / (cutoff_b / sample_rate) / 2)`` as in julius; rows with
    a higher cutoff are shorter and are zero outside their own support, so one (B, K) tensor
    holds every kernel and the widest row fixes K, or, given ``lowest_hz`` (the lowest cutoff
    the draws can give), the widest possible kernel: a size known before the draws.
    """
    cutoff = cutoff_hz.double() / sample_rate
    half = torch.floor(ZEROS / cutoff / 2)
    half_max = int(half.max().item()) if lowest_hz is None else half_width(lowest_hz, sample_rate)
    t = torch.arange(-half_max, half_max + 1, device=cutoff.device, dtype=torch.float64)
    window = 0.5 + 0.5 * torch.cos(torch.pi * t[None, :] / half[:, None])
    window = window * (t.abs()[None, :] <= half[:, None])
    taps = 2 * cutoff[:, None] * window * torch.sinc(2 * cutoff[:, None] * t[None, :])
    return (taps / taps.sum(dim=1, keepdim=True)).float()


def fir_filter(wave: Tensor, kernels: Tensor) -> Tensor:
    """Filter each row of (B, N) with its own centred (B, K) kernel, keeping length N.

    Edges are padded by repeating the first and last sample (julius' ``pad=True`` uses
    replicate padding), then the linear convolution is done as a product of real FFTs whose
    length exceeds N + 2K, so no circular wrap-around reaches the kept samples.
    """
    batch, length = wave.shape
    half = kernels.shape[1] // 2
    padded = torch.nn.functional.pad(wave[:, None, :], (half, half), mode="replicate")[:, 0]
    n_fft = next_fast_len(length + 4 * half + 1)
    spectrum = torch.fft.rfft(padded, n=n_fft) * torch.fft.rfft(kernels.to(wave.dtype), n=n_fft)
    full = torch.fft.irfft(spectrum, n=n_fft)
    return full[:, 2 * half : 2 * half + length]


def apply_high_low_pass(
    wave: Tensor, sample_rate: int, cutoff_hz: Tensor, highpass: Tensor, lowest_hz: float | None = None
) -> Tensor:
    """High-pass rows where ``highpass`` is True and low-pass the others, at ``cutoff_hz``
    (``lowest_hz``: see :func:`lowpass_kernels`)."""
    low = fir_filter(wave, lowpass_kernels(cutoff_hz, sample_rate, lowest_hz))
    return torch.where(highpass[:, None], wave - low, low)


def high_low_pass(
    wave: Tensor,
    sample_rate: int,
    p: float = 0.8,
    highpass_hz: tuple[float, float] = (200.0, 1200.0),
    lowpass_hz: tuple[float, float] = (2200.0, 4000.0),
    generator: Generator = None,
) -> Tensor:
    """With probability p, high-pass (cutoff U(200, 1200) Hz) or low-pass (U(2200, 4000) Hz).

    The choice between the two is a fair coin per example, like ``random.randint(0, 1)`` in
    torchaudio-augmentations ``HighLowPass``; CLMR applies it with p = 0.8 (config.yaml
    ``transforms_filters``). Cutoffs at or above Nyquist are clipped just below it so that the
    transform stays defined at low sample rates.
    """
    check_batch(wave)
    batch, device = wave.shape[0], wave.device
    chosen = coin(batch, p, device, generator)
    highpass = coin(batch, 0.5, device, generator)
    high_cut = uniform(batch, *highpass_hz, device, generator)
    low_cut = uniform(batch, *lowpass_hz, device, generator)
    cutoff = torch.where(highpass, high_cut, low_cut).clamp(max=0.49 * sample_rate)
    lowest = min(highpass_hz[0], lowpass_hz[0], 0.49 * sample_rate) if shapes_are_static() else None
    return apply_to(
        wave,
        chosen,
        lambda rows_wave, rows: apply_high_low_pass(rows_wave, sample_rate, cutoff[rows], highpass[rows], lowest),
    )
