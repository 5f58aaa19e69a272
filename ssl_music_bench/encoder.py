"""The encoder contract: audio in, one embedding per example out.

An encoder states its contract as class attributes, so that the rest of the benchmark (samplers,
probes, the compatibility check) never has to guess: the sample rate it expects, whether its
model sees the raw wave or a log-mel spectrogram, the crop length it was designed for, and the
size of its embedding. It owns its frontend (e.g. the log-mel on the device) and can return
the frame sequence before pooling, which CPC needs.

    wave (B, crop_samples) --frontend--> features --frames--> (B, T, frame_dim) --pool--> (B, embed_dim)
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

InputKind = Literal["wave", "mel"]


class Encoder(nn.Module):
    """Base class of every registered encoder."""

    sample_rate: ClassVar[int]
    input_kind: ClassVar[InputKind]
    crop_samples: ClassVar[int]
    embed_dim: ClassVar[int]
    frame_dim: ClassVar[int]
    paper: ClassVar[str] = ""

    @property
    def crop_seconds(self) -> float:
        return self.crop_samples / self.sample_rate

    def frontend(self, wave: Tensor) -> Tensor:
        """(B, samples) -> the model's input (wave: (B, 1, samples); mel: (B, 1, mels, frames))."""
        raise NotImplementedError

    def frames(self, features: Tensor) -> Tensor:
        """Frontend output -> frame sequence (B, T, frame_dim) before pooling."""
        raise NotImplementedError

    def pool(self, frames: Tensor) -> Tensor:
        """(B, T, frame_dim) -> (B, embed_dim)."""
        raise NotImplementedError

    def embed_features(self, features: Tensor) -> Tensor:
        """Embedding from frontend output (methods that augment the spectrogram use this)."""
        return self.pool(self.frames(features))

    def forward(self, wave: Tensor) -> Tensor:
        return self.embed_features(self.frontend(wave))

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @torch.no_grad()
    def check_input(self, wave: Tensor) -> None:
        if wave.dim() != 2:
            raise ValueError(
                f"{type(self).__name__} expects a batch of mono waves shaped (batch, samples) at "
                f"{self.sample_rate} Hz, got a tensor of shape {tuple(wave.shape)}."
            )
