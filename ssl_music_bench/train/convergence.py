"""Convergence: whether a pretraining's loss had flattened when its step budget ran out.

A method compared at a budget where its loss is still falling is compared half-trained, and a
table of such runs ranks budgets, not methods (issue 12: COLA's loss was still at chance after
150 steps). Every run record therefore carries one figure computed from the logged loss curve:

    relative_change = (S(start of the last fifth) - S(end)) / scale

where S is the loss smoothed by a trailing moving median (robust to the single-batch spikes
that contrastive losses with small batches have; the window is a tenth of the logged points, at
least 3), the last fifth is the last 20 % of the logged steps, and ``scale`` is the larger of
|S(end)| and the range of S over the whole run. The scale is not |S(end)| alone because several
losses tend to 0 (cross-entropy of the supervised baseline, BYOL-style 2 - 2 cos): a fall from
0.02 to 0.01 is 50 % of the final level but nothing beside the fall from 2.0 that came before.
A positive figure means the loss was still falling, a negative one that it was rising again.

That figure alone passes a loss that falls slowly but steadily: a curve that went from 2.09 to
1.86 in 1,500 steps with 0.07 of it in the last fifth moved only 3.6 % of its level there, yet
a third of everything it learned came in those last steps (issue 12's supervised ceiling on
synth-genre). A second figure therefore asks what share of the run's whole fall came last:

    share_of_fall = (S(start of the last fifth) - S(end)) / (S(first) - S(end))

A straight line puts 20 % of its fall in its last fifth; a decay that flattened puts almost
none there (a decay a e^{-t/tau} run for 3 tau: 4 %). The share is computed only when the run
fell by more than the tolerance of its scale; a curve that never moved (e.g. a contrastive loss
stuck at chance) has no fall to share, and noise would decide the quotient.

The run counts as converged when |relative_change| <= the protocol's
``pretrain.convergence_tolerance`` and the share of the fall is at most ``SHARE_LIMIT`` (0.1:
the last fifth fell at no more than half the run's average rate). A curve too short to have a
last fifth (fewer than three logged points) gives no figure: :func:`convergence` returns None
for it, as for methods that do not pretrain.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

LAST_FRACTION = 0.2  # "the last fifth of the steps" (issue 12)
MIN_POINTS = 3
SHARE_LIMIT = 0.1  # half of a straight line's 0.2: the last fifth fell at half the run's average rate


def smoothed(losses: Sequence[float]) -> list[float]:
    """Trailing moving median of the losses (window: a tenth of the points, at least 3)."""
    window = max(MIN_POINTS, len(losses) // 10)
    return [statistics.median(losses[max(0, i + 1 - window): i + 1]) for i in range(len(losses))]


def _figures(curve: Sequence[Sequence[float]], tolerance: float) -> tuple[float, float | None] | None:
    """(relative change, share of the fall) of the module docstring for (step, loss) points; None
    when the curve has fewer than three points, a share of None when the run did not fall."""
    points = sorted((float(step), float(loss)) for step, loss in curve)
    if len(points) < MIN_POINTS:
        return None
    steps = [step for step, _ in points]
    smooth = smoothed([loss for _, loss in points])
    cut = steps[-1] - LAST_FRACTION * (steps[-1] - steps[0])
    # the last logged point at or before the start of the last fifth (the first point at worst)
    start = max((i for i, step in enumerate(steps) if step <= cut), default=0)
    scale = max(abs(smooth[-1]), max(smooth) - min(smooth))
    if scale == 0.0:  # a constant loss has not moved at all: flat
        return 0.0, None
    last_fall, whole_fall = smooth[start] - smooth[-1], smooth[0] - smooth[-1]
    share = last_fall / whole_fall if whole_fall > tolerance * scale else None
    return last_fall / scale, share


def relative_change(curve: Sequence[Sequence[float]]) -> float | None:
    """The relative change of the module docstring for a loss curve of (step, loss) points; None
    when the curve has fewer than three points."""
    figures = _figures(curve, tolerance=0.0)
    return None if figures is None else figures[0]


def convergence(curve: Sequence[Sequence[float]], tolerance: float) -> dict[str, float | bool | None] | None:
    """The run record's ``pretraining.convergence``: both figures, the limits they were judged by,
    and the verdict; None when the curve is too short to judge."""
    figures = _figures(curve, tolerance)
    if figures is None:
        return None
    change, share = figures
    converged = abs(change) <= tolerance and (share is None or share <= SHARE_LIMIT)
    return {"relative_change": round(change, 6), "tolerance": tolerance,
            "share_of_fall": None if share is None else round(share, 6), "share_limit": SHARE_LIMIT,
            "converged": converged}
