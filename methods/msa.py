"""COLA + multi-source association (MSA): a mixture excerpt is paired with one of its sources.

Garoufis, Zlatintsi & Maragos, "Multi-Source Contrastive Learning from Musical Audio", SMC 2023
(arXiv 2302.07077; cgaroufis/MSCOL_SMC23 pretraining.py, mscol/network.py):

    "we modify COLA [...] to learn to associate a song excerpt with a stochastically selected and
    automatically extracted vocal or instrumental source. We further introduce a novel
    modification to the contrastive loss to incorporate information about the existence or
    absence of specific sources."

Pairs: the mixture is cut into non-overlapping ~4 s excerpts; anchor = a random 1 s crop (the
encoder's crop) of the mixture excerpt, positive = an independent random crop of ONE source's
excerpt of the same window (offset up to about +-2.9 s). Each batch holds one source, drawn
uniformly from ``sources``; with ``silent`` a batch is, with probability 0.5, drawn from every
excerpt, so sources that are absent (mean |x| <= 0.01 over the window of the stem) give silent
positives, which are fed as all-zero input as in the reference (ssl_music_bench/data/multisource.py).

Loss (:func:`silent_centroid_loss`): COLA's embeddings g = tanh(LayerNorm(Linear(h))), 512-d, and
bilinear scores s(a, c) = g(a)^T W c. The columns c are the embeddings of the active positives
plus ONE column, the mean of the silent positives' embeddings; anchor i's target t_i is its own
column when its positive is active, the centroid column when it is silent:

    L = -1/B sum_i log( exp s(a_i, c_{t_i}) / sum_j exp s(a_i, c_j) )

With no silent positive this is COLA's loss. Columns (and silence flags) are gathered from every
process; each process keeps its own anchors (``gather_rows`` in ssl_music_bench/train/distributed.py).

Training in the reference: Adam 1e-3 (our default), batch 128 and 10,000 steps (the protocol's
to set), the learning rate halved after half of the steps (``configure_optimizer``).

MSA was defined with EfficientNet-B0 on log-mels, but its views are crops of the wave made before
any frontend, so wave encoders (SampleCNN) work too. Source-targeted variants: ``--set
sources=drums``; the reference's run without silent batches: ``--set silent=false``.

The poster's ablations, one switch each (the defaults are the full method):

- ``homogeneous`` (default true): one source per batch, as pretraining.py draws one ``tid`` per
  batch of 128; ``false``: mixed batches, every example with its own uniformly drawn source
  (ssl_music_bench/data/multisource.py), so the negatives of a positive are other sources too.
- ``loss`` (default ``centroid``): the silent-centroid loss of mscol/network.py ``train_step``;
  ``plain``: COLA's loss (cola/network.py), every positive its own column, a silent (all-zero)
  positive included, i.e. no special treatment of absent sources.
- ``time_shift`` (default true): anchor and positive are cropped at independent offsets of the
  window (pretraining.py ``_prepare_example_sep`` draws the start twice); ``false``: the positive
  is the source over exactly the anchor's samples. The poster: "time shifting ... is critical".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader

from ssl_music_bench.augment import random_crop
from ssl_music_bench.augment.batching import randint
from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.registry import register_method
from ssl_music_bench.contracts.settings import setting
from ssl_music_bench.contracts.sources import SOURCES  # the four stems: drums, bass, vocals, other (accompaniment)
from ssl_music_bench.data.multisource import source_batches
from ssl_music_bench.data.sampler import Example
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.errors import BenchError, did_you_mean
from ssl_music_bench.methods.cola import COLA, COLAConfig, COLALoss, add_positive_noise, bilinear_logits
from ssl_music_bench.train.distributed import gather_rows

SILENT_BATCH_PROBABILITY = 0.5  # pretraining.py: ttypes = np.random.choice(2) per batch


@dataclass
class MSAConfig(COLAConfig):
    """COLA's settings (methods/cola.py; Adam 1e-3 as MSCOL_SMC23, 4 s excerpts) plus MSA's."""

    sources: tuple[str, ...] = setting(SOURCES, choices=SOURCES)  # pretraining.py --sources; all four = "multi-source"
    silent: bool = True  # pretraining.py --silent (the README's example run uses it)
    silence_threshold: float = setting(0.01, ">= 0")  # preprocess_multitracks.py: mean(|x|) over the 4 s window
    # the reference crops precomputed log-mels and adds no noise; COLA's noise is kept (on active
    # positives only) so that msa and cola differ by the pairing alone; 0 reproduces MSCOL
    positive_noise: float = setting(0.001, ">= 0")
    # the poster's ablations (module doc): one source per batch, the centroid loss, shifted crops
    homogeneous: bool = True  # pretraining.py: one tid per batch of 128; false = mixed batches
    loss: str = setting("centroid", choices=("centroid", "plain"))  # mscol/network.py vs COLA's loss
    time_shift: bool = True  # pretraining.py _prepare_example_sep: independent crop offsets

    def __post_init__(self) -> None:
        names = self.sources.split(",") if isinstance(self.sources, str) else self.sources
        self.sources = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
        unknown = [name for name in self.sources if name not in SOURCES]
        if unknown or not self.sources:
            hint = did_you_mean(unknown[0], SOURCES) if unknown else ""
            raise BenchError(
                f"MSA sources must be some of {', '.join(SOURCES)} (comma-separated, e.g. "
                f"--set sources=drums,bass); got {', '.join(unknown) or 'none'}.{hint}"
            )


def silent_centroid_loss(
    anchor: Tensor, positive: Tensor, silent: Tensor, weight: Tensor, label_offset: int = 0
) -> Tensor:
    """MSA's contrastive loss: active positives are columns, all silent ones share one centroid.

    anchor (B, D) and positive (C, D) are projected embeddings, silent (C,) bool flags the
    positives, weight (D, D) the bilinear W. Anchor i's own positive is row ``label_offset + i``
    (C > B when positives are gathered from several processes). With no silent row this is
    exactly COLA's loss; with all rows silent every anchor targets the single centroid column.
    """
    active = ~silent
    columns = positive[active]
    if bool(silent.any()):
        columns = torch.cat([columns, positive[silent].mean(dim=0, keepdim=True)])
    column_of_row = torch.where(silent, active.sum(), active.long().cumsum(0) - 1)
    labels = column_of_row[label_offset : label_offset + anchor.shape[0]]
    return F.cross_entropy(bilinear_logits(anchor, columns, weight), labels)


class SilentCentroidLoss(COLALoss):
    """COLA's bilinear W with :func:`silent_centroid_loss`, columns gathered across processes;
    ``centroid=False`` is the ``loss=plain`` ablation: COLA's loss, silent positives as columns."""

    def __init__(self, dim: int, centroid: bool = True) -> None:
        super().__init__(dim)
        self.centroid = centroid

    def forward(self, anchor: Tensor, positive: Tensor, silent: Tensor) -> Tensor:  # type: ignore[override]
        if not self.centroid:
            return super().forward(anchor, positive)
        positives, offset = gather_rows(positive)
        silents, _ = gather_rows(silent.to(positive.dtype))
        return silent_centroid_loss(anchor, positives, silents > 0.5, self.weight, offset)


def aligned_crops(mixture: Tensor, source: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """``length`` samples of each row of both (B, M) tensors at ONE offset per row: the
    ``time_shift=false`` ablation, the positive is the source under exactly the anchor."""
    start = randint(mixture.shape[0], 0, mixture.shape[1] - length, mixture.device)
    index = start[:, None] + torch.arange(length, device=mixture.device)
    return mixture.gather(1, index), source.gather(1, index)


@register_method("msa", paper="Garoufis, Zlatintsi & Maragos, SMC 2023")
class MSA(COLA):
    """COLA pairing a mixture excerpt with one separated source of it, silent sources centred."""

    accepts = frozenset({"wave", "mel"})  # views are crops of the wave, made before any frontend
    audio_keys = ("audio", "positive")
    config_class = MSAConfig

    def __init__(self, encoder: Encoder, config: MSAConfig | None = None) -> None:
        super().__init__(encoder, config)
        self.criterion = SilentCentroidLoss(self.config.embedding_dim, centroid=self.config.loss == "centroid")

    def pretrain_batches(
        self, store: ClipStore, indices: list[int], batch_size: int, steps: int, seed: int, num_workers: int
    ) -> DataLoader[Example]:
        """Batches of {"audio", "positive", "silent", "source", "index", "start"}: one source per
        batch, or mixed batches with ``homogeneous=false``."""
        if store.sample_rate != 16_000:
            warnings.warn(
                f"The silence threshold of MSA was set on 16 kHz stems; this store is at "
                f"{store.sample_rate} Hz, where mean(|x|) is compared to it unchanged.", stacklevel=2
            )
        samples = round(self.segment_seconds() * store.sample_rate)
        probability = SILENT_BATCH_PROBABILITY if self.config.silent else 0.0
        return source_batches(store, indices, self.config.sources, samples, self.config.silence_threshold,
                              probability, batch_size, steps, seed, num_workers, self.config.homogeneous)

    def configure_optimizer(self, total_steps: int) -> dict[str, object]:
        """Adam, the learning rate halved after half of the budget (the reference's schedule)."""
        optimizer = super().configure_optimizer(total_steps)
        halve = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[max(1, total_steps // 2)], gamma=0.5)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": halve, "interval": "step"}}

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        audio, excerpt, silent = batch["audio"], batch["positive"], batch["silent"].bool()
        if self.config.time_shift:
            anchor = random_crop(audio, self.encoder.crop_samples)
            positive = random_crop(excerpt, self.encoder.crop_samples)
        else:
            anchor, positive = aligned_crops(audio, excerpt, self.encoder.crop_samples)
        positive = add_positive_noise(positive, excerpt, self.config.positive_noise)
        positive = positive * (~silent).to(positive.dtype)[:, None]  # silent sources: all-zero input
        embeddings = self.embed(torch.cat([anchor, positive]))  # one pass: shared batch-norm stats
        anchor_embedding, positive_embedding = embeddings.chunk(2)
        return self.criterion(anchor_embedding, positive_embedding, silent)
