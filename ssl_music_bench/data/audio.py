"""Audio helpers shared by the whole pipeline: batched resampling on the device, file reading.

Resampling happens on the training device, on the whole batch at once, so that data workers
only slice arrays (docs/DESIGN.md, "data flow").
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

    torchaudio.load needs torchcodec and FFmpeg, which we avoid (docs/DESIGN.md).
    """
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1), int(rate)
