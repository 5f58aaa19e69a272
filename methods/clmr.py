"""CLMR: contrastive learning of musical representations.

Spijkervet & Burgoyne, "Contrastive Learning of Musical Representations", ISMIR 2021
(Spijkervet/CLMR): SimCLR (Chen et al., ICML 2020) on raw audio.

    "a stochastic composition of data augmentations [...] is applied to each example twice,
    resulting in two correlated views [...] a contrastive loss is defined to maximise the
    agreement between them."

Two views of each song are independent random crops of 59,049 samples, each cut from the whole
clip (CLMR's ``ComposeMany([RandomResizedCrop(audio_length), RandomApply(...), ...],
num_augmented_samples=2)`` on every clip of its ``ContrastiveDataset``: the crop is the first
transform of each view), so two views of a 30 s clip overlap only about one time in five; each
view is then passed through the augmentation chain (polarity, noise, gain, filter, delay, pitch,
reverb; ssl_music_bench/augment).
The encoder's output h goes through the projection g(h) = W2 ReLU(W1 h) and the NT-Xent loss
over the 2N views, with cosine similarity and temperature tau = 0.5:

    l(i, j) = -log exp(sim(z_i, z_j) / tau) / sum_{k != i} exp(sim(z_i, z_k) / tau)

averaged over both directions of every positive pair (2N - 2 negatives each). Negatives are
gathered from every process (lightly's NT-Xent, ``gather_distributed=True``), which CLMR's own
code never did. The probe uses h, not z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ssl_music_bench.augment import CLMRAugment, CLMRAugmentConfig
from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.registry import register_method
from ssl_music_bench.contracts.settings import setting
from ssl_music_bench.data.sampler import Example, SeededIndex, random_excerpt
from ssl_music_bench.data.store import ClipStore

SECOND_VIEW = "second_view"
"""The batch entry with each clip's second crop ("audio" holds the first)."""


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


class IndependentCrops(Dataset[Example]):
    """Item k: {"audio": one crop of clip ``indices[k]``, "second_view": another, drawn independently}.

    Each crop's offset is uniform over the whole clip, as CLMR's ``RandomResizedCrop`` draws it for
    each view; the two offsets come one after the other from the example's own seed
    (:class:`SeededIndex`), so N processes draw what one process draws. Two fixed-length
    excerpts per clip keep the batch rectangular. A clip shorter than a crop gives two copies of
    itself, zero-padded (CLMR skips such clips).
    """

    def __init__(self, store: ClipStore, indices: list[int], samples: int) -> None:
        self.store, self.indices, self.samples = store, indices, samples

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> Example:
        rng = np.random.default_rng(list(k.seed)) if isinstance(k, SeededIndex) else None
        first, second = (random_excerpt(self.store, self.indices[k], self.samples, rng=rng) for _ in range(2))
        return {"audio": torch.from_numpy(first), SECOND_VIEW: torch.from_numpy(second)}


@register_method("clmr", paper="Spijkervet & Burgoyne, ISMIR 2021")
class CLMR(Method):
    """SimCLR on music audio: NT-Xent between two augmented crops of a song (Spijkervet & Burgoyne 2021)."""

    accepts = frozenset({"wave", "mel"})  # the chain acts on the wave, before any frontend
    audio_keys = ("audio", SECOND_VIEW)
    config_class = CLMRConfig
    # 2: each view an independent crop of the whole clip, as CLMR's code (1: two crops of one
    # excerpt two crops long, which always overlapped)
    revision = 2

    def __init__(self, encoder: Encoder, config: CLMRConfig | None = None) -> None:
        super().__init__(encoder, config)
        self.augment = CLMRAugment(self.config.augment)
        self.projection = projection_head(encoder.embed_dim, self.config.projection_dim)
        from lightly.loss import NTXentLoss  # lazily: lightly imports torchvision, seconds at every start

        self.criterion = NTXentLoss(temperature=self.config.temperature, gather_distributed=True)

    def pretrain_dataset(self, store: ClipStore, indices: list[int]) -> Dataset[Example]:
        """Two independent crops of each clip, each just long enough to give one encoder crop
        once resampled to the encoder's rate (ceil: the resampled length is rounded up too)."""
        samples = math.ceil(self.encoder.crop_samples * store.sample_rate / self.encoder.sample_rate)
        return IndependentCrops(store, indices, samples)

    def view(self, audio: Tensor) -> Tensor:
        """The chain on a batch of crops; a resampled crop a sample or two long is cut to the
        encoder's crop (from its start: the offset was already drawn over the whole clip)."""
        return self.augment(audio[:, : self.encoder.crop_samples], self.encoder.sample_rate)

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        z_i = self.projection(self.encoder(self.view(batch["audio"])))
        z_j = self.projection(self.encoder(self.view(batch[SECOND_VIEW])))
        return self.criterion(z_i, z_j)
