"""Clip-level metrics, computed with torchmetrics.

Tagging: ROC-AUC and PR-AUC (average precision), macro over tags (CLMR; Won et al. 2020).
A tag with no positive or no negative clip in the evaluated split has no defined ROC-AUC
(sklearn refuses it); such tags are left out of the macro average and their number is reported.
Multiclass: top-1 accuracy over clips.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.functional.classification import multiclass_accuracy, multilabel_auroc, multilabel_average_precision


def tagging_metrics(scores: Tensor, targets: Tensor) -> dict[str, float]:
    """scores, targets: (clips, tags); scores are probabilities, targets 0/1."""
    positives = targets.sum(dim=0)
    scorable = (positives > 0) & (positives < targets.shape[0])
    if not bool(scorable.any()):
        raise ValueError("no tag has both positive and negative clips: ROC-AUC is undefined")
    scores, targets = scores[:, scorable].float(), targets[:, scorable].long()
    labels = int(scorable.sum())
    return {
        "roc_auc": float(multilabel_auroc(scores, targets, num_labels=labels, average="macro")),
        "pr_auc": float(multilabel_average_precision(scores, targets, num_labels=labels, average="macro")),
        "tags_scored": float(labels),
    }


def per_tag_average_precision(scores: Tensor, targets: Tensor) -> list[float | None]:
    """Average precision of each tag (None where the tag has no positive clip)."""
    values = multilabel_average_precision(
        scores.float(), targets.long(), num_labels=targets.shape[1], average="none"
    )
    has_positive = targets.sum(dim=0) > 0
    return [float(v) if ok else None for v, ok in zip(values.tolist(), has_positive.tolist())]


def classification_metrics(scores: Tensor, targets: Tensor) -> dict[str, float]:
    """scores: (clips, classes) probabilities; targets: (clips,) class indices."""
    classes = scores.shape[1]
    accuracy = multiclass_accuracy(scores.float(), targets.long(), num_classes=classes, average="micro")
    return {"accuracy": float(accuracy)}


def task_metrics(kind: str, scores: Tensor, targets: Tensor) -> dict[str, float]:
    if kind == "multilabel":
        return tagging_metrics(scores, targets)
    return classification_metrics(scores, targets)


# The one metric per task kind that a leaderboard column is judged on (issue 12): accuracy, and
# PR-AUC for tagging, where ROC-AUC stays high for features that rank the rare tags badly.
JUDGED_METRIC: dict[str, str] = {"multiclass": "accuracy", "multilabel": "pr_auc"}


def mean_over_chunks(chunk_scores: Tensor, owner: Tensor, clips: int) -> Tensor:
    """Clip score = mean of its chunks' scores (owner[i] = clip of chunk i)."""
    total = torch.zeros(clips, chunk_scores.shape[1]).index_add_(0, owner, chunk_scores.float())
    count = torch.zeros(clips).index_add_(0, owner, torch.ones_like(owner, dtype=torch.float))
    return total / count.clamp_min(1).unsqueeze(1)
