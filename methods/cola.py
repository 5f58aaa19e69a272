"""COLA: contrastive learning of general-purpose audio representations.

Saeed, Grangier & Zeghidour, ICASSP 2021 (arXiv 2010.10915; google-research/google-research cola/):

    "it learns a representation which assigns high similarity to audio segments extracted from
    the same recording while assigning lower similarity to segments from different recordings."

Two segments (1 s in COLA; here the encoder's crop) drawn uniformly from one recording are a
positive pair (anchor x, positive x'); the other positives of the batch are the negatives. Embeddings g(h) = tanh(LayerNorm(W_g h + b))
(512-d), bilinear similarity s(x, x') = g(x)^T W g(x') with W (512 x 512) learned, and one softmax
cross-entropy over the B x B score matrix, labels on the diagonal, one direction, no temperature:

    L = -1/B sum_i log( exp s(x_i, x'_i) / sum_j exp s(x_i, x'_j) )

COLA learns on log-mels (EfficientNet-B0); the views here are crops of the wave, so any encoder
works. The code adds 0.001 N(0, 1) to the positive's wave *after* l2-normalising the whole clip
(contrastive.py); the encoder here sees audio at its own scale, so the noise is
0.001 N(0, 1) x ||excerpt||_2, the same signal-to-noise ratio with the excerpt standing for the
clip. With torch.distributed the columns (positives) are gathered from every process, so the
negatives are global; each process keeps its own rows (anchors).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_music_bench.augment import random_crop
from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.registry import register_method
from ssl_music_bench.contracts.settings import setting
from ssl_music_bench.train.distributed import draw, gather_rows


@dataclass
class COLAConfig:
    embedding_dim: int = setting(512, ">= 1")  # cola/main.py --embedding_dim
    positive_noise: float = setting(0.001, ">= 0")  # cola/main.py --noise, relative to the excerpt's l2 norm
    # protocol choice: COLA draws both crops from the whole clip; MSCOL_SMC23 (whose COLA rows
    # report/reported.py holds) from ~4 s excerpts (392 frames). Never shorter than one crop.
    excerpt_seconds: float = setting(4.0, "> 0")
    # COLA code: Adam 1e-3 at batch 64 (cola/main.py; also MSCOL_SMC23 at batch 128) -- our
    # default, as our batches are of that size; the paper used Adam 1e-4 at batch 1024
    learning_rate: float = setting(1e-3, "> 0")
    weight_decay: float = setting(0.0, ">= 0")  # neither the paper nor the code uses weight decay


def bilinear_logits(anchor: Tensor, positive: Tensor, weight: Tensor) -> Tensor:
    """Bilinear scores s[i, j] = anchor_i^T W positive_j: (B, D), (C, D), (D, D) -> (B, C)."""
    return anchor @ weight @ positive.T


def cola_loss(anchor: Tensor, positive: Tensor, weight: Tensor, label_offset: int = 0) -> Tensor:
    """Mean cross-entropy of each anchor's bilinear scores over all positives, its own as target.

    ``positive`` may hold more rows than ``anchor`` (every process's positives); anchor i's own
    positive is row ``label_offset + i``.
    """
    labels = torch.arange(anchor.shape[0], device=anchor.device) + label_offset
    return F.cross_entropy(bilinear_logits(anchor, positive, weight), labels)


def add_positive_noise(positive: Tensor, excerpt: Tensor, ratio: float) -> Tensor:
    """``positive + ratio x ||excerpt||_2 x N(0, 1)``: COLA's noise on the positive crop.

    The excerpt stands for the l2-normalised clip of the COLA code (see the module doc); the
    noise is one row per global example (ssl_music_bench/train/distributed.py).
    """
    scale = ratio * excerpt.norm(dim=1, keepdim=True)
    noise = draw(len(positive), lambda n: torch.randn((n, positive.shape[1]), device=positive.device))
    return positive + scale * noise.to(positive.dtype)


class COLALoss(nn.Module):
    """The bilinear weight W and the COLA loss, with negatives gathered across processes."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, dim) * 0.05)  # Keras "random_normal" (std 0.05)

    def forward(self, anchor: Tensor, positive: Tensor) -> Tensor:
        positives, offset = gather_rows(positive)
        return cola_loss(anchor, positives, self.weight, offset)


def cola_projection(in_dim: int, out_dim: int = 512) -> nn.Sequential:
    """Linear -> LayerNorm -> tanh, initialised like Keras' Dense and LayerNormalization (COLA)."""
    linear = nn.Linear(in_dim, out_dim)
    nn.init.xavier_uniform_(linear.weight)  # Keras glorot_uniform, zero bias
    nn.init.zeros_(linear.bias)
    return nn.Sequential(linear, nn.LayerNorm(out_dim, eps=1e-3), nn.Tanh())  # Keras epsilon 1e-3


@register_method("cola", paper="Saeed, Grangier & Zeghidour, ICASSP 2021")
class COLA(Method):
    """Two segments of one recording vs the batch, bilinear similarity (Saeed et al. 2021)."""

    accepts = frozenset({"wave", "mel"})  # views are crops of the wave, before any frontend
    config_class = COLAConfig

    def __init__(self, encoder: Encoder, config: COLAConfig | None = None) -> None:
        super().__init__(encoder, config)
        self.projection = cola_projection(encoder.embed_dim, self.config.embedding_dim)
        self.criterion = COLALoss(self.config.embedding_dim)

    def segment_seconds(self) -> float:
        return max(self.config.excerpt_seconds, self.encoder.crop_seconds)

    def views(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        """Anchor and positive: independent uniform crops of each excerpt; noise on the positive."""
        anchor = random_crop(audio, self.encoder.crop_samples)
        positive = random_crop(audio, self.encoder.crop_samples)
        return anchor, add_positive_noise(positive, audio, self.config.positive_noise)

    def embed(self, waves: Tensor) -> Tensor:
        """Crops -> g(encoder(crops)); subclasses change what happens between the two."""
        return self.projection(self.encoder(waves))

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        anchor, positive = self.views(batch["audio"])
        # one encoder pass over anchors and positives together, as cola/network.py does
        # (the batch-norm statistics cover both)
        embeddings = self.embed(torch.cat([anchor, positive]))
        return self.criterion(*embeddings.chunk(2))
