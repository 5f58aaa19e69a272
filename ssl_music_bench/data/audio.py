"""Audio helpers shared by the whole pipeline: batched resampling on the device, file reading.

Resampling happens on the training device, on the whole batch at once, so that data workers
only slice arrays (docs/ARCHITECTURE.md, "One run").
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torchaudio.functional as AF
from torch import Tensor


@lru_cache(maxsize=16)
def _reduced(orig: int, new: int) -> tuple[int, int]:
    g = math.gcd(orig, new)
    return orig // g, new // g


def resample(wave: Tensor, orig_rate: int, new_rate: int) -> Tensor:
    """Resample (..., samples) from ``orig_rate`` to ``new_rate`` on wave's device (batched).

    Uses torchaudio's windowed-sinc polyphase resampler (Hann window, 6 zero crossings), the
    same filter as torchaudio.transforms.Resample's defaults.
    """
    if orig_rate == new_rate:
        return wave
    orig, new = _reduced(orig_rate, new_rate)
    return AF.resample(wave, orig, new)


def resampled_length(samples: int, orig_rate: int, new_rate: int) -> int:
    """Number of samples resample() returns for an input of ``samples``."""
    return math.ceil(samples * new_rate / orig_rate)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read any file soundfile decodes (wav, flac, ogg, mp3) as mono float32 and its rate.

    torchaudio.load needs torchcodec and FFmpeg (torchaudio >= 2.9 documentation), which we avoid.
    """
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1), int(rate)


MIN_SAMPLE_RATE = 1000  # Hz: below it a file is no music recording a music encoder can use


def unusable_audio(audio: np.ndarray, rate: int) -> str | None:
    """Why decoded audio cannot be used (a reason to report and skip it), or None when it can:
    no samples, an implausible sample rate (a 1 Hz header would make a short file 'hours' long),
    or NaN / infinite samples (they would turn every embedding and loss non-finite)."""
    if audio.size == 0:
        return "it holds no samples"
    if rate < MIN_SAMPLE_RATE:
        return f"its sample rate is {rate} Hz, below {MIN_SAMPLE_RATE} Hz: not a usable audio recording"
    if not np.isfinite(audio).all():
        return f"{int((~np.isfinite(audio)).sum())} of its samples are NaN or infinite"
    return None
