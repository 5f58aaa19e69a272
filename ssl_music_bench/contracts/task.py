"""The task contract: a dataset, its labels, its split and its metric.

Tasks are declarative: a name, the kind of labels (multi-label tagging or single-label
classification), the metrics, the source of the split, and a ``load`` that returns the prepared
clip store with one target per item. Probing, aggregation and metrics are the same code for all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch
from torch import Tensor

from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.data.store import SPLITS, ClipInfo, ClipStore

TaskKind = Literal["multilabel", "multiclass"]
METRICS: dict[str, tuple[str, ...]] = {
    "multilabel": ("roc_auc", "pr_auc"),
    "multiclass": ("accuracy",),
}


@dataclass(frozen=True)
class TaskData:
    """A loaded task: the store plus targets per split, aligned with the store's item indices."""

    name: str
    kind: TaskKind
    store: ClipStore
    label_names: tuple[str, ...]
    indices: dict[str, list[int]]
    targets: dict[str, Tensor]  # multilabel: (n, L) float 0/1; multiclass: (n,) long
    manifest_sha256: str

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


class Task:
    """Base class of every registered task."""

    kind: ClassVar[TaskKind]
    source: ClassVar[str] = ""

    @property
    def name(self) -> str:
        """The name this task's class is registered under."""
        from ssl_music_bench.contracts.registry import TASKS

        return next(e.name for e in TASKS.entries() if e.obj is type(self))

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS[self.kind]

    def load(self, home: Path, protocol: Protocol) -> TaskData:
        raise NotImplementedError


def manifest_sha256(store: ClipStore) -> str:
    return hashlib.sha256((store.root / "manifest.jsonl").read_bytes()).hexdigest()


def build_task_data(
    name: str,
    kind: TaskKind,
    store: ClipStore,
    label_names: Sequence[str],
    labels_of: Callable[[ClipInfo], Sequence[str]],
) -> TaskData:
    """Turn each stored item's label names into a target tensor, split by split."""
    position = {label: i for i, label in enumerate(label_names)}
    indices: dict[str, list[int]] = {}
    targets: dict[str, Tensor] = {}
    for split in SPLITS:
        split_indices = store.indices(split)
        item_labels = [labels_of(store.items[i]) for i in split_indices]
        if kind == "multilabel":
            target = torch.zeros(len(split_indices), len(label_names))
            # one indexed assignment for the whole split, not one per item (MSD has ~200k items)
            rows = [row for row, labels in enumerate(item_labels) for _ in labels]
            columns = [position[label] for labels in item_labels for label in labels]
            target[rows, columns] = 1.0
        else:
            target = torch.tensor([position[labels[0]] for labels in item_labels], dtype=torch.long)
        indices[split] = split_indices
        targets[split] = target
    return TaskData(name, kind, store, tuple(label_names), indices, targets, manifest_sha256(store))
