"""Probes: shallow heads trained on frozen embeddings, and their evaluation.

Recipe (CLMR's linear evaluation, Spijkervet & Burgoyne 2021): the encoder is frozen; the head
is trained on chunk embeddings, each chunk carrying its clip's labels, with Adam (lr 1e-3,
weight decay 1e-6), BCE for tagging or cross-entropy for classification,
ReduceLROnPlateau(0.1, patience 5) and early stopping (patience 10) on the validation loss; the
weights of the best validation epoch are kept. A protocol may stop on the validation accuracy
instead (``early_stop_metric = "accuracy"``, MSCOL's probes) and turn the plateau schedule off
(``lr_reduce_factor = 1``). At test time each chunk gets a sigmoid (tagging)
or softmax (classification) output and a clip's score is the mean over its chunks.

The probe is a few hundred steps on a small in-memory tensor, so it runs as a plain loop:
Lightning's per-step machinery would cost more than the training itself.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssl_music_bench.contracts.protocol import ProbeSettings
from ssl_music_bench.contracts.registry import PROBES, register_probe
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate.metrics import mean_over_chunks


@register_probe("linear", paper="CLMR linear evaluation")
def linear_probe(in_dim: int, out_dim: int) -> nn.Module:
    """A single linear layer on the frozen embedding (CLMR)."""
    return nn.Linear(in_dim, out_dim)


@register_probe("mlp", paper="CLMR MLP evaluation; MSA NSynth probe")
def mlp_probe(in_dim: int, out_dim: int) -> nn.Module:
    """One hidden layer of 512 ReLU units (CLMR's MLP probe; the MSA paper's NSynth probe)."""
    return nn.Sequential(nn.Linear(in_dim, 512), nn.ReLU(), nn.Linear(512, out_dim))


@dataclass
class ProbeData:
    """Chunk embeddings of one split, each chunk's clip, and the clips' targets."""

    embeddings: Tensor  # (chunks, D)
    owner: Tensor  # (chunks,) position of the chunk's clip
    targets: Tensor  # (clips, L) float for tagging, (clips,) long for classification

    @property
    def chunk_targets(self) -> Tensor:
        return self.targets[self.owner]

    def clips(self, positions: list[int]) -> ProbeData:
        """Only the clips at ``positions`` (e.g. a label fraction), with their chunks."""
        keep = torch.tensor(positions, dtype=torch.long)
        new_position = torch.full((len(self.targets),), -1, dtype=torch.long)
        new_position[keep] = torch.arange(len(keep))
        chunks = new_position[self.owner] >= 0
        return ProbeData(self.embeddings[chunks], new_position[self.owner[chunks]], self.targets[keep])


@dataclass
class Standardizer:
    mean: Tensor
    std: Tensor

    @classmethod
    def fit(cls, x: Tensor) -> Standardizer:
        return cls(x.mean(dim=0), x.std(dim=0).clamp_min(1e-6))

    def __call__(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


def _loss_function(kind: str) -> nn.Module:
    return nn.BCEWithLogitsLoss() if kind == "multilabel" else nn.CrossEntropyLoss()


def _probabilities(kind: str, logits: Tensor) -> Tensor:
    return torch.sigmoid(logits) if kind == "multilabel" else torch.softmax(logits, dim=1)


@dataclass
class TrainedProbe:
    head: nn.Module
    standardize: Standardizer | None
    epochs: int
    best_valid_loss: float

    @torch.no_grad()
    def clip_scores(self, kind: str, data: ProbeData) -> Tensor:
        x = self.standardize(data.embeddings) if self.standardize else data.embeddings
        chunk_scores = _probabilities(kind, self.head(x))
        return mean_over_chunks(chunk_scores, data.owner, data.targets.shape[0])


def chunk_accuracy(kind: str, logits: Tensor, targets: Tensor) -> float:
    """Validation accuracy of chunk outputs: top-1 (classes), or the share of (chunk, tag) pairs
    on the right side of 0.5 (tags: Keras's BinaryAccuracy, which MSCOL's MTAT probe stops on)."""
    if kind == "multilabel":
        return float(((logits > 0) == (targets > 0.5)).float().mean())
    return float((logits.argmax(dim=1) == targets).float().mean())


def require_finite(data: ProbeData, split: str) -> None:
    """Stop before fitting when embeddings hold NaN/inf: a probe on them yields meaningless numbers."""
    bad = int((~torch.isfinite(data.embeddings)).any(dim=1).sum())
    if bad:
        raise BenchError(
            f"{bad} of the {len(data.embeddings)} {split} chunk embeddings hold NaN or infinite values, so no "
            "probe can be trained on them. The encoder's weights are likely non-finite (a diverged pretraining: "
            "lower the method's learning_rate or check its settings) or the clips hold non-finite samples.")


def train_probe(kind: str, train: ProbeData, valid: ProbeData, settings: ProbeSettings, seed: int) -> TrainedProbe:
    """Fit the protocol's probe on train chunks, early-stopped on the validation loss."""
    require_finite(train, "train")
    require_finite(valid, "valid")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    standardize = Standardizer.fit(train.embeddings) if settings.standardize else None
    x_train = standardize(train.embeddings) if standardize else train.embeddings
    x_valid = standardize(valid.embeddings) if standardize else valid.embeddings
    y_train, y_valid = train.chunk_targets, valid.chunk_targets
    out_dim = y_train.shape[1] if kind == "multilabel" else int(train.targets.max().item()) + 1
    out_dim = max(out_dim, int(valid.targets.max().item()) + 1) if kind == "multiclass" else out_dim
    head: nn.Module = PROBES.get(settings.kind).obj(x_train.shape[1], out_dim)
    loss_fn = _loss_function(kind)
    optimizer = torch.optim.Adam(head.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    # lr_reduce_factor 1: no plateau schedule (MSCOL's probes keep Adam's rate); torch refuses factor 1
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=settings.lr_reduce_factor, patience=settings.lr_reduce_patience
    ) if settings.lr_reduce_factor < 1 else None
    by_accuracy = settings.early_stop_metric == "accuracy"
    best_loss, best_state, stale, epoch = float("inf"), copy.deepcopy(head.state_dict()), 0, 0
    best_accuracy = -1.0
    for epoch in range(1, settings.max_epochs + 1):
        head.train()
        for rows in torch.randperm(len(x_train), generator=generator).split(settings.batch_size):
            optimizer.zero_grad()
            loss_fn(head(x_train[rows]), y_train[rows]).backward()
            optimizer.step()
        head.eval()
        with torch.no_grad():
            valid_logits = head(x_valid)
            valid_loss = float(loss_fn(valid_logits, y_valid))
        if not math.isfinite(valid_loss):
            raise BenchError(
                f"The probe's validation loss became {valid_loss} at epoch {epoch}: the probe diverged. Lower the "
                f"protocol's probe.learning_rate (now {settings.learning_rate:g}) or check the embeddings.")
        if scheduler is not None:
            scheduler.step(valid_loss)
        if by_accuracy:  # MSCOL_SMC23 downstream scripts: keep the epoch of the best validation accuracy
            accuracy = chunk_accuracy(kind, valid_logits, y_valid)
            better = accuracy > best_accuracy
            best_accuracy = max(best_accuracy, accuracy)
        else:
            better = valid_loss < best_loss - 1e-6
        if better:
            best_loss, best_state, stale = valid_loss, copy.deepcopy(head.state_dict()), 0
        else:
            stale += 1
            if stale >= settings.early_stop_patience:
                break
    head.load_state_dict(best_state)
    head.eval()
    return TrainedProbe(head, standardize, epoch, best_loss)
