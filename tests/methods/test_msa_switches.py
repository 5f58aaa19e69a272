"""The multi-source poster's ablation switches of MSA (methods/msa.py): ``homogeneous`` (one
source per batch, MSCOL_SMC23 pretraining.py) vs mixed batches, ``loss=centroid|plain``
(mscol/network.py vs COLA's loss) and ``time_shift`` (independent vs shared crop offsets)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from ssl_music_bench.contracts.settings import config_from_overrides
from ssl_music_bench.data.audio import resample
from ssl_music_bench.data.multisource import ExcerptGrid, SourceBatchSampler
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.data.synthetic_corpus import ensure_corpus
from ssl_music_bench.encoders.effnet import EfficientNetB0
from ssl_music_bench.errors import BenchError
from ssl_music_bench.methods.cola import cola_loss
from ssl_music_bench.methods.msa import MSA, MSAConfig, SilentCentroidLoss, aligned_crops, silent_centroid_loss

WINDOW = 64_000


@pytest.fixture(scope="module")
def songs(shared_home: Path) -> ClipStore:
    return ensure_corpus(shared_home, "songs", "tiny", 0, verbose=False)


def test_defaults_are_the_full_method_and_the_switches_parse_and_are_checked() -> None:
    assert (MSAConfig().homogeneous, MSAConfig().loss, MSAConfig().time_shift) == (True, "centroid", True)
    config = config_from_overrides("msa", {"homogeneous": "false", "loss": "plain", "time_shift": "false"})
    assert (config.homogeneous, config.loss, config.time_shift) == (False, "plain", False)
    with pytest.raises(BenchError, match="one of centroid, plain"):
        config_from_overrides("msa", {"loss": "triplet"})
    with pytest.raises(BenchError, match="true or false"):
        config_from_overrides("msa", {"time_shift": "sometimes"})


def grid() -> ExcerptGrid:
    active = np.zeros((600, 3), dtype=bool)
    active[:300, 0] = active[200:500, 1] = active[:, 2] = True
    return ExcerptGrid(("drums", "bass", "vocals"), np.arange(600), np.zeros(600, int), active, WINDOW)


def test_mixed_batches_hold_several_sources_homogeneous_ones_one() -> None:
    homogeneous = list(SourceBatchSampler(grid(), 24, 50, seed=0, silent_probability=0.0))
    mixed = list(SourceBatchSampler(grid(), 24, 50, seed=0, silent_probability=0.0, homogeneous=False))
    assert all(len({d[2] for d in plan}) == 1 for plan in homogeneous)
    assert all(len({d[2] for d in plan}) >= 2 for plan in mixed)
    counts = np.bincount([d[2] for plan in mixed for d in plan], minlength=3)
    assert counts.min() > 0.25 * counts.sum()  # sources drawn uniformly per example
    g = grid()
    assert not any(d[3] for plan in mixed for d in plan)  # without silent batches every positive plays
    assert all(g.active[d[0], d[2]] for plan in mixed for d in plan)
    silent = list(SourceBatchSampler(g, 24, 50, seed=0, silent_probability=0.5, homogeneous=False))
    assert any(d[3] for plan in silent for d in plan)
    again = list(SourceBatchSampler(grid(), 24, 50, seed=0, silent_probability=0.0, homogeneous=False))
    assert mixed == again  # seeded
    halves = [list(SourceBatchSampler(grid(), 12, 5, 0, 0.0, rank=r, world_size=2, homogeneous=False))
              for r in (0, 1)]
    assert [p0 + p1 for p0, p1 in zip(*halves)] == mixed[:5]  # two processes: the same global batch


def test_the_plain_loss_gives_silent_positives_their_own_columns() -> None:
    generator = torch.Generator().manual_seed(0)
    anchor, positive = torch.randn(6, 8, generator=generator).tanh(), torch.randn(6, 8, generator=generator).tanh()
    silent = torch.tensor([False, True, False, True, True, False])
    centroid, plain = SilentCentroidLoss(8), SilentCentroidLoss(8, centroid=False)
    plain.weight.data.copy_(centroid.weight.data)
    assert torch.equal(plain(anchor, positive, silent), cola_loss(anchor, positive, plain.weight))
    assert torch.equal(centroid(anchor, positive, silent),
                       silent_centroid_loss(anchor, positive, silent, centroid.weight))
    assert not torch.equal(plain(anchor, positive, silent), centroid(anchor, positive, silent))
    none = torch.zeros(6, dtype=torch.bool)  # no silent positive: both are COLA's loss
    assert torch.equal(plain(anchor, positive, none), centroid(anchor, positive, none))
    assert MSA(EfficientNetB0(), MSAConfig(loss="plain")).criterion.centroid is False


def test_aligned_crops_share_their_offset() -> None:
    torch.manual_seed(0)
    mixture = torch.arange(40, dtype=torch.float32).repeat(5, 1)
    anchor, positive = aligned_crops(mixture, mixture + 1000, 8)
    assert torch.equal(positive, anchor + 1000)
    assert len({float(row[0]) for row in anchor}) > 1  # each row its own offset


def crops_seen(method: MSA, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """The anchor and positive crops the method embeds (the encoder itself is not run: only the crops matter)."""
    seen: list[Tensor] = []
    width = method.config.embedding_dim
    method.embed = lambda waves: (seen.append(waves), waves[:, :width].tanh())[1]  # type: ignore[method-assign]
    loss = method.training_loss(batch)
    assert torch.isfinite(loss)
    return seen[0].chunk(2)


def test_time_shift_false_crops_the_source_under_the_anchor(songs: ClipStore) -> None:
    torch.manual_seed(0)
    outcomes = {}
    for shift in (True, False):
        method = MSA(EfficientNetB0(), MSAConfig(time_shift=shift, silent=False, positive_noise=0.0))
        batch = next(iter(method.pretrain_batches(songs, songs.indices("train"), 4, 1, seed=0, num_workers=0)))
        # stand-in source whose every sample says where it is: the mixture itself
        batch["positive"] = batch["audio"].clone()
        for key in method.audio_keys:
            batch[key] = resample(batch[key], songs.sample_rate, method.encoder.sample_rate)
        anchor, positive = crops_seen(method, batch)
        outcomes[shift] = bool(torch.equal(anchor, positive))
    assert outcomes == {True: False, False: True}


def test_one_mixed_plain_unshifted_training_step(songs: ClipStore) -> None:
    torch.manual_seed(0)
    method = MSA(EfficientNetB0(), MSAConfig(homogeneous=False, loss="plain", time_shift=False))
    loader = method.pretrain_batches(songs, songs.indices("train"), 4, steps=3, seed=0, num_workers=0)
    batch = next(iter(loader))
    for key in method.audio_keys:
        batch[key] = resample(batch[key], songs.sample_rate, method.encoder.sample_rate)
    loss = method.training_loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and method.criterion.weight.grad is not None
