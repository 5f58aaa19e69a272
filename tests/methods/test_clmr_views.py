"""CLMR's two views (methods/clmr.py): each an independent crop of the whole clip, as CLMR's
``ComposeMany([RandomResizedCrop, ...], num_augmented_samples=2)`` cuts them, not two crops of
one excerpt two crops long (which made every pair overlap, by 2/3 of a crop on average)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ssl_music_bench.contracts.registry import ENCODERS
from ssl_music_bench.data.audio import resample
from ssl_music_bench.data.sampler import SeededIndex, pretrain_loader
from ssl_music_bench.methods.clmr import CLMR, SECOND_VIEW, CLMRConfig, IndependentCrops


@dataclass
class Item:
    length: int


class RampStore:
    """A stand-in clip store whose sample n of every clip has the value n, so a crop's first sample
    is its offset."""

    sample_rate = 22_050

    def __init__(self, lengths: list[int]) -> None:
        self.items = [Item(n) for n in lengths]

    def read(self, index: int, start: int = 0, samples: int | None = None, source: str = "mix") -> np.ndarray:
        end = self.items[index].length if samples is None else start + samples
        return np.arange(start, end, dtype=np.float32)


def overlap_probability(clip: int, crop: int) -> float:
    """P(two independent uniform offsets in {0..clip-crop} give overlapping crops): |s1 - s2| < crop."""
    positions = clip - crop + 1
    near = sum(min(positions, s + crop) - max(0, s - crop + 1) for s in range(positions))
    return near / positions**2


def test_views_are_independent_crops_of_the_whole_clip() -> None:
    clip, crop, draws = 30 * 1000, 2_680, 4_000  # a 30 s MTAT clip and 2.68 s views, at 1 kHz
    dataset = IndependentCrops(RampStore([clip]), [0], crop)
    starts = np.array([[float(dataset[SeededIndex(0, (7, k))][key][0]) for key in ("audio", SECOND_VIEW)]
                       for k in range(draws)])
    for column in starts.T:  # each offset uniform over the whole clip
        assert column.min() >= 0 and column.max() <= clip - crop
        assert abs(column.mean() / (clip - crop) - 0.5) < 0.03
    overlapping = np.abs(starts[:, 0] - starts[:, 1]) < crop
    expected = overlap_probability(clip, crop)  # 0.187 here; the "about 0.19"
    assert abs(expected - 0.187) < 0.005
    sigma = (expected * (1 - expected) / draws) ** 0.5
    assert abs(overlapping.mean() - expected) < 4 * sigma
    assert abs(np.corrcoef(starts.T)[0, 1]) < 0.06  # the two offsets are drawn independently
    # one crop per view, and each crop is contiguous audio of the clip
    item = dataset[SeededIndex(0, (7, 0))]
    assert item["audio"].shape == item[SECOND_VIEW].shape == (crop,)
    assert torch.equal(item["audio"] - item["audio"][0], torch.arange(crop, dtype=torch.float32))


def test_the_same_seed_gives_the_same_two_crops_in_every_process() -> None:
    dataset = IndependentCrops(RampStore([10_000, 20_000]), [0, 1], 1_000)
    first, again = dataset[SeededIndex(1, (0, 5))], dataset[SeededIndex(1, (0, 5))]
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not torch.equal(first["audio"], first[SECOND_VIEW])


def test_a_clip_shorter_than_a_crop_gives_two_padded_copies() -> None:
    item = IndependentCrops(RampStore([300]), [0], 1_000)[SeededIndex(0, (0, 0))]
    for key in ("audio", SECOND_VIEW):
        assert item[key].shape == (1_000,) and float(item[key][299]) == 299 and float(item[key][300:].abs().max()) == 0


def test_batches_resample_to_exactly_one_encoder_crop_and_train() -> None:
    """Through the method's own loader, at a store rate other than the encoder's, one step."""
    torch.manual_seed(0)
    store = RampStore([40_000] * 4)
    store.sample_rate = 16_000
    encoder = ENCODERS.get("samplecnn").obj()
    method = CLMR(encoder, CLMRConfig())
    batch = next(iter(pretrain_loader(method.pretrain_dataset(store, [0, 1, 2, 3]), 4, 1, 0, 0)))
    assert set(batch) == {"audio", SECOND_VIEW}
    for key in method.audio_keys:
        batch[key] = resample(batch[key] / 40_000, store.sample_rate, encoder.sample_rate)
        assert batch[key].shape[1] >= encoder.crop_samples
        assert batch[key].shape[1] - encoder.crop_samples <= 2  # no second crop's worth of audio
    loss = method.training_loss(batch)
    assert torch.isfinite(loss)
