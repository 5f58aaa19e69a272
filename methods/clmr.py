"""CLMR: contrastive learning of musical representations.

Spijkervet & Burgoyne, "Contrastive Learning of Musical Representations", ISMIR 2021
(Spijkervet/CLMR): SimCLR (Chen et al., ICML 2020) on raw audio.

    "a stochastic composition of data augmentations [...] is applied to each example twice,
    resulting in two correlated views [...] a contrastive loss is defined to maximise the
    agreement between them."

Two views of each song are independent random crops of 59,049 samples, each passed through the
augmentation chain (polarity, noise, gain, filter, delay, pitch, reverb; ssl_music_bench/augment).
The encoder's output h goes through the projection g(h) = W2 ReLU(W1 h) and the NT-Xent loss
over the 2N views, with cosine similarity and temperature tau = 0.5:

    l(i, j) = -log exp(sim(z_i, z_j) / tau) / sum_{k != i} exp(sim(z_i, z_k) / tau)

averaged over both directions of every positive pair (2N - 2 negatives each). Negatives are
gathered from every process (lightly's NT-Xent, ``gather_distributed=True``), which CLMR's own
code never did. The probe uses h, not z.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from ssl_music_bench.augment import CLMRAugment, CLMRAugmentConfig, random_crop
from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.registry import register_method
from ssl_music_bench.contracts.settings import setting


@dataclass
class CLMRConfig:
    projection_dim: int = setting(64, ">= 1")  # CLMR config.yaml (v1 used 128)
    temperature: float = setting(0.5, "> 0")  # CLMR config.yaml
    learning_rate: float = setting(3e-4, "> 0")  # Adam, CLMR config.yaml
    weight_decay: float = setting(1e-6, ">= 0")  # CLMR config.yaml
    augment: CLMRAugmentConfig = field(default_factory=CLMRAugmentConfig)


def projection_head(in_dim: int, out_dim: int) -> nn.Module:
    """g(h) = W2 ReLU(W1 h), no biases, hidden size = in_dim (CLMR / SimCLR)."""
    return nn.Sequential(
        nn.Linear(in_dim, in_dim, bias=False), nn.ReLU(), nn.Linear(in_dim, out_dim, bias=False)
    )


@register_method("clmr", paper="Spijkervet & Burgoyne, ISMIR 2021")
class CLMR(Method):
    """SimCLR on music audio: NT-Xent between two augmented crops of a song (Spijkervet & Burgoyne 2021)."""

    accepts = frozenset({"wave", "mel"})  # the chain acts on the wave, before any frontend
    config_class = CLMRConfig

    def __init__(self, encoder: Encoder, config: CLMRConfig | None = None) -> None:
        super().__init__(encoder, config)
        self.augment = CLMRAugment(self.config.augment)
        self.projection = projection_head(encoder.embed_dim, self.config.projection_dim)
        from lightly.loss import NTXentLoss  # lazily: lightly imports torchvision, seconds at every start

        self.criterion = NTXentLoss(temperature=self.config.temperature, gather_distributed=True)

    def segment_seconds(self) -> float:
        # each view is an independent crop of the song; two crops' length of song to crop from
        return 2 * self.encoder.crop_seconds

    def view(self, audio: Tensor) -> Tensor:
        crop = random_crop(audio, self.encoder.crop_samples)
        return self.augment(crop, self.encoder.sample_rate)

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        audio = batch["audio"]
        z_i = self.projection(self.encoder(self.view(audio)))
        z_j = self.projection(self.encoder(self.view(audio)))
        return self.criterion(z_i, z_j)
