"""Resolution: how finely a test split can measure a metric, given the predictions.

A table cell's confidence interval over seeds says how much the *training* varies; it says
nothing about how many test clips the number rests on. With 80 test clips one clip is 1.25
accuracy points, and two methods 3 points apart may differ by nothing but which clips happened
to be in the split. The resolution of a run is the 95 % half-width of its test metric under the
percentile bootstrap over test clips (Efron & Tibshirani 1993, "An Introduction to the
Bootstrap", ch. 13): the clips are drawn with replacement, the predictions stay fixed, the metric
is recomputed, and half of the 2.5..97.5 percentile range is reported, in the metric's own units
(fractions 0..1). The table compares it with a column's headroom (ceiling - floor): a split
resolves a task when the headroom holds several resolution widths (issue 12 asks for five).

The metrics are recomputed with the same definitions as the headline numbers
(:mod:`ssl_music_bench.evaluate.metrics`): accuracy as the mean of per-clip outcomes, ROC-AUC and
PR-AUC as weighted sums over one sort of the scores (see :func:`_tagging_resamples`; the tests
check both against torchmetrics on explicit resamples).
For tagging, a resample in which a tag has no positive or no negative clip leaves that tag out of
the macro average, as the headline metric does; a resample with no scorable tag at all is drawn
again rather than counted.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_music_bench.contracts.task import TaskKind

HEADLINE_METRICS: dict[str, tuple[str, ...]] = {"multiclass": ("accuracy",), "multilabel": ("roc_auc", "pr_auc")}
CONFIDENCE = 0.95
RESAMPLES = 1000  # enough for stable 2.5/97.5 percentiles (Efron & Tibshirani recommend >= 1000)


def _draws(clips: int, resamples: int, seed: int) -> Tensor:
    """(resamples, clips) clip indices drawn with replacement, reproducible from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, clips, (resamples, clips), generator=generator)


def _half_width(values: Tensor) -> float:
    tail = (1.0 - CONFIDENCE) / 2
    low, high = torch.quantile(values.double(), torch.tensor([tail, 1.0 - tail], dtype=torch.double))
    return float(high - low) / 2


def _accuracy_resamples(scores: Tensor, targets: Tensor, draws: Tensor) -> Tensor:
    # accuracy is a mean of per-clip 0/1 outcomes: resampling the outcomes is exact and needs no metric call
    correct = (scores.argmax(dim=1) == targets.long()).double()
    return correct[draws].mean(dim=1)


def _tie_groups(sorted_scores: Tensor) -> tuple[Tensor, Tensor]:
    """For scores sorted in descending order down each column (clips, tags): the first and the
    last position of the run of equal scores that each position belongs to (a threshold)."""
    clips = sorted_scores.shape[0]
    positions = torch.arange(clips).unsqueeze(1).expand_as(sorted_scores)
    new_run = torch.ones_like(sorted_scores, dtype=torch.bool)
    new_run[1:] = sorted_scores[1:] != sorted_scores[:-1]
    start = torch.where(new_run, positions, torch.zeros_like(positions)).cummax(dim=0).values
    ends_run = torch.ones_like(new_run)
    ends_run[:-1] = new_run[1:]
    flipped = torch.where(ends_run, positions, torch.full_like(positions, clips)).flip(0)
    end = flipped.cummin(dim=0).values.flip(0)
    return start, end


def _tagging_resamples(scores: Tensor, targets: Tensor, weights: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Macro ROC-AUC and PR-AUC of each resample, given as clip multiplicities ``weights``
    (resamples, clips), and whether the resample had a scorable tag.

    Why not call torchmetrics 1000 times: a call costs ~5 ms, i.e. 5 s per run. A resample only
    changes how often each clip counts, never the scores' order, so the ROC and PR curves of all
    resamples are weighted cumulative sums over one sort. Same definitions as torchmetrics: a
    threshold at every distinct score (tied scores enter together), ROC-AUC by the trapezoid (a
    tied positive/negative pair counts one half), AP = sum over thresholds of recall step x
    precision; tags without a positive or a negative clip in the resample leave the macro mean.
    The tests compare it with :func:`task_metrics` on explicit resamples.
    """
    order = scores.argsort(dim=0, descending=True, stable=True)
    sorted_scores = scores.gather(0, order)
    positive = targets.gather(0, order).double()  # (clips, tags)
    start, end = _tie_groups(sorted_scores)
    drawn = weights.double()[:, order]  # (resamples, clips, tags)
    positive_weight, negative_weight = drawn * positive, drawn * (1 - positive)
    true_positives, false_positives = positive_weight.cumsum(dim=1), negative_weight.cumsum(dim=1)
    positives, negatives = true_positives[:, -1], false_positives[:, -1]  # (resamples, tags)
    expand = (drawn.shape[0], -1, -1)
    at_end = end.unsqueeze(0).expand(expand)
    precision = true_positives / (true_positives + false_positives).clamp_min(1e-12)
    average_precision = (positive_weight * precision.gather(1, at_end)).sum(dim=1) / positives.clamp_min(1e-12)
    false_before_group = (false_positives - negative_weight).gather(1, start.unsqueeze(0).expand(expand))
    negatives_below = negatives.unsqueeze(1) - 0.5 * (false_positives.gather(1, at_end) + false_before_group)
    roc_auc = (positive_weight * negatives_below).sum(dim=1) / (positives * negatives).clamp_min(1e-12)
    scorable = (positives > 0) & (negatives > 0)
    count = scorable.sum(dim=1)
    macro = [(value * scorable).sum(dim=1) / count.clamp_min(1) for value in (roc_auc, average_precision)]
    return macro[0], macro[1], count > 0


def _resampled_metrics(kind: TaskKind, scores: Tensor, targets: Tensor, metrics: tuple[str, ...],
                       resamples: int, seed: int) -> dict[str, Tensor]:
    clips = scores.shape[0]
    if kind == "multiclass":
        return {"accuracy": _accuracy_resamples(scores, targets, _draws(clips, resamples, seed))}
    # only tags with both kinds of clip in the whole split can be scorable in a resample (as in task_metrics)
    present = targets.sum(dim=0)
    keep = (present > 0) & (present < clips)
    scores, targets = scores[:, keep].double(), targets[:, keep].long()
    roc, precision, kept = [], [], 0
    # resamples at a time, so that the (batch, clips, tags) tensors stay near 16 MB each
    batch = max(1, min(resamples, 2_000_000 // max(1, clips * scores.shape[1])))
    for attempt in range(10 * resamples // batch + 1):
        draws = _draws(clips, batch, seed + attempt)
        weights = torch.zeros(batch, clips, dtype=torch.double).scatter_add_(
            1, draws, torch.ones_like(draws, dtype=torch.double))
        roc_auc, average_precision, ok = _tagging_resamples(scores, targets, weights)
        roc.append(roc_auc[ok])
        precision.append(average_precision[ok])
        kept += int(ok.sum())
        if kept >= resamples:
            values = {"roc_auc": torch.cat(roc)[:resamples], "pr_auc": torch.cat(precision)[:resamples]}
            return {metric: values[metric] for metric in metrics}
    raise ValueError("almost no bootstrap resample of the test split has a tag with both positive and negative "
                     "clips: the split is too small to measure its resolution")


def bootstrap_half_width(kind: TaskKind, scores: Tensor, targets: Tensor, metric: str, *,
                         resamples: int = RESAMPLES, seed: int = 0) -> float:
    """The 95 % percentile-bootstrap half-width of ``metric`` over test clips, predictions fixed.

    ``scores``: (clips, classes or tags) clip scores as the probe outputs them; ``targets``: class
    indices (multiclass) or 0/1 (clips, tags) (multilabel). Same units as the metric (0..1).
    """
    return _half_width(_resampled_metrics(kind, scores, targets, (metric,), resamples, seed)[metric])


def test_resolution(kind: TaskKind, scores: Tensor, targets: Tensor, *, resamples: int = RESAMPLES,
                    seed: int = 0) -> dict[str, float]:
    """The half-width of every headline metric of the kind (multiclass: accuracy; multilabel:
    roc_auc and pr_auc), all from the same resamples."""
    metrics = HEADLINE_METRICS[kind]
    resampled = _resampled_metrics(kind, scores, targets, metrics, resamples, seed)
    return {metric: _half_width(values) for metric, values in resampled.items()}


test_resolution.__test__ = False  # type: ignore[attr-defined]  # a library function, not a pytest test
