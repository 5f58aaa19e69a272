"""Label fractions: nested, deterministic, stratified subsets of the training items."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssl_music_bench.contracts.task import TaskKind
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate import label_fractions as fractions
from ssl_music_bench.evaluate.label_fractions import label_subset, stratified_order, subset_size

FRACTIONS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.9, 1.0]
SEEDS = [0, 1, 7]


def random_multilabel(
    n: int, n_labels: int, seed: int, low: float = 0.02, high: float = 0.5
) -> torch.Tensor:
    """Independent labels whose positive rates are drawn uniformly from [low, high]."""
    rng = np.random.default_rng(seed)
    rates = rng.uniform(low, high, n_labels)
    return torch.from_numpy((rng.random((n, n_labels)) < rates).astype(np.float32))


def correlated_multilabel(n: int, n_labels: int, seed: int) -> torch.Tensor:
    """Tags driven by a few latent factors (like genre/mood tags), with some all-zero rows."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3)) @ rng.normal(size=(3, n_labels))
    logits = latent + rng.normal(size=(n, n_labels)) - rng.uniform(1.0, 4.0, n_labels)
    return torch.from_numpy((logits > 0).astype(np.float32))


def multiclass(sizes: list[int], seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return torch.from_numpy(rng.permutation(labels)).long()


def expected_size(n: int, fraction: float) -> int:
    return max(1, math.floor(fraction * n + 0.5))


# --- nesting, determinism, sizes ------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("kind", "targets"),
    [
        ("multilabel", random_multilabel(1500, 12, 3)),
        ("multilabel", correlated_multilabel(1500, 30, 4)),
        ("multiclass", multiclass([700, 400, 250, 90, 40, 15, 5], 5)),
    ],
)
def test_smaller_fractions_are_nested_in_larger_ones(
    kind: TaskKind, targets: torch.Tensor, seed: int
) -> None:
    subsets = [set(label_subset(targets, kind, f, seed)) for f in FRACTIONS]
    for smaller, larger in zip(subsets, subsets[1:]):
        assert smaller <= larger
    assert subsets[-1] == set(range(len(targets)))


@pytest.mark.parametrize(
    ("kind", "targets"),
    [("multilabel", random_multilabel(800, 10, 1)), ("multiclass", multiclass([300, 200, 100], 1))],
)
def test_same_seed_same_subset_other_seed_other_subset(kind: TaskKind, targets: torch.Tensor) -> None:
    first = label_subset(targets, kind, 0.1, seed=11)
    assert first == label_subset(targets.clone(), kind, 0.1, seed=11)
    others = [label_subset(targets, kind, 0.1, seed=s) for s in (12, 13, 14)]
    assert all(other != first for other in others)


@pytest.mark.parametrize("n", [1, 7, 200, 2000, 25863])
@pytest.mark.parametrize("fraction", [1e-6, 0.01, 0.025, 0.1, 0.5, 1.0])
def test_size_is_fraction_of_n_rounded_half_up_and_at_least_one(n: int, fraction: float) -> None:
    assert subset_size(n, fraction) == min(n, expected_size(n, fraction))
    targets = multiclass([n - n // 3, n // 3] if n > 2 else [n], 0)
    subset = label_subset(targets, "multiclass", fraction, seed=0)
    assert len(subset) == min(n, expected_size(n, fraction))
    assert subset == sorted(set(subset))
    assert all(isinstance(i, int) and 0 <= i < n for i in subset)


def test_one_percent_of_mtat_is_259_songs() -> None:
    """CLMR's 259 songs are 1% of all 25,863 MTAT clips (the train split's 1% is 187:
    tests/evaluate/test_label_fraction_clmr_songs.py)."""
    assert subset_size(25863, 0.01) == 259
    assert subset_size(25863, 0.1) == 2586


def test_fraction_one_keeps_everything() -> None:
    cases: list[tuple[TaskKind, torch.Tensor]] = [
        ("multilabel", correlated_multilabel(321, 8, 0)),
        ("multiclass", multiclass([200, 121], 0)),
    ]
    for kind, targets in cases:
        assert label_subset(targets, kind, 1.0, seed=5) == list(range(321))
        assert label_subset(targets, kind, 1, seed=5) == list(range(321))


@pytest.mark.parametrize("kind", ["multilabel", "multiclass"])
def test_order_is_a_permutation(kind: TaskKind) -> None:
    tags, classes = random_multilabel(500, 6, 2), multiclass([250, 150, 100], 2)
    order = stratified_order(tags if kind == "multilabel" else classes, kind, seed=3)
    assert sorted(order.tolist()) == list(range(500))


def test_empty_training_set_gives_empty_subset() -> None:
    assert label_subset(torch.zeros(0, 5), "multilabel", 0.1, seed=0) == []
    assert label_subset(torch.zeros(0, dtype=torch.long), "multiclass", 0.1, seed=0) == []


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fraction", [0, 0.0, -0.1, 1.0000001, 1.5, 10, float("nan"), float("inf"), True, "0.1", None]
)
def test_bad_fractions_raise_a_bench_error_that_says_what_is_expected(fraction: object) -> None:
    with pytest.raises(BenchError) as caught:
        label_subset(torch.zeros(10, 2), "multilabel", fraction, seed=0)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "0.01" in message and "1.0" in message and "\n" not in message


@pytest.mark.parametrize(
    ("targets", "kind"),
    [
        (torch.zeros(10, 3), "multiclass"),  # a tag matrix passed as classes
        (torch.rand(10), "multiclass"),  # float class ids
        (torch.zeros(10, dtype=torch.long), "multilabel"),  # class ids passed as tags
        (torch.zeros(10, 3), "regression"),
    ],
)
def test_wrong_targets_or_kind_raise_a_bench_error(targets: torch.Tensor, kind: str) -> None:
    with pytest.raises(BenchError):
        label_subset(targets, kind, 0.5, seed=0)  # type: ignore[arg-type]


# --- multiclass stratification ---------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "sizes",
    [
        [500, 300, 120, 50, 20, 10],
        [100] * 10,
        [1000, 30, 30, 30, 5, 5],
        [257, 131, 61, 29, 13, 7, 3],
    ],
)
def test_multiclass_counts_within_one_item_of_their_share(sizes: list[int], seed: int) -> None:
    targets = multiclass(sizes, seed)
    shares = np.asarray(sizes) / sum(sizes)
    for fraction in (0.05, 0.1, 0.25, 0.5, 0.75):
        subset = label_subset(targets, "multiclass", fraction, seed)
        counts = np.bincount(targets[subset].numpy(), minlength=len(sizes))
        expected = np.maximum(len(subset) * shares, 1.0)  # the one-per-class floor
        assert np.all(np.abs(counts - expected) <= 1.0), (fraction, counts, expected)


def test_multiclass_every_prefix_within_one_item_once_the_floor_is_repaid() -> None:
    sizes = [640, 220, 90, 35, 10, 5]
    targets = multiclass(sizes, 9)
    order = stratified_order(targets, "multiclass", seed=9)
    prefix_counts = np.cumsum(np.eye(len(sizes))[targets[order].numpy()], axis=0)
    k = np.arange(1, sum(sizes) + 1)[:, None]
    deviation = np.abs(prefix_counts - k * np.asarray(sizes) / sum(sizes))
    assert deviation[30:].max() < 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_floor_puts_one_item_of_every_class_first(seed: int) -> None:
    sizes = [900, 60, 30, 6, 3, 1]  # the last class is 0.1% of the set
    targets = multiclass(sizes, seed)
    order = stratified_order(targets, "multiclass", seed)
    first = targets[order[: len(sizes)]].tolist()
    assert first == [0, 1, 2, 3, 4, 5]  # one each, largest classes first
    # 1% of 1000 items = 10 >= 6 classes: the single item of the smallest class is kept.
    subset = label_subset(targets, "multiclass", 0.01, seed)
    assert set(targets[subset].tolist()) == set(range(len(sizes)))


def test_multiclass_accepts_any_integer_class_ids() -> None:
    targets = torch.tensor([7, 7, 100, 3, 3, 3, 100, 7, 3, 3] * 20)
    subset = label_subset(targets, "multiclass", 0.5, seed=0)
    counts = {c: int((targets[subset] == c).sum()) for c in (3, 7, 100)}
    assert counts == {3: 50, 7: 30, 100: 20}


# --- multilabel stratification ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_multilabel_rates_in_the_ten_percent_subset_match_the_full_set(seed: int) -> None:
    targets = random_multilabel(2000, 20, seed)
    positive = targets.numpy() > 0.5
    subset = label_subset(targets, "multilabel", 0.1, seed)
    assert np.abs(positive[subset].mean(0) - positive.mean(0)).max() < 0.05
    # Stricter than the rate bound: counts stay within a few items of their share (a random
    # subset of 200 drifts by ~15 items on the commonest labels).
    assert np.abs(positive[subset].sum(0) - len(subset) * positive.mean(0)).max() <= 3.0


@pytest.mark.parametrize("seed", range(3))
def test_multilabel_every_prefix_is_balanced(seed: int) -> None:
    targets = correlated_multilabel(3000, 25, seed)
    positive = targets.numpy() > 0.5
    order = stratified_order(targets, "multilabel", seed)
    prefix_counts = np.cumsum(positive[order], axis=0)
    k = np.arange(1, len(order) + 1)[:, None]
    deviation = np.abs(prefix_counts - k * positive.mean(0))
    assert deviation[25:].max() <= 4.0  # after the cover (at most one item per label)


def test_multilabel_rare_labels_appear_in_small_subsets() -> None:
    targets = random_multilabel(2000, 20, 8, low=0.05, high=0.3)
    targets[:, :4] = 0
    for label, positives in enumerate((1, 2, 5, 20)):  # four rare labels
        chosen = np.random.default_rng(label).choice(2000, positives, replace=False)
        targets[torch.from_numpy(chosen), label] = 1
    positive = targets.numpy() > 0.5
    for seed in SEEDS:
        # The cover floor: every label with a positive is present once the subset has L items.
        assert positive[label_subset(targets, "multilabel", 0.01, seed)].any(0).all()
        assert positive[label_subset(targets, "multilabel", 0.1, seed)].any(0).all()


def test_multilabel_items_without_labels_are_ordered_too() -> None:
    targets = random_multilabel(1000, 5, 4, low=0.05, high=0.2)
    empty = ~(targets.numpy() > 0.5).any(1)
    assert 200 < empty.sum() < 800
    for fraction in (0.1, 0.5):
        subset = label_subset(targets, "multilabel", fraction, seed=2)
        assert abs(empty[subset].sum() - len(subset) * empty.mean()) <= 3.0
    nothing = torch.zeros(50, 4)
    subset = label_subset(nothing, "multilabel", 0.2, seed=0)
    assert subset == label_subset(nothing, "multilabel", 0.2, seed=0) and len(subset) == 10


def test_multilabel_beyond_the_herded_head_keeps_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large sets herd only their head; the tail follows the iterative stratification."""
    monkeypatch.setattr(fractions, "HERD_HEAD_MIN", 100)
    monkeypatch.setattr(fractions, "HERD_WINDOW", 32)
    targets = correlated_multilabel(2000, 15, 6)
    positive = targets.numpy() > 0.5
    subsets = [label_subset(targets, "multilabel", f, seed=1) for f in FRACTIONS]
    for smaller, larger in zip(subsets, subsets[1:]):
        assert set(smaller) <= set(larger)
    head = label_subset(targets, "multilabel", 0.05, seed=1)  # inside the 500-item head
    assert np.abs(positive[head].sum(0) - len(head) * positive.mean(0)).max() <= 3.0


def test_multilabel_accepts_bool_and_integer_matrices() -> None:
    targets = random_multilabel(400, 6, 0)
    expected = label_subset(targets, "multilabel", 0.25, seed=4)
    assert label_subset(targets.bool(), "multilabel", 0.25, seed=4) == expected
    assert label_subset(targets.long(), "multilabel", 0.25, seed=4) == expected
