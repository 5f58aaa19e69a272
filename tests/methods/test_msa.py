"""COLA + multi-source association (methods/msa.py), its batches (multisource.py), cola-randmask."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from ssl_music_bench.contracts.settings import config_from_overrides
from ssl_music_bench.data.audio import resample
from ssl_music_bench.data.multisource import ExcerptGrid, SourceBatchSampler, source_batches
from ssl_music_bench.data.store import ClipStore, ClipStoreWriter
from ssl_music_bench.data.synthetic_corpus import ensure_corpus
from ssl_music_bench.encoders.effnet import EfficientNetB0
from ssl_music_bench.encoders.samplecnn import SampleCNN
from ssl_music_bench.errors import BenchError
from ssl_music_bench.methods.cola import cola_loss
from ssl_music_bench.methods.cola_randmask import COLARandMask, random_soft_mask
from ssl_music_bench.methods.msa import MSA, MSAConfig, silent_centroid_loss

SOURCES = ("drums", "bass", "vocals", "other")
WINDOW = 64_000  # 4 s at the synthetic corpus' 16 kHz


def naive_loss(anchor: Tensor, positive: Tensor, silent: list[bool], weight: Tensor) -> float:
    """The MSA loss written out: active columns, one centroid column, one CE term per anchor."""
    active = [j for j in range(len(silent)) if not silent[j]]
    quiet = [j for j in range(len(silent)) if silent[j]]
    columns = [positive[j] for j in active]
    if quiet:
        columns.append(sum(positive[j] for j in quiet) / len(quiet))
    total = 0.0
    for i in range(len(anchor)):
        scores = [float(anchor[i] @ weight @ column) for column in columns]
        target = len(active) if silent[i] else active.index(i)
        total += math.log(sum(math.exp(s) for s in scores)) - scores[target]
    return total / len(anchor)


CASES = {
    "none": [False] * 6,
    "some": [False, True, False, True, True, False],
    "all": [True] * 6,
    "one-active": [True, True, False, True, True, True],
}


@pytest.mark.parametrize("silent", CASES.values(), ids=CASES.keys())
def test_silent_centroid_loss_matches_the_naive_loop(silent: list[bool]) -> None:
    generator = torch.Generator().manual_seed(0)
    anchor, positive, weight = (torch.randn(*shape, generator=generator) for shape in ((6, 8), (6, 8), (8, 8)))
    anchor, positive = anchor.tanh(), positive.tanh()
    loss = silent_centroid_loss(anchor, positive, torch.tensor(silent), weight)
    assert loss.item() == pytest.approx(naive_loss(anchor, positive, silent, weight), rel=1e-5)
    if not any(silent):
        assert torch.equal(loss, cola_loss(anchor, positive, weight))
    if all(silent):
        assert loss.item() == pytest.approx(0.0, abs=1e-6)  # one column: nothing to tell apart


def test_rows_of_several_processes_average_to_the_whole_batch_loss() -> None:
    generator = torch.Generator().manual_seed(1)
    anchor, positive, weight = (torch.randn(*shape, generator=generator) for shape in ((8, 4), (8, 4), (4, 4)))
    silent = torch.tensor([0, 1, 0, 0, 1, 1, 0, 0]).bool()
    whole = silent_centroid_loss(anchor, positive, silent, weight)
    # each process: its own 4 anchors against the positives gathered from both
    ranks = [silent_centroid_loss(anchor[r * 4 : r * 4 + 4], positive, silent, weight, r * 4) for r in (0, 1)]
    assert torch.stack(ranks).mean().item() == pytest.approx(whole.item(), rel=1e-6)


@pytest.fixture(scope="module")
def songs(shared_home: Path) -> ClipStore:
    return ensure_corpus(shared_home, "songs", "tiny", 0, verbose=False)


def batches(
    store: ClipStore, silent: bool, steps: int = 30, seed: int = 0, sources: tuple[str, ...] = SOURCES
) -> list[dict[str, Tensor]]:
    probability = 0.5 if silent else 0.0
    return list(source_batches(store, store.indices("train"), sources, WINDOW, 0.01, probability,
                               batch_size=4, steps=steps, seed=seed, num_workers=0))


def test_batches_hold_one_source_and_pairs_share_song_and_window(songs: ClipStore) -> None:
    for batch in batches(songs, silent=True):
        assert batch["source"].unique().numel() == 1
        for row in range(4):
            index, start, source = (int(batch[key][row]) for key in ("index", "start", "source"))
            assert start % WINDOW == 0
            assert np.array_equal(batch["audio"][row].numpy(), songs.read(index, start, WINDOW))
            stem = songs.read(index, start, WINDOW, source=SOURCES[source])
            assert np.array_equal(batch["positive"][row].numpy(), stem)
            assert bool(batch["silent"][row]) == (np.abs(stem).mean() <= 0.01)


def test_silent_option_and_determinism(songs: ClipStore) -> None:
    assert not any(b["silent"].any() for b in batches(songs, silent=False))
    assert sum(int(b["silent"].sum()) for b in batches(songs, silent=True)) > 0
    targeted = batches(songs, silent=False, sources=("vocals",))
    assert all(bool((b["source"] == 0).all()) for b in targeted)
    first, again, other = batches(songs, True, 5), batches(songs, True, 5), batches(songs, True, 5, seed=1)
    assert all(torch.equal(a[k], b[k]) for a, b in zip(first, again) for k in a)
    assert any(not torch.equal(a["index"], b["index"]) for a, b in zip(first, other))


def test_sampler_draws_whole_set_batches_with_probability_one_half() -> None:
    active = np.zeros((1000, 2), dtype=bool)
    active[::2, 0] = active[:, 1] = True  # source 0 plays in half the excerpts, source 1 in all
    grid = ExcerptGrid(("drums", "bass"), np.arange(1000), np.zeros(1000, int), active, WINDOW)
    plans = list(SourceBatchSampler(grid, batch_size=32, steps=400, seed=0, silent_probability=0.5))
    of_source_0 = [plan for plan in plans if plan[0][2] == 0]
    assert 160 < len(of_source_0) < 240  # sources drawn uniformly per batch
    assert all(len({decision[2] for decision in plan}) == 1 for plan in plans)
    with_silence = sum(any(decision[3] for decision in plan) for plan in of_source_0)
    assert 0.4 < with_silence / len(of_source_0) < 0.6  # whole-set batches; the others are all active
    halves = [list(SourceBatchSampler(grid, 16, 3, 0, 0.5, rank=r, world_size=2)) for r in (0, 1)]
    for plan_0, plan_1 in zip(*halves):  # two processes: one global batch, one source, split in two
        assert plan_0[0][2] == plan_1[0][2] and len(plan_0) == len(plan_1) == 16


@pytest.mark.parametrize("encoder_class", [EfficientNetB0, SampleCNN])
def test_one_training_step_with_silent_positives(songs: ClipStore, encoder_class: type) -> None:
    torch.manual_seed(0)
    method = MSA(encoder_class())
    loader = method.pretrain_batches(songs, songs.indices("train"), 2, steps=40, seed=0, num_workers=0)
    batch = next(b for b in loader if b["silent"].any() and not b["silent"].all())  # one of each
    for key in method.audio_keys:
        batch[key] = resample(batch[key], songs.sample_rate, method.encoder.sample_rate)
    seen: list[Tensor] = []
    embed = method.embed
    method.embed = lambda waves: (seen.append(waves), embed(waves))[1]  # type: ignore[method-assign]
    loss = method.training_loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and method.criterion.weight.grad is not None
    positives = seen[0][2:]
    assert torch.all(positives[batch["silent"]] == 0)  # silent positives are all-zero input
    assert torch.all(positives[~batch["silent"]].abs().sum(1) > 0)


def test_cola_randmask_step_and_mask(songs: ClipStore) -> None:
    torch.manual_seed(0)
    method = COLARandMask(EfficientNetB0())
    batch = next(iter(method.pretrain_batches(songs, songs.indices("train"), 2, 1, 0, 0)))
    loss = method.training_loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    wave = torch.randn(3, 16_000)
    masked = random_soft_mask(wave, generator=torch.Generator().manual_seed(0))
    assert masked.shape == wave.shape
    ratio = masked.norm(dim=1) / wave.norm(dim=1)
    assert torch.all(ratio > 0.2) and torch.all(ratio < 0.9)
    assert torch.equal(masked, random_soft_mask(wave, generator=torch.Generator().manual_seed(0)))


def test_a_store_without_stems_is_refused(tmp_path: Path) -> None:
    with ClipStoreWriter(tmp_path / "plain", 16_000) as writer:
        writer.add("a", "train", [], np.zeros(WINDOW, dtype=np.float32))
    store = ClipStore(tmp_path / "plain")
    with pytest.raises(BenchError, match="bench separate"):
        MSA(EfficientNetB0()).pretrain_batches(store, [0], 4, 1, 0, 0)


def test_sources_setting() -> None:
    assert MSAConfig().sources == SOURCES
    assert MSAConfig(sources="drums, bass").sources == ("drums", "bass")  # type: ignore[arg-type]
    assert config_from_overrides("msa", {"sources": "drums"}).sources == ("drums",)
    assert config_from_overrides("msa", {"silent": "false"}).silent is False
    with pytest.raises(BenchError, match='Did you mean "drums"'):
        MSAConfig(sources=("drum",))
    with pytest.raises(BenchError, match="vocals"):
        config_from_overrides("msa", {"sources": "guitar"})


def test_learning_rate_is_halved_at_half_of_the_budget() -> None:
    from ssl_music_bench.run_spec import build_method

    method = build_method("msa", "effnet")
    config = method.configure_optimizer(total_steps=10)
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["interval"] == "step"
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[:5] == [1e-3] * 5 and rates[5:] == [5e-4] * 5
