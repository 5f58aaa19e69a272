"""The sample-wise CLMR transforms: random crop, polarity inversion, white noise, gain, delay.

Each follows the torchaudio-augmentations module CLMR uses (Spijkervet/torchaudio-augmentations,
``augmentations/*.py``; chain in Spijkervet/CLMR main.py), drawing the coin and the parameters
per example instead of once per Python call. None of them needs SoX, so these are exact
re-statements, not approximations, except where a docstring says otherwise.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_music_bench.augment.batching import Generator, apply_to, check_batch, coin, randint, uniform
from ssl_music_bench.train.distributed import draw


def random_crop(wave: Tensor, length: int, generator: Generator = None) -> Tensor:
    """Cut ``length`` samples from each row of (B, M) at that row's own uniform offset.

    Same as torchaudio-augmentations ``RandomResizedCrop`` (offset ~ randint(0, M - length)),
    batched with one gather so that a whole batch of views is cut on the device at once.
    """
    check_batch(wave)
    batch, total = wave.shape
    if length > total:
        raise ValueError(f"cannot crop {length} samples from clips of {total} samples")
    start = randint(batch, 0, total - length, wave.device, generator)
    index = start[:, None] + torch.arange(length, device=wave.device)
    return wave.gather(1, index)


def polarity_inversion(
    wave: Tensor, sample_rate: int, p: float = 0.8, generator: Generator = None
) -> Tensor:
    """Negate the chosen clips (torchaudio-augmentations ``PolarityInversion``; CLMR p = 0.8).

    ``sample_rate`` is unused; it is accepted so that every transform has one signature.
    """
    check_batch(wave)
    flip = coin(wave.shape[0], p, wave.device, generator)
    sign = torch.where(flip, -1.0, 1.0).to(wave.dtype)
    return wave * sign[:, None]


def white_noise(
    wave: Tensor,
    sample_rate: int,
    p: float = 0.01,
    min_snr: float = 1e-4,
    max_snr: float = 1e-2,
    generator: Generator = None,
) -> Tensor:
    """Add Gaussian noise with std ~ U(min_snr, max_snr) x std(clip) to the chosen clips.

    torchaudio-augmentations ``Noise`` (defaults min_snr 0.0001, max_snr 0.01, which CLMR uses
    unchanged) draws ``U(min_snr * std, max_snr * std)`` with ``std = torch.std(clip)``; the
    same distribution is drawn here per example. Despite its name the parameter is a ratio of
    standard deviations, not an SNR in dB.
    """
    check_batch(wave)
    batch = wave.shape[0]
    chosen = coin(batch, p, wave.device, generator)
    ratio = uniform(batch, min_snr, max_snr, wave.device, generator)
    if p <= 0.0:
        return wave  # draws nothing random in any process, so the streams stay in step
    # Noise for every row, chosen or not: the draw's shape must not depend on this process's
    # coins (ssl_music_bench/train/distributed.py).
    noise = draw(batch, lambda n: torch.randn((n, wave.shape[1]), device=wave.device, generator=generator))

    def add_noise(rows_wave: Tensor, rows: Tensor | slice) -> Tensor:
        std = rows_wave.std(dim=1, keepdim=True) * ratio[rows, None]
        return rows_wave + noise[rows].to(wave.dtype) * std

    return apply_to(wave, chosen, add_noise)


def apply_gain(wave: Tensor, gain_db: Tensor) -> Tensor:
    """Scale each row by its own gain in dB ((B,) tensor)."""
    return wave * torch.pow(10.0, gain_db / 20.0).to(wave.dtype)[:, None]


def gain(
    wave: Tensor,
    sample_rate: int,
    p: float = 0.3,
    min_db: float = -20.0,
    max_db: float = -1.0,
    generator: Generator = None,
) -> Tensor:
    """Change the chosen clips' volume by U(min_db, max_db) dB.

    torchaudio-augmentations ``Gain`` (defaults -20..-1 dB, used by CLMR; the CLMR thesis text
    says -6..0 dB) applies ``torchaudio.transforms.Vol(g, "db")``, which also clamps the result
    to [-1, 1]. With gains <= -1 dB the clamp only bites on inputs beyond +-1.12, i.e. on
    unnormalised audio, where it would be a distortion rather than a gain, so it is left out.
    """
    check_batch(wave)
    batch = wave.shape[0]
    chosen = coin(batch, p, wave.device, generator)
    gain_db = uniform(batch, min_db, max_db, wave.device, generator)
    return apply_gain(wave, torch.where(chosen, gain_db, torch.zeros_like(gain_db)))


def apply_delay(wave: Tensor, offset: Tensor, volume: float = 0.5) -> Tensor:
    """``(x + volume * x delayed by offset[b] samples) / 2`` for each row, in one gather."""
    length = wave.shape[1]
    source = torch.arange(length, device=wave.device)[None, :] - offset[:, None]
    delayed = wave.gather(1, source.clamp(min=0)) * (source >= 0).to(wave.dtype)
    return (wave + volume * delayed) / 2


# Parameters: the clip, its rate, and the transform's own settings as torchaudio-augmentations names them
# (CLMR's config): kept flat so each reads against its source.
def delay(
    wave: Tensor,
    sample_rate: int,
    p: float = 0.3,
    min_ms: int = 200,
    max_ms: int = 450,
    step_ms: int = 50,
    volume: float = 0.5,
    generator: Generator = None,
) -> Tensor:
    """Mix a delayed, attenuated copy into the chosen clips (one echo, no feedback).

    torchaudio-augmentations ``Delay``: delay drawn from ``np.arange(200, 500, 50)`` ms, i.e.
    200..450 ms in 50 ms steps (``max_ms`` here is inclusive), offset ``int(ms * sr / 1000)``
    samples, ``out = (x + 0.5 * delayed) / 2``. Note the halving: a delayed clip is also about
    6 dB quieter, as in the reference.
    """
    check_batch(wave)
    batch = wave.shape[0]
    chosen = coin(batch, p, wave.device, generator)
    steps = randint(batch, 0, (max_ms - min_ms) // step_ms, wave.device, generator)
    offset = ((min_ms + steps * step_ms) * sample_rate) // 1000
    return apply_to(wave, chosen, lambda rows_wave, rows: apply_delay(rows_wave, offset[rows], volume))
