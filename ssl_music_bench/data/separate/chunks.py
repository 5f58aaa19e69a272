"""How clips go through the separator with bounded memory: equal-length batches and cross-faded chunks.

Clips of equal length are separated together, at most ``batch_seconds`` of audio per call; a clip
longer than that is separated in ``batch_seconds`` chunks with a 1 s linear cross-fade, so memory
stays bounded whatever the clip length. The store's mono audio is resampled on the device to the
separator's rate (44.1 kHz for umxhq / umxl), duplicated to stereo, separated, each stem is averaged
back to mono, resampled to the store's rate, cut to the mixture's exact length and clipped to [-1, 1].
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch
import torchaudio

from ssl_music_bench.data.store import ClipStore

CROSSFADE_SECONDS = 1.0  # between the chunks of a clip longer than ``batch_seconds``


def equal_length_batches(store: ClipStore, indices: Sequence[int], batch_seconds: float) -> list[list[int]]:
    """Clips of equal length together, at most ``batch_seconds`` of audio (at least one clip) each;
    in the order of their first clip."""
    by_length: dict[int, list[int]] = defaultdict(list)
    for index in indices:
        by_length[store.items[index].length].append(index)
    batches = []
    for length, group in by_length.items():
        size = max(1, int(batch_seconds * store.sample_rate // max(1, length)))
        batches += [group[k : k + size] for k in range(0, len(group), size)]
    return sorted(batches, key=lambda batch: batch[0])


class BatchSeparator:
    """A separator applied to mono clips at the store's rate: (batch, time) mixtures ->
    (batch, len(SOURCES), time) mono stems in [-1, 1], at most ``batch_seconds`` of audio per call.

    ``targets`` is the position of each of SOURCES among the separator's outputs
    (:func:`~ssl_music_bench.data.separate.weights.target_positions`).
    """

    def __init__(
        self, separator: torch.nn.Module, targets: list[int], store_rate: int, batch_seconds: float,
        device: torch.device,
    ) -> None:
        self.separator = separator
        self.targets = targets
        self.device = device  # where the mixtures go before the call
        self.rate = int(round(float(separator.sample_rate)))
        self.channels = 1 if getattr(getattr(separator, "complexnorm", None), "mono", False) else 2
        self.chunk = max(1, int(batch_seconds * self.rate))
        self.overlap = min(int(CROSSFADE_SECONDS * self.rate), self.chunk // 2)
        # the resampling kernels are computed once (they cost more than resampling a clip)
        self.up = torchaudio.transforms.Resample(store_rate, self.rate).to(device)
        self.down = torchaudio.transforms.Resample(self.rate, store_rate).to(device)

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        length = audio.shape[-1]
        x = self.up(audio)
        x = x.unsqueeze(1).expand(-1, self.channels, -1).contiguous()  # mono -> identical channels
        estimates = self._chunked(x)
        stems = estimates[:, self.targets].mean(2)  # (batch, sources, time at the separator's rate)
        stems = self.down(stems)[..., :length]
        if stems.shape[-1] < length:
            stems = torch.nn.functional.pad(stems, (0, length - stems.shape[-1]))
        return stems.clamp(-1.0, 1.0)

    def _chunked(self, x: torch.Tensor) -> torch.Tensor:
        """Separate (batch, channels, time) whole, or in chunks cross-faded over ``overlap`` samples."""
        chunk, overlap = self.chunk, self.overlap
        length = x.shape[-1]
        if length <= chunk:
            return self._call(x)
        starts = list(range(0, length - chunk, chunk - overlap)) + [length - chunk]
        ramp = (torch.arange(overlap, device=x.device, dtype=x.dtype) + 0.5) / max(1, overlap)
        total: torch.Tensor | None = None
        weight = torch.zeros(length, device=x.device, dtype=x.dtype)
        for start in starts:
            piece = self._call(x[..., start : start + chunk])
            fade = torch.ones(chunk, device=x.device, dtype=x.dtype)
            if start > 0 and overlap:
                fade[:overlap] = ramp
            if start + chunk < length and overlap:
                fade[-overlap:] = ramp.flip(0)
            if total is None:
                total = torch.zeros((*piece.shape[:-1], length), device=x.device, dtype=piece.dtype)
            total[..., start : start + chunk] += piece * fade
            weight[start : start + chunk] += fade
        assert total is not None
        return total / weight

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        """One separator call; clips shorter than two FFT frames are zero-padded (the centred STFT's
        reflection padding needs them) and the estimates cut back."""
        length = x.shape[-1]
        minimum = 2 * int(getattr(getattr(self.separator, "stft", None), "n_fft", 4096))
        if length < minimum:
            x = torch.nn.functional.pad(x, (0, minimum - length))
        return self.separator(x)[..., :length]
