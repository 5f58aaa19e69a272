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


def sox_feedback(reverberance: Tensor) -> Tensor:
    """Comb feedback for reverberance in % (0 -> 0.3, 100 -> 0.98), as in reverb.c."""
    a = -1.0 / math.log(1.0 - 0.3)
    b = 100.0 / (math.log(1.0 - 0.98) * a + 1.0)
    return 1.0 - torch.exp((reverberance - b) / (a * b))


def _advance(length: Tensor | float, bins: int, n_fft: int, log_rho: float, device: torch.device) -> Tensor:
    """z^+length on the first ``bins`` rFFT bins at z = exp(2 pi i k / n_fft) / rho.

    ``length`` is an integer delay, a number or a (B, 1) tensor. Evaluating a complex
    exponential for every (row, bin) pair costs most of the reverb, so the bins are split as
    k = block q + j and z^length = exp(i w(block q) length) exp(i w(j) length): two small exact
    float64 tables and one complex64 product per bin. Phases are reduced to whole turns in
    float64 first, so long delays stay accurate.
    """
    length = torch.as_tensor(length, device=device, dtype=torch.float64).reshape(-1, 1)
    block = min(MAX_BLOCK, 1 << math.ceil(math.log2(math.sqrt(bins))))  # both tables ~sqrt(bins)
    blocks = -(-bins // block)

    def table(k: Tensor) -> Tensor:
        turns = length * k / n_fft
        return torch.polar(torch.ones_like(turns), 2 * math.pi * (turns - torch.floor(turns)))

    coarse = table(block * torch.arange(blocks, device=device, dtype=torch.float64))
    coarse = (coarse * torch.exp(-length * log_rho)).to(torch.complex64)
    fine = table(torch.arange(block, device=device, dtype=torch.float64)).to(torch.complex64)
    return (coarse[:, :, None] * fine[:, None, :]).reshape(length.shape[0], -1)


def freeverb_response(
    reverberance: Tensor, damping: Tensor, room: Tensor, sample_rate: int, n_fft: int, log_rho: float
) -> Tensor:
    """(B, n_fft // 2 + 1) complex wet response of SoX's reverb, evaluated at z = e^(i w) / rho.

    Each comb is summed as 1 / (P z^M - f (1 - d)) and the common factor P = 1 - d z^-1 is
    applied once at the end: one complex product, multiply and reciprocal per comb.
    """
    device, bins = reverberance.device, n_fft // 2 + 1
    feedback = sox_feedback(reverberance.double())[:, None]
    damp = (0.2 + 0.3 * damping.double() / 100.0)[:, None]
    scale = (0.1 + 0.9 * room.double() / 100.0)[:, None]
    rate = sample_rate / 44100.0
    one_pole = 1 - damp.float() * _advance(-1.0, bins, n_fft, log_rho, device)  # P = 1 - d z^-1
    loop = (feedback * (1 - damp)).float()

    wet = torch.zeros_like(one_pole)
    for channel_offset in (0, 1):
        sign, combs = 1, torch.zeros_like(one_pole)
        for base in COMB_LENGTHS:
            length = torch.floor(scale * rate * (base + STEREO_SPREAD * sign * channel_offset) + 0.5)
            combs += torch.reciprocal(one_pole * _advance(length, bins, n_fft, log_rho, device) - loop)
            sign = -sign
        allpass = torch.ones_like(one_pole[:1])
        for base in ALLPASS_LENGTHS:
            length = math.floor(rate * (base + STEREO_SPREAD * sign * channel_offset) + 0.5)
            z_m = _advance(-float(length), bins, n_fft, log_rho, device)
            allpass = allpass * (1.5 * z_m - 1) / (1 - 0.5 * z_m)
            sign = -sign
        wet += combs * allpass
    return (wet * one_pole * (WET_SCALE / 2))[:, :bins]


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
    n_fft = next_fast_len(2 * length)
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
    )
