"""A test-only encoder (loaded with --plugin): a two-layer CNN on COLA's log-mel, small enough
that an experiment's cells pretrain and probe in seconds on a CPU. Not a benchmark encoder."""

from __future__ import annotations

from torch import Tensor, nn

from ssl_music_bench import Encoder
from ssl_music_bench.contracts.registry import register_encoder
from ssl_music_bench.encoders.logmel import LogMel, LogMelConfig


@register_encoder("test-tiny-mel", paper="test fixture (tests/experiments/tiny_encoder.py)")
class TinyMel(Encoder):
    """Two strided 3x3 convolutions on a 64-bin log-mel at 16 kHz, max-pooled to 16 values."""

    sample_rate = 16_000
    input_kind = "mel"
    crop_samples = 16_000  # 1 s: 98 frames, as the mel methods (MWS) expect
    embed_dim = 16
    frame_dim = 16
    sequence_hop = 4 * 160

    def __init__(self) -> None:
        super().__init__()
        self.logmel = LogMel(LogMelConfig(sample_rate=self.sample_rate))
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                 nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())

    def frontend(self, wave: Tensor) -> Tensor:
        self.check_input(wave)
        return self.logmel(wave)

    def frames(self, features: Tensor) -> Tensor:
        return self.net(features).amax(dim=2).transpose(1, 2)  # max over frequency -> (B, T, 16)

    def pool(self, frames: Tensor) -> Tensor:
        return frames.amax(dim=1)
