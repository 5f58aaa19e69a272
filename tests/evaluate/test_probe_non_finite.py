"""Non-finite numbers never become a probe result: NaN embeddings and a diverging probe stop with a message."""

from __future__ import annotations

import pytest
import torch

from ssl_music_bench.contracts.protocol import ProbeSettings
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate.probe import ProbeData, train_probe


def split(clips: int, seed: int) -> ProbeData:
    generator = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, 3, (clips,), generator=generator)
    return ProbeData(torch.randn(clips, 8, generator=generator), torch.arange(clips), targets)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_embeddings_stop_the_probe(value: float) -> None:
    train, valid = split(30, 0), split(10, 1)
    train.embeddings[3, 2] = value
    with pytest.raises(BenchError, match="1 of the 30 train chunk embeddings hold NaN or infinite"):
        train_probe("multiclass", train, valid, ProbeSettings(max_epochs=3), seed=0)


def test_a_diverging_probe_stops_with_the_setting_to_change() -> None:
    train, valid = split(30, 0), split(10, 1)
    train.embeddings *= 1e30  # standardisation off: Adam at a huge rate overflows the logits
    settings = ProbeSettings(max_epochs=50, learning_rate=1e35, standardize=False)
    with pytest.raises(BenchError, match="probe.learning_rate"):
        train_probe("multiclass", train, valid, settings, seed=0)
