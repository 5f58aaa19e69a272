"""Label fractions: which training items a probe may use when only part of the labels is kept.

CLMR's data-efficiency experiment (Spijkervet & Burgoyne 2021) trains the probe on 1% and 10% of
MagnaTagATune's training labels as well as on all of them. Its "259 labelled songs" are 1% of all
25,863 MTAT clips, not of the 18,706-clip train split the probe trains on (whose 1% is 187):
``--label-fraction 0.01`` gives 187 songs here, and CLMR's 259 need :data:`CLMR_MTAT_1_PERCENT`
(259 / 18,706 = 0.013846; ``--label-fraction 0.013846`` on ``mtat``). CLMR itself drew its subset
differently again (Spijkervet/CLMR 2.0 utils/subsample.py: an under-sample of each label
combination to max(1, int(0.01 n)) items), so the songs differ even where the count agrees. A fair comparison
across methods needs the same items for every method, so the subset is a pure function of the
targets and a seed. We also want the subsets *nested*: the 1% subset lies inside the 10% one,
which lies inside the full set, so a curve over fractions measures more labels rather than
different labels. Nesting is obtained by building ONE ordering of all items per (targets, seed)
and keeping its first ``round(fraction * n)`` items (rounded half up, at least one).

The ordering is stratified, so that every prefix looks like the full set:

* **multiclass** – a proportional round robin over classes, shuffled within each class by the
  seed. Position ``m`` goes to the class whose next item has the earliest *deadline*
  ``(a_c + 1) / p_c`` among the classes still below their upper quota (``a_c < m * p_c``), where
  ``a_c`` counts the class's items placed so far and ``p_c`` is its share of the set. This is
  earliest-deadline-first scheduling of the windows of Tijdeman's chairman assignment problem
  (Tijdeman 1980, "The chairman assignment problem"): an ordering whose every prefix keeps each
  class within one item of ``k * p_c`` exists, and earliest-deadline-first finds one – the
  "quota" property that the divisor (Webster, D'Hondt) orderings lack. The tests check it.
  Floor: the first ``C`` positions hold one item of each of the ``C`` classes present,
  largest classes first, so every class appears as soon as the subset has ``C`` items; classes
  placed early by the floor then wait until their quota catches up.
* **multilabel** – two stages, then a floor.

  1. Iterative stratification (Sechidis, Tsoumakas & Vlahavas 2011, "On the stratification of
     multi-label data") carried from folds to positions. Each item receives a key in [0, 1],
     its relative position. As in Sechidis et al., labels are handled from the rarest to the
     most common and an item is placed when its rarest label is handled, since that is where
     misplacing it costs the most. When label ``l`` is handled, some of its positives already
     have keys (a rarer label placed them); its other positives take the keys that fill the
     gaps, so that the number of positives of ``l`` with a key below ``t`` tracks ``t * n_l``
     as closely as the placed ones allow – Sechidis's "give the example to the subset that
     most desires this label", where the subsets are all prefixes at once. Items with no
     positive label come last, as a pseudo-label that every item carries, and fill the gaps
     of the whole set. This spreads rare labels evenly, but a common label whose positives
     were nearly all placed by rarer labels is spread no better than by chance.
  2. Herding over the head of that order (kernel herding with a linear kernel: Welling 2009;
     Chen, Welling & Smola 2010): position ``m`` takes, among the next
     :data:`HERD_WINDOW` not yet placed items of stage 1, the one that brings the prefix's
     label counts closest (squared error) to ``m * n_l / n``, counting "no positive label" as
     one more label. This balances every label at once: on random 2000 x 20 problems every
     prefix's label counts stay within about 1.5 of their share, against about 15 for a
     random order. It runs over the first
     ``max(HERD_HEAD_MIN, n / HERD_HEAD_DIVISOR)`` positions, which hold the fractions people
     ask for (1% and 10%); beyond them stage 1 alone keeps relative errors small.

  Floor: the ordering starts with a small cover – for labels from rarest to most common,
  unless a chosen item already carries the label, its earliest positive – so every label with
  a positive appears as soon as the subset holds the cover (at most ``L`` items).

The label-powerset alternative (stratify on label combinations) was not taken: with 50 tags
almost every song of MSD has its own combination, which leaves nothing to stratify on.
Randomness comes from ``numpy.random.default_rng(seed)``, so a seed gives the same subset for
a given NumPy version on every machine (herding scores are whole numbers, exact in float64).
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import torch

from ssl_music_bench.contracts.task import TaskKind
from ssl_music_bench.errors import BenchError

# CLMR's "1 %" of MTAT: 259 labelled songs (Spijkervet & Burgoyne 2021, 1% of all 25,863 clips) as a
# fraction of the 18,706-clip train split the probe draws from; subset_size(18_706, it) == 259
MTAT_TRAIN_CLIPS = 18_706
CLMR_MTAT_1_PERCENT = 259 / MTAT_TRAIN_CLIPS
HERD_WINDOW = 512  # candidates per position; 256 let counts drift by ~10 on a 200k x 50 set
HERD_HEAD_MIN = 50_000  # positions herded at least (all of them in sets up to this size)
HERD_HEAD_DIVISOR = 4  # ... and at least a quarter of the set; ~1 s for 200k items x 50 labels


def subset_size(n: int, fraction: float) -> int:
    """``round(fraction * n)`` rounded half up and at least 1 (0 only for an empty set).

    Half up rather than Python's half-to-even so that sizes grow monotonically with the
    fraction and match how papers state them (1% of all 25,863 MTAT clips = 259, of its
    18,706-clip train split = 187).
    """
    check_fraction(fraction)
    if n == 0:
        return 0
    return min(n, max(1, math.floor(fraction * n + 0.5)))


def label_subset(targets: torch.Tensor, kind: TaskKind, fraction: float, seed: int) -> list[int]:
    """Sorted positions of the training items kept when a probe may use ``fraction`` of them.

    ``targets`` is (n, L) 0/1 for ``kind="multilabel"`` (values above 0.5 count as positive) or
    (n,) integer class ids for ``kind="multiclass"``. The result is the first
    :func:`subset_size` items of :func:`stratified_order`, so for one seed a smaller fraction's
    subset is contained in every larger one's, and fraction 1.0 keeps everything.
    """
    size = subset_size(len(targets), fraction)
    order = stratified_order(targets, kind, seed)
    return sorted(order[:size].tolist())


def stratified_order(targets: torch.Tensor, kind: TaskKind, seed: int) -> np.ndarray:
    """A ranking of all items whose every prefix is stratified (see the module docstring)."""
    rng = np.random.default_rng(seed)
    array = targets.detach().cpu().numpy()
    if kind == "multiclass":
        if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
            raise BenchError(
                f"Multiclass targets must be a 1-D tensor of integer class ids, one per item "
                f"(e.g. torch.long of shape (n,)); got dtype {array.dtype} and shape "
                f"{tuple(array.shape)}. For multi-label tags pass kind='multilabel' with an "
                f"(n, L) 0/1 matrix."
            )
        return _multiclass_order(array.astype(np.int64), rng)
    if kind == "multilabel":
        if array.ndim != 2:
            raise BenchError(
                f"Multilabel targets must be a 2-D (n, L) matrix of 0/1 values, one row per item "
                f"and one column per label; got shape {tuple(array.shape)}. For one class id per "
                f"item pass kind='multiclass' with an (n,) integer tensor."
            )
        return _multilabel_order(array > 0.5, rng)
    raise BenchError(f'Label kind must be "multilabel" or "multiclass"; got {kind!r}.')


def check_fraction(fraction: float) -> None:
    """Refuse anything but a number in (0, 1] with a message that says what is expected."""
    ok = isinstance(fraction, (int, float)) and not isinstance(fraction, bool)
    if not ok or not math.isfinite(fraction) or not 0.0 < fraction <= 1.0:
        raise BenchError(
            f"The label fraction must be a number greater than 0 and at most 1, the share of "
            f"the training labels the probe may use (e.g. 0.01, 0.1 or 1.0, as in CLMR's "
            f"data-efficiency experiment); got {fraction!r}. Use 1.0 for all labels; a "
            f"percentage such as 10 must be written as 0.1."
        )


def _multiclass_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Floor of one item per class, then earliest-deadline-first within the quota windows."""
    n = len(labels)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse = np.unique(labels, return_inverse=True)
    sizes = np.bincount(inverse)
    n_classes = len(sizes)
    # Members of each class in a seeded random order: shuffle, then stable-group by class.
    shuffled = rng.permutation(n)
    members = shuffled[np.argsort(inverse[shuffled], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    tie = rng.permutation(n_classes)  # breaks exact deadline ties between equal-sized classes
    sizes_l, starts_l, tie_l = sizes.tolist(), starts.tolist(), tie.tolist()

    floor = sorted(range(n_classes), key=lambda c: (-sizes_l[c], tie_l[c]))
    order = [starts_l[c] for c in floor]  # positions into `members`
    placed = [1] * n_classes
    ready: list[tuple[float, int, int]] = []  # (deadline, tie, class) of classes under quota
    waiting: list[tuple[int, int, int]] = []  # (first count at which it is allowed, tie, class)

    def queue(c: int, m: int) -> None:
        j = placed[c]
        if j == sizes_l[c]:
            return
        release = (j * n) // sizes_l[c] + 1  # smallest count m with j < m * p_c
        if release <= m:
            heapq.heappush(ready, ((j + 1) / sizes_l[c], tie_l[c], c))
        else:
            heapq.heappush(waiting, (release, tie_l[c], c))

    for c in range(n_classes):
        queue(c, n_classes + 1)
    for m in range(n_classes + 1, n + 1):  # m: the count after placing this item
        while waiting and waiting[0][0] <= m:
            _, _, c = heapq.heappop(waiting)
            heapq.heappush(ready, ((placed[c] + 1) / sizes_l[c], tie_l[c], c))
        # Some class is always below its quota: the placed counts sum to m - 1 < m.
        _, _, c = heapq.heappop(ready)
        order.append(starts_l[c] + placed[c])
        placed[c] += 1
        queue(c, m + 1)
    return members[np.asarray(order, dtype=np.int64)]


def _gap_keys(existing: np.ndarray, total: int, new: int) -> np.ndarray:
    """Keys in [0, 1] for ``new`` items so that, with the sorted ``existing`` keys, the count of
    keys below ``t`` tracks ``t * total`` (``total = len(existing) + new``).

    With ``E(t)`` the existing keys at or below ``t``, the deficit ``t * total - E(t)`` rises
    with slope ``total`` and drops by one at each existing key; the r-th new item is placed where
    the deficit first reaches ``r - 1/2`` (the midpoint rule that, with nothing existing, gives
    the evenly spaced grid ``(r - 1/2) / total``).
    """
    bounds = np.concatenate([[0.0], existing, [1.0]])
    index = np.arange(len(existing) + 1, dtype=np.float64)
    start = bounds[:-1] * total - index  # deficit at the start of each segment
    end = bounds[1:] * total - index  # ... and at its end
    levels = np.arange(new, dtype=np.float64) + 0.5
    segment = np.searchsorted(np.maximum.accumulate(end), levels, side="left")
    segment = np.minimum(segment, len(end) - 1)  # guards float round-off at the very end
    return np.clip(bounds[segment] + (levels - start[segment]) / total, 0.0, 1.0)


def _multilabel_order(positive: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Iterative stratification, herding over its head, then the cover floor."""
    base = _iterative_stratification(positive, rng)
    head = min(len(base), max(HERD_HEAD_MIN, len(base) // HERD_HEAD_DIVISOR))
    # Herding also balances "no positive label", so untagged items keep their share too.
    balanced = np.column_stack([positive, ~positive.any(axis=1)])
    return _cover_first(positive, _herd(balanced, base, head))


def _iterative_stratification(positive: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sechidis et al.'s iterative stratification carried from folds to positions.

    Each item gets a key in [0, 1]; labels are handled from the rarest up, and a label's
    positives that no rarer label has placed yet take the keys that fill its gaps
    (:func:`_gap_keys`). The last "label" is carried by every item, so that items with no
    positive label fill the gaps of the whole set.
    """
    n, n_labels = positive.shape
    positive = np.asfortranarray(positive)  # label columns are read one at a time
    counts = positive.sum(axis=0)
    labels = np.lexsort((rng.random(n_labels), counts))  # rarest first, ties by the seed
    columns = [np.flatnonzero(positive[:, label]) for label in labels if counts[label] > 0]
    keys = np.full(n, np.nan)
    placed = np.zeros(n, dtype=bool)
    for items in [*columns, np.arange(n)]:
        fresh = items[~placed[items]]
        if len(fresh) == 0:
            continue
        existing = np.sort(keys[items[placed[items]]])
        keys[rng.permutation(fresh)] = _gap_keys(existing, len(items), len(fresh))
        placed[fresh] = True
    return np.lexsort((rng.random(n), keys))


def _herd(positive: np.ndarray, base: np.ndarray, head: int) -> np.ndarray:
    """Reorder the first ``head`` positions of ``base`` by herding; the rest keep their order.

    Position ``m`` takes, among the next :data:`HERD_WINDOW` items of ``base`` not yet placed,
    the one that minimises the squared distance between the prefix's label counts ``a`` and
    their share ``m * n_l / n`` (kernel herding with a linear kernel; Welling 2009, Chen,
    Welling & Smola 2010). Expanding the square, the item maximises ``sum over its labels of
    2 * (m * n_l / n - a_l) - 1``. Scores are kept multiplied by ``n`` so that they are whole
    numbers held exactly in float64 (below 2**53 for sets of up to millions of items): the
    choice is then the same whatever order a BLAS library sums in, and the subset the same on
    every machine.
    """
    n = len(base)
    width = min(HERD_WINDOW, n)
    counts = positive.sum(axis=0).astype(np.float64)
    rows = positive[base[: head + width]].astype(np.float64) * (2.0 * n)
    step = 2.0 * counts
    scale = step - n  # n * (2 * deficit - 1) for every label, before the first position
    slots = np.arange(width)  # which row of `rows` (= position in `base`) each slot holds
    window = rows[:width].copy()
    chosen = np.empty(head, dtype=np.int64)
    following = width
    for m in range(head):
        j = int((window @ scale).argmax())
        chosen[m] = slots[j]
        scale -= window[j]
        scale += step
        if following < len(rows):
            slots[j], window[j] = following, rows[following]
            following += 1
        else:  # fewer than `width` items left: shrink the window
            width -= 1
            slots[j], window[j] = slots[width], window[width]
            slots, window = slots[:width], window[:width]
    rest = np.ones(n, dtype=bool)
    rest[chosen] = False
    return np.concatenate([base[chosen], base[rest]])


def _cover_first(positive: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Move a cover to the front: for labels from rarest up, unless an item already moved
    carries the label, its earliest positive in ``order``. The cover keeps its relative order,
    so it disturbs the stratified order as little as possible."""
    n, n_labels = positive.shape
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    counts = positive.sum(axis=0)
    covered = np.zeros(n_labels, dtype=bool)
    cover: list[int] = []
    for label in np.argsort(counts, kind="stable").tolist():
        if counts[label] == 0 or covered[label]:
            continue
        items = np.flatnonzero(positive[:, label])
        item = int(items[np.argmin(rank[items])])
        cover.append(item)
        covered |= positive[item]
    if not cover:
        return order
    front = np.zeros(n, dtype=bool)
    front[cover] = True
    in_front = front[order]
    return np.concatenate([order[in_front], order[~in_front]])
