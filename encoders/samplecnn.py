"""SampleCNN 3^9: a sample-level CNN on the raw waveform.

Source: Lee, Park, Kim & Nam, "Sample-level deep convolutional neural networks for music
auto-tagging using raw waveforms", SMC 2017; configuration as used by CLMR (Spijkervet &
Burgoyne, ISMIR 2021; Spijkervet/CLMR clmr/models/sample_cnn.py): 59,049 samples (3^10) at
22,050 Hz. A strided stem conv (k3, s3) and nine blocks of conv(k3) + BN + ReLU + max-pool(3)
reduce 59,049 samples to one frame; a final conv gives the 512-d embedding.
2,368,512 parameters without a head.

For frame-level methods (CPC) ``sequence`` is the output of the 5th pooled block: 256-d steps
every 3^6 = 729 samples (33 ms; 81 steps per crop, receptive field 1,455 samples), the layer
closest to CPC's own encoder (480-sample hop, 710-sample receptive field; Spijkervet/CLMR v1 modules/cpc).
"""

from __future__ import annotations

from torch import Tensor, nn

from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.registry import register_encoder

# (in, out) channels of the nine pooled blocks, as in CLMR's sample_cnn.py
BLOCK_CHANNELS = [(128, 128), (128, 128), (128, 256)] + [(256, 256)] * 5 + [(256, 512)]


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1, padding: int = 1) -> list[nn.Module]:
    return [
        nn.Conv1d(in_channels, out_channels, kernel_size=3, stride=stride, padding=padding),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(),
    ]


@register_encoder("samplecnn", paper="Lee, Park, Kim & Nam, SMC 2017; as in CLMR (Spijkervet & Burgoyne, ISMIR 2021)")
class SampleCNN(Encoder):
    """SampleCNN 3^9 on raw 22,050 Hz audio (Lee et al. 2017, as in CLMR), 512-d."""

    sample_rate = 22_050
    input_kind = "wave"
    crop_samples = 59_049
    embed_dim = 512
    frame_dim = 512
    sequence_blocks = 5  # sequence(): the output of this many pooled blocks
    sequence_dim = BLOCK_CHANNELS[sequence_blocks - 1][1]  # 256
    sequence_hop = 3 ** (1 + sequence_blocks)  # stem stride 3, then max-pool(3) per block: 729

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = conv_bn_relu(1, 128, stride=3, padding=0)
        for in_channels, out_channels in BLOCK_CHANNELS:
            layers += [*conv_bn_relu(in_channels, out_channels), nn.MaxPool1d(3)]
        layers += conv_bn_relu(512, 512)
        self.layers = nn.Sequential(*layers)

    def frontend(self, wave: Tensor) -> Tensor:
        self.check_input(wave)
        return wave.unsqueeze(1)

    def frames(self, features: Tensor) -> Tensor:
        # one frame per 3^10 samples: a crop of 59,049 samples gives T = 1
        return self.layers(features).transpose(1, 2)

    @property
    def sequence_layers(self) -> nn.Sequential:
        """The stem (conv, BN, ReLU), then 4 modules per pooled block, up to ``sequence_blocks``."""
        return self.layers[: 3 + 4 * self.sequence_blocks]

    def sequence(self, features: Tensor) -> Tensor:
        return self.sequence_layers(features).transpose(1, 2)

    def sequence_parameter_count(self) -> int:
        return sum(p.numel() for p in self.sequence_layers.parameters() if p.requires_grad)

    def pool(self, frames: Tensor) -> Tensor:
        # CLMR flattens the single remaining frame; for longer input, average the frames
        return frames.mean(dim=1)
