"""The task contract: a dataset, its labels, its split and its metric.

Tasks are declarative: a name, the kind of labels (multi-label tagging or single-label
classification), the metrics, the source of the split, and a ``load`` that returns the prepared
clip store with one target per item. Probing, aggregation and metrics are the same code for all.

A task on a real dataset is a :class:`PreparedTask`: it says which files it expects as the dataset
is published and lists them as :class:`SourceItem`; `bench prepare` (ssl_music_bench/data/prepare.py)
turns those items into the clip store that ``load`` then reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.data.store import SPLITS, ClipInfo, ClipStore
from ssl_music_bench.data.store_quarantine import open_prepared_store
from ssl_music_bench.errors import BenchError
from ssl_music_bench.home import prepared_path, stems_path

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


@dataclass(frozen=True)
class SourceItem:
    """One item of a dataset as published: where its audio is and what its labels are."""

    id: str
    split: str
    labels: tuple[str, ...]
    path: Path
    extra: dict[str, Any] = field(default_factory=dict)


class PreparedTask(Task):
    """A task read from a real dataset's published files after ``bench prepare``.

    Subclasses declare ``store_name`` (tasks that share audio share a store), ``store_rate``,
    ``min_seconds``, ``label_names`` and ``expected`` (the files expected under the root and
    where they come from), and implement ``check_root`` and ``items``.
    """

    store_name: ClassVar[str]
    store_rate: ClassVar[int] = 16_000
    min_seconds: ClassVar[float] = 1.0
    label_names: ClassVar[tuple[str, ...]]
    expected: ClassVar[str]

    def check_root(self, root: Path) -> None:
        """Raise a BenchError naming what is missing when ``root`` lacks the metadata files."""
        raise NotImplementedError

    def items(self, root: Path) -> Iterator[SourceItem]:
        """Every item of the dataset under ``root``, listed from its metadata (audio not read)."""
        raise NotImplementedError

    def include(self, info: ClipInfo) -> bool:
        """Whether a prepared item belongs to this task (e.g. the filtered MTAT split)."""
        return True

    def labels_of(self, info: ClipInfo) -> list[str]:
        """The label names of a prepared item (by default, those stored with it)."""
        return list(info.labels)

    def missing(self, root: Path, *names: str) -> BenchError:
        """The error for a root that lacks ``names``: what was expected, and how to prepare."""
        return BenchError(
            f"The {self.name} dataset was not found under {root}: missing {', '.join(names)}. "
            f"Expected: {self.expected} Real datasets are never downloaded by the benchmark: get "
            f"them as published, then run `bench prepare --task {self.name} --root DIR`."
        )

    def load(self, home: Path, protocol: Protocol) -> TaskData:
        path = prepared_path(home, self.store_name)
        if not (path / "store.json").is_file():
            raise BenchError(
                f"The {self.name} dataset has not been prepared in {home}. Run `bench prepare --task "
                f"{self.name} --root DIR` first, where DIR holds: {self.expected}"
            )
        # after `bench separate` the stems store holds the same items plus their stems: prefer it
        separated = stems_path(home, self.store_name)
        store = open_prepared_store(home, self.name, path, separated)  # a damaged store: quarantined, reported
        store.items = [info for info in store.items if self.include(info)]
        return build_task_data(self.name, self.kind, store, self.label_names, self.labels_of)


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
