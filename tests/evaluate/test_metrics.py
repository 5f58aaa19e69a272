"""Metrics: torchmetrics-based values agree with sklearn; chunk aggregation is a mean."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from ssl_music_bench.evaluate.metrics import (
    classification_metrics,
    mean_over_chunks,
    per_tag_average_precision,
    tagging_metrics,
)


def test_tagging_metrics_match_sklearn() -> None:
    generator = torch.Generator().manual_seed(0)
    targets = (torch.rand(200, 12, generator=generator) < 0.3).float()
    scores = (targets * 0.3 + torch.rand(200, 12, generator=generator)).clamp(0, 1)
    ours = tagging_metrics(scores, targets)
    assert abs(ours["roc_auc"] - roc_auc_score(targets.numpy(), scores.numpy(), average="macro")) < 1e-6
    assert abs(ours["pr_auc"] - average_precision_score(targets.numpy(), scores.numpy(), average="macro")) < 1e-6
    per_tag = per_tag_average_precision(scores, targets)
    expected = average_precision_score(targets.numpy(), scores.numpy(), average=None)
    assert np.allclose(per_tag, expected, atol=1e-6)


def test_tags_without_positives_are_left_out_like_sklearn_would_refuse_them() -> None:
    generator = torch.Generator().manual_seed(1)
    targets = (torch.rand(100, 5, generator=generator) < 0.4).float()
    targets[:, 2] = 0  # no positive clip: ROC-AUC undefined
    targets[:, 4] = 1  # no negative clip
    scores = torch.rand(100, 5, generator=generator)
    ours = tagging_metrics(scores, targets)
    keep = [0, 1, 3]
    assert ours["tags_scored"] == 3
    assert abs(ours["roc_auc"] - roc_auc_score(targets[:, keep].numpy(), scores[:, keep].numpy())) < 1e-6


def test_accuracy_matches_sklearn() -> None:
    generator = torch.Generator().manual_seed(2)
    scores = torch.rand(150, 7, generator=generator).softmax(dim=1)
    targets = torch.randint(0, 7, (150,), generator=generator)
    expected = accuracy_score(targets.numpy(), scores.argmax(dim=1).numpy())
    assert abs(classification_metrics(scores, targets)["accuracy"] - expected) < 1e-6


def test_mean_over_chunks() -> None:
    chunk_scores = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.4]])
    owner = torch.tensor([0, 0, 1, 2])
    clips = mean_over_chunks(chunk_scores, owner, 3)
    assert torch.allclose(clips, torch.tensor([[0.5, 0.5], [0.5, 0.5], [0.2, 0.4]]))
