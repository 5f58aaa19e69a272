"""The encoder contract: audio in, one embedding per example out.

An encoder states its contract as class attributes, so that the rest of the benchmark (samplers,
probes, the compatibility check) never has to guess: the sample rate it expects, whether its
model sees the raw wave or a log-mel spectrogram, the crop length it was designed for, and the
size of its embedding (its paper, a description, is given to ``@register_encoder``). It owns
its frontend (e.g. the log-mel on the device) and can return the frame sequence before pooling,
which CPC needs.

    wave (B, crop_samples) --frontend--> features --frames--> (B, T, frame_dim) --pool--> (B, embed_dim)
                                                  --sequence--> (B, T', sequence_dim)  (frame-level methods)

``sequence`` is the frame sequence a frame-level method (CPC) predicts along. By default it is
``frames``; an encoder whose frames are too coarse for that (SampleCNN: one frame per crop)
returns an earlier layer's output instead, and says so with ``sequence_dim`` and
``sequence_hop`` (input samples per sequence step, to turn step counts into seconds).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

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
    sequence_dim: ClassVar[int]  # size of sequence() steps; = frame_dim unless sequence() is overridden
    sequence_hop: ClassVar[int]  # input samples per sequence() step (approximate where padding rounds)
    # Whether its convolutions run faster in channels-last memory format on a GPU (2-D
    # convolutions under bf16 can use the tensor cores without layout transposes; 1-D ones gain
    # nothing). Set it only where `bench speed --channels-last on/off` shows a gain.
    channels_last: ClassVar[bool] = False
    # Raised by one when a change to the architecture makes stored weights compute something else
    # (the keys and shapes may still fit): above 1 it enters the checkpoint key, as Method.revision.
    revision: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.sequence is Encoder.sequence and "frame_dim" in vars(cls):
            cls.sequence_dim = cls.frame_dim  # the default sequence is the frames

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

    def sequence(self, features: Tensor) -> Tensor:
        """Frontend output -> (B, T', sequence_dim): the sequence frame-level methods predict along."""
        return self.frames(features)

    def embed_features(self, features: Tensor) -> Tensor:
        """Embedding from frontend output (methods that augment the spectrogram use this)."""
        return self.pool(self.frames(features))

    def forward(self, wave: Tensor) -> Tensor:
        return self.embed_features(self.frontend(wave))

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def sequence_parameter_count(self) -> int:
        """Parameters that ``sequence`` runs through: all of them, unless it stops early."""
        return self.parameter_count()

    @torch.no_grad()
    def check_input(self, wave: Tensor) -> None:
        if wave.dim() != 2:
            raise ValueError(
                f"{type(self).__name__} expects a batch of mono waves shaped (batch, samples) at "
                f"{self.sample_rate} Hz, got a tensor of shape {tuple(wave.shape)}."
            )
