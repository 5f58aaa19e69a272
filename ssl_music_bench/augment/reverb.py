"""CLMR's reverb: SoX ``reverb <reverberance> <hf-damping> <room-scale>``, each U{0..99} (p = 0.6).

The reference (torchaudio-augmentations ``Reverb``, via WavAugment) runs SoX's reverb effect
(sox/src/reverb.c, "based on freeverb by Jezar at Dreampoint") on a mono clip, which SoX
turns into two channels (stereo-depth 100 %), then ``channels 1`` mixes them back down. Each
channel is a Freeverb filter array: 8 parallel feedback comb filters with a one-pole low-pass
in their loop, then 4 series all-passes with gain 0.5; the output is ``dry + wet``.

That network is linear and time-invariant once its three parameters are fixed, so instead of
running its sample-by-sample recursion this file evaluates its exact transfer function on an
FFT grid, for every example at once, and applies it by batched FFT convolution:

    comb   C(z) = z^-M / (1 - f (1 - d) z^-M / (1 - d z^-1))       (M, f, d per example)
    allpass A(z) = (1.5 z^-M - 1) / (1 - 0.5 z^-M)
    wet    H(z) = 0.015 * mean over the 2 channels of [prod A(z)] * [sum of the 8 C(z)]

with SoX's mappings: f = 1 - exp((reverberance - b) / (a b)), a = -1/ln(0.7),
b = 100 / (a ln(0.02) + 1) (feedback 0.3 .. 0.98); d = 0.2 + 0.3 * damping / 100;
comb lengths (1116, 1188, ..., 1617) x (0.1 + 0.9 * room / 100) x sr / 44100, the second
channel's lengths offset by +-12 samples. The recursion's tail is infinite, but only its
first N samples reach an N-sample output. They are obtained exactly by exponential
windowing: the response is evaluated at z / rho (rho < 1), which multiplies the impulse
response by rho^n so that circular wrap-around becomes negligible, and the product is
multiplied back by rho^-n afterwards.

Differences from SoX: no optional input headroom gain and no clipping to [-1, 1] on output;
float32 rounding instead of SoX's integer sample path.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from ssl_music_bench.augment.batching import Generator, apply_to, check_batch, coin, next_fast_len, randint

COMB_LENGTHS = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)
"""Freeverb comb delays in samples at 44,100 Hz (sox/src/reverb.c)."""
ALLPASS_LENGTHS = (225, 341, 441, 556)
"""Freeverb all-pass delays in samples at 44,100 Hz (sox/src/reverb.c)."""
STEREO_SPREAD = 12
"""Samples added to / taken from the second channel's delays (reverb.c ``stereo_adjust``)."""
WET_SCALE = 0.015
"""Freeverb's fixed wet gain (reverb.c ``gain = dB_to_linear(wet_gain_dB) * .015``)."""
MAX_BLOCK = 256
"""Most bins per block of the factorised complex exponential (see ``_advance``)."""
WINDOW_DECAY = 1e-3
"""rho^N: how far the exponential window lowers the last sample before the FFT (see above)."""
FFT_LENGTH_FACTOR = 1.5
"""FFT length / clip length. Wrap-around adds the wet output L = 1.5 N samples later, scaled
by rho^L = WINDOW_DECAY^1.5 = 3e-5; dividing by the window already amplifies float32
rounding of the last samples about 1000-fold, so 2 N (the linear-convolution length, used
before) was no more accurate: measured on 2.68 s of noise at 22,050 Hz with reverberance 99,
the largest error against a float64 evaluation with 3 N was 6.7e-6 here and 6.3e-6 at 2 N,
for outputs up to 0.16. The reverb costs about proportionally to the FFT length."""


def sox_feedback(reverberance: Tensor) -> Tensor:
    """Comb feedback for reverberance in % (0 -> 0.3, 100 -> 0.98), as in reverb.c."""
    a = -1.0 / math.log(1.0 - 0.3)
    b = 100.0 / (math.log(1.0 - 0.98) * a + 1.0)
    return 1.0 - torch.exp((reverberance - b) / (a * b))


def _advance(
    length: Tensor | float,
    bins: int,
    n_fft: int,
    log_rho: float,
    device: torch.device,
    out: Tensor | None = None,
) -> Tensor:
    """z^+length on the first ``bins`` rFFT bins at z = exp(2 pi i k / n_fft) / rho.

    Returns (rows, W) complex64, W = ``bins`` rounded up to whole blocks (the columns past
    ``bins`` are further bins of the same grid); ``out``, if given, is such a buffer to fill.

    ``length`` is an integer delay, a number or a (B, 1) tensor. Evaluating a complex
    exponential for every (row, bin) pair costs most of the reverb, so the bins are split as
    k = block q + j and z^length = exp(i w(block q) length) exp(i w(j) length): two small exact
    float64 tables and one complex64 product per bin. Phases are reduced to whole turns in
    float64 first, so long delays stay accurate.
    """
    length = torch.as_tensor(length, device=device, dtype=torch.float64).reshape(-1, 1)
    block, blocks = _blocks(bins)

    def table(k: Tensor) -> Tensor:
        turns = length * k / n_fft
        return torch.polar(torch.ones_like(turns), 2 * math.pi * (turns - torch.floor(turns)))

    coarse = table(block * torch.arange(blocks, device=device, dtype=torch.float64))
    coarse = (coarse * torch.exp(-length * log_rho)).to(torch.complex64)
    fine = table(torch.arange(block, device=device, dtype=torch.float64)).to(torch.complex64)
    if out is None:
        return (coarse[:, :, None] * fine[:, None, :]).reshape(length.shape[0], -1)
    torch.mul(coarse[:, :, None], fine[:, None, :], out=out.view(length.shape[0], blocks, block))
    return out


def _blocks(bins: int) -> tuple[int, int]:
    """Block size and block count of ``_advance``'s factorised tables (both ~sqrt(bins))."""
    block = min(MAX_BLOCK, 1 << math.ceil(math.log2(math.sqrt(bins))))
    return block, -(-bins // block)


@functools.lru_cache(maxsize=8)
def _fixed_tables(sample_rate: int, n_fft: int, log_rho: float, device: torch.device) -> tuple[Tensor, Tensor]:
    """The parts of the response that no parameter changes, cached per size and rate.

    Returns z^-1 on the rFFT bins, (1, bins), and each channel's product of the four
    all-passes, (2, bins): the all-pass delays depend only on the sample rate.
    Both are as wide as an ``_advance`` table, like every table the response is built from.
    """
    bins = n_fft // 2 + 1
    unit_delay = _advance(-1.0, bins, n_fft, log_rho, device)
    channels = []
    for channel_offset in (0, 1):
        # the all-passes continue the comb's alternation of the stereo offset's sign (8 combs)
        sign = 1 if len(COMB_LENGTHS) % 2 == 0 else -1
        allpass = torch.ones_like(unit_delay)
        for base in ALLPASS_LENGTHS:
            length = math.floor(sample_rate / 44100.0 * (base + STEREO_SPREAD * sign * channel_offset) + 0.5)
            z_m = _advance(-float(length), bins, n_fft, log_rho, device)
            allpass = allpass * (1.5 * z_m - 1) / (1 - 0.5 * z_m)
            sign = -sign
        channels.append(allpass)
    return unit_delay, torch.cat(channels)


def freeverb_response(
    reverberance: Tensor, damping: Tensor, room: Tensor, sample_rate: int, n_fft: int, log_rho: float
) -> Tensor:
    """(B, n_fft // 2 + 1) complex wet response of SoX's reverb, evaluated at z = e^(i w) / rho.

    With P = 1 - d z^-1 (the damping low-pass) a comb is C = P / (P z^M - f (1 - d))
    = 1 / (z^M - q), q = f (1 - d) / P computed once per example: each comb then costs one
    table product, one subtraction and one reciprocal, done in place in one buffer. The
    all-pass chains do not depend on the parameters and come from a cache.
    """
    device = reverberance.device
    feedback = sox_feedback(reverberance.double())[:, None]
    damp = (0.2 + 0.3 * damping.double() / 100.0)[:, None]
    scale = (0.1 + 0.9 * room.double() / 100.0)[:, None]
    rate = sample_rate / 44100.0
    unit_delay, allpasses = _fixed_tables(sample_rate, n_fft, log_rho, torch.device(device))
    one_pole = 1 - damp.float() * unit_delay  # P = 1 - d z^-1
    q = (feedback * (1 - damp)).float() / one_pole
    bins = n_fft // 2 + 1

    wet = torch.zeros_like(one_pole)
    combs = torch.empty_like(one_pole)
    term = torch.empty_like(one_pole)
    for channel_offset in (0, 1):
        sign = 1
        combs.zero_()
        for base in COMB_LENGTHS:
            length = torch.floor(scale * rate * (base + STEREO_SPREAD * sign * channel_offset) + 0.5)
            _advance(length, bins, n_fft, log_rho, device, out=term)  # z^M, in place
            combs += term.sub_(q).reciprocal_()
            sign = -sign
        wet += combs * allpasses[channel_offset]
    return wet[:, :bins] * (WET_SCALE / 2)


def apply_reverb(
    wave: Tensor,
    sample_rate: int,
    reverberance: Tensor,
    damping: Tensor,
    room: Tensor,
    pre_delay_ms: float = 0.0,
) -> Tensor:
    """Return ``dry + wet`` for each row, with its own SoX reverb parameters (in %)."""
    length = wave.shape[1]
    n_fft = next_fast_len(math.ceil(FFT_LENGTH_FACTOR * length))
    log_rho = math.log(WINDOW_DECAY) / length
    n = torch.arange(length, device=wave.device, dtype=torch.float64)
    window = torch.exp(n * log_rho).float()
    response = freeverb_response(reverberance, damping, room, sample_rate, n_fft, log_rho)
    pre_delay = math.floor(pre_delay_ms / 1000 * sample_rate + 0.5)
    if pre_delay:
        shift = _advance(-float(pre_delay), n_fft // 2 + 1, n_fft, log_rho, wave.device)
        response = response * shift[:, : response.shape[1]]
    spectrum = torch.fft.rfft(wave.float() * window, n=n_fft) * response
    wet = torch.fft.irfft(spectrum, n=n_fft)[:, :length] / window
    return wave + wet.to(wave.dtype)


# Parameters: the clip, its rate, and SoX reverb's own settings (as torchaudio-augmentations passes them).
def reverb(
    wave: Tensor,
    sample_rate: int,
    p: float = 0.6,
    reverberance: tuple[int, int] = (0, 99),
    damping: tuple[int, int] = (0, 99),
    room_size: tuple[int, int] = (0, 99),
    pre_delay_ms: float = 0.0,
    generator: Generator = None,
) -> Tensor:
    """With probability p, add SoX-style Freeverb reverb with integer parameters per example.

    Parameters are drawn like ``torch.randint(0, 100)`` in torchaudio-augmentations ``Reverb``
    (0..99 inclusive); CLMR applies it with p = 0.6 (config.yaml ``transforms_reverb``).
    WavAugment passes no pre-delay, so it defaults to 0.
    """
    check_batch(wave)
    batch, device = wave.shape[0], wave.device
    chosen = coin(batch, p, device, generator)
    ranges = (reverberance, damping, room_size)
    params = [randint(batch, low, high, device, generator).float() for low, high in ranges]
    return apply_to(
        wave,
        chosen,
        lambda rows_wave, rows: apply_reverb(
            rows_wave, sample_rate, *(param[rows] for param in params), pre_delay_ms=pre_delay_ms
        ),
        # One chunk: the per-call tables are shared by the rows, and the work per row is a
        # few passes over its spectrum. Measured on 48 clips of 59,049 samples with 2
        # threads: 3.1 ms per clip in chunks of 2 rows, 2.1 in chunks of 8, 1.8 in one call.
        chunk_samples=None,
    )
