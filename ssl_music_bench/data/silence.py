"""Per-window silence levels of separated stems: mean(|x|) over consecutive windows.

`bench separate` stores them beside the stems (the item field ``silence``, with the window in
the store's header), and MSA's sampler reads them back instead of decoding every stem again
(ssl_music_bench/data/multisource.py). A light module of its own, so that pretraining does not import
the separation model's dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ssl_music_bench.data.store import ClipStore


def window_means(audio: np.ndarray, window: int) -> np.ndarray:
    """mean(|x|) over consecutive windows of ``window`` samples from 0, in ``audio``'s dtype; a
    partial last window is dropped; a clip shorter than a window gives one level over the whole
    clip. The one definition of the grid, shared by what is stored and what MSA measures."""
    count = max(1, len(audio) // window)
    used = min(len(audio), count * window)
    return np.abs(audio[:used]).reshape(count, -1).mean(1)


def window_levels(audio: np.ndarray, window: int) -> list[float]:
    """:func:`window_means` in float64, rounded for the manifest; [0.0] for an empty clip."""
    if len(audio) == 0:
        return [0.0]
    return [round(float(level), 7) for level in window_means(np.asarray(audio, dtype=np.float64), window)]


def stored_levels(store: ClipStore, index: int, samples: int, sources: Sequence[str]) -> np.ndarray | None:
    """(windows, sources) levels from the ``silence`` field when it was computed on windows of
    ``samples``; None when the store has no such field or another window, so callers measure."""
    separation = store.header.get("separation", {})
    silence = store.items[index].extra.get("silence")
    if silence is None or separation.get("silence_window_samples") != samples:
        return None
    if any(source not in silence for source in sources):
        return None
    return np.asarray([silence[source] for source in sources], dtype=np.float64).T
