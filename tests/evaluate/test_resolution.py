"""The test-set resolution: a percentile bootstrap over test clips with the predictions fixed."""

from __future__ import annotations

import math

import torch

from ssl_music_bench.evaluate.metrics import task_metrics
from ssl_music_bench.evaluate.resolution import _draws, _tagging_resamples, bootstrap_half_width, test_resolution


def naive_half_width(kind: str, scores: torch.Tensor, targets: torch.Tensor, metric: str, resamples: int,
                     seed: int) -> float:
    """The textbook bootstrap: draw the clips, call the headline metric, take the percentiles."""
    generator = torch.Generator().manual_seed(seed)
    values = []
    while len(values) < resamples:
        draw = torch.randint(0, scores.shape[0], (scores.shape[0],), generator=generator)
        try:
            values.append(task_metrics(kind, scores[draw], targets[draw])[metric])
        except ValueError:  # no scorable tag in this resample
            continue
    low, high = torch.quantile(torch.tensor(values, dtype=torch.double), torch.tensor([0.025, 0.975],
                                                                                      dtype=torch.double))
    return float(high - low) / 2


def tagging_data(clips: int, tags: int, seed: int, levels: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    targets = (torch.rand(clips, tags, generator=generator) < 0.25).long()
    scores = torch.rand(clips, tags, generator=generator) * 0.6 + 0.4 * targets
    if levels is not None:  # coarse scores: many ties, which the thresholds must handle as torchmetrics does
        scores = (scores * levels).round() / levels
    return scores, targets


def test_weighted_tagging_metrics_equal_torchmetrics_on_explicit_resamples() -> None:
    for levels in (None, 4):
        scores, targets = tagging_data(50, 7, seed=1, levels=levels)
        draws = _draws(50, 30, seed=5)
        weights = torch.zeros(30, 50, dtype=torch.double).scatter_add_(
            1, draws, torch.ones_like(draws, dtype=torch.double))
        roc_auc, pr_auc, scorable = _tagging_resamples(scores.double(), targets, weights)
        for i in range(30):
            expected = task_metrics("multilabel", scores[draws[i]], targets[draws[i]])
            assert bool(scorable[i])
            assert abs(float(roc_auc[i]) - expected["roc_auc"]) < 1e-5
            assert abs(float(pr_auc[i]) - expected["pr_auc"]) < 1e-5


def test_tagging_half_widths_agree_with_a_naive_bootstrap() -> None:
    scores, targets = tagging_data(120, 6, seed=2)
    ours = test_resolution("multilabel", scores, targets, resamples=1000, seed=0)
    for metric in ("roc_auc", "pr_auc"):
        naive = naive_half_width("multilabel", scores, targets, metric, resamples=1000, seed=123)
        assert 0 < ours[metric] < 0.5
        assert abs(ours[metric] - naive) / naive < 0.15, (metric, ours[metric], naive)  # Monte Carlo error only
        assert bootstrap_half_width("multilabel", scores, targets, metric) == ours[metric]


def test_accuracy_half_width_agrees_with_a_naive_bootstrap_and_the_binomial_formula() -> None:
    generator = torch.Generator().manual_seed(3)
    clips, classes = 2000, 5
    targets = torch.randint(0, classes, (clips,), generator=generator)
    scores = torch.rand(clips, classes, generator=generator)
    scores[torch.arange(clips), targets] += 0.5 * (torch.rand(clips, generator=generator) < 0.7)
    accuracy = task_metrics("multiclass", scores, targets)["accuracy"]
    ours = test_resolution("multiclass", scores, targets)["accuracy"]
    binomial = 1.96 * math.sqrt(accuracy * (1 - accuracy) / clips)  # the normal approximation, large n
    assert abs(ours - binomial) / binomial < 0.1, (ours, binomial)
    small_scores, small_targets = scores[:150], targets[:150]
    naive = naive_half_width("multiclass", small_scores, small_targets, "accuracy", resamples=1000, seed=9)
    small = bootstrap_half_width("multiclass", small_scores, small_targets, "accuracy")
    assert abs(small - naive) / naive < 0.15, (small, naive)
    assert small > ours  # fewer test clips resolve less


def test_the_half_width_is_reproducible_and_zero_for_a_perfect_probe() -> None:
    scores, targets = tagging_data(80, 5, seed=4)
    assert test_resolution("multilabel", scores, targets, seed=1) == test_resolution("multilabel", scores, targets,
                                                                                      seed=1)
    perfect = torch.nn.functional.one_hot(torch.arange(40) % 4, 4).float()
    assert test_resolution("multiclass", perfect, torch.arange(40) % 4) == {"accuracy": 0.0}
