"""COLA's log-mel frontend, computed on the device with nnAudio.

Source: Saeed, Grangier & Zeghidour, "Contrastive learning of general-purpose audio
representations", ICASSP 2021 (arXiv 2010.10915), and google-research/cola: 16 kHz audio,
25 ms window (400 samples), 10 ms hop (160), FFT 1024, 64 mel bins from 60 to 7800 Hz,
magnitude (not power) mel spectrogram, clipped at 1e-5, natural log. COLA uses TensorFlow's
``linear_to_mel_weight_matrix``: HTK mel scale, triangles without area normalisation, so
``htk=True, norm=None``. Framing follows ``tf.signal.stft``: frames of 400 samples every 160,
zero-padded to 1024 for the FFT, no centre padding, so one second gives 98 frames as in the
COLA code. (torch's STFT centres the 400-sample window inside each 1024-sample frame, so the
wave is padded by (1024 - 400) / 2 on both sides to put the window where TensorFlow puts it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from nnAudio.features import MelSpectrogram
from torch import Tensor, nn

from ssl_music_bench.contracts.settings import setting


@dataclass(frozen=True)
class LogMelConfig:
    sample_rate: int = setting(16_000, ">= 1")
    n_fft: int = setting(1024, ">= 1")
    win_length: int = setting(400, ">= 1")  # 25 ms
    hop_length: int = setting(160, ">= 1")  # 10 ms
    n_mels: int = setting(64, ">= 1")
    f_min: float = setting(60.0, ">= 0")
    f_max: float = setting(7800.0, "> 0")
    log_floor: float = setting(1e-5, "> 0")

    def frames(self, samples: int) -> int:
        """Number of frames for a wave of ``samples`` (TensorFlow framing, no centre padding)."""
        return 1 + (samples - self.win_length) // self.hop_length if samples >= self.win_length else 0

    @property
    def edge_padding(self) -> int:
        return (self.n_fft - self.win_length) // 2


class LogMel(nn.Module):
    """(B, samples) -> (B, 1, n_mels, frames) log-magnitude mel spectrogram."""

    def __init__(self, config: LogMelConfig = LogMelConfig()) -> None:
        super().__init__()
        self.config = config
        self.mel = MelSpectrogram(
            sr=config.sample_rate,
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.hop_length,
            n_mels=config.n_mels,
            fmin=config.f_min,
            fmax=config.f_max,
            power=1.0,
            htk=True,
            norm=None,
            center=False,
            trainable_mel=False,
            trainable_STFT=False,
            verbose=False,
        )

    def forward(self, wave: Tensor) -> Tensor:
        # the STFT kernels are fixed, and float32 keeps the log floor meaningful under autocast
        with torch.autocast(device_type=wave.device.type, enabled=False):
            padded = F.pad(wave.float(), (self.config.edge_padding, self.config.edge_padding))
            magnitude = self.mel(padded)
        return torch.log(magnitude.clamp_min(self.config.log_floor)).unsqueeze(1)
