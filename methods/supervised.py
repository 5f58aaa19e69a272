"""Supervised baseline: the encoder trained end to end on the task's own train labels.

The ceiling of the leaderboard under the same budget: the encoder plus a linear head are trained
on random crops of the task's train clips with the task's loss (BCE for tagging, cross-entropy
for classification), for the protocol's steps and batch size. It is then evaluated like every
other row: frozen encoder, the protocol's probe on its embeddings. CLMR reports a supervised
SampleCNN at 88.56 ROC-AUC / 34.38 PR-AUC on MagnaTagATune (Spijkervet & Burgoyne 2021).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn
from torch.utils.data import Dataset

from ssl_music_bench.augment import random_crop
from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.registry import register_method
from ssl_music_bench.contracts.settings import setting
from ssl_music_bench.contracts.task import TaskData
from ssl_music_bench.data.sampler import Example, ExcerptDataset
from ssl_music_bench.data.store import ClipStore


@dataclass
class SupervisedConfig:
    learning_rate: float = setting(3e-4, "> 0")  # Adam, as CLMR's supervised SampleCNN (CLMR config.yaml)
    weight_decay: float = setting(1e-6, ">= 0")


class LabelledExcerpts(Dataset[Example]):
    """Excerpts of the task's clips with their targets."""

    def __init__(self, excerpts: ExcerptDataset, targets: Tensor) -> None:
        self.excerpts = excerpts
        self.targets = targets

    def __len__(self) -> int:
        return len(self.excerpts)

    def __getitem__(self, k: int) -> Example:
        return {**self.excerpts[k], "target": self.targets[k]}


@register_method("supervised", baseline="ceiling")
class Supervised(Method):
    """Baseline: the encoder trained end to end on the evaluated task's train labels."""

    accepts = frozenset({"wave", "mel"})
    config_class = SupervisedConfig
    uses_task_labels = True

    def attach_task(self, data: TaskData) -> None:
        self.kind = data.kind
        self.train_targets = data.targets["train"]
        self.head = nn.Linear(self.encoder.embed_dim, data.num_labels)
        self.criterion = nn.BCEWithLogitsLoss() if data.kind == "multilabel" else nn.CrossEntropyLoss()

    def pretrain_dataset(self, store: ClipStore, indices: list[int]) -> Dataset[Example]:
        if not hasattr(self, "head"):
            raise RuntimeError("the supervised baseline needs attach_task() before training")
        excerpts = super().pretrain_dataset(store, indices)
        return LabelledExcerpts(excerpts, self.train_targets)

    def training_loss(self, batch: Example) -> Tensor:
        crop = random_crop(batch["audio"], self.encoder.crop_samples)
        logits = self.head(self.encoder(crop))
        return self.criterion(logits, batch["target"])
