"""The probe learns what is linearly present, early-stops, and aggregates chunks to clips."""

from __future__ import annotations

import torch

from ssl_music_bench.contracts.protocol import ProbeSettings
from ssl_music_bench.evaluate.metrics import task_metrics
from ssl_music_bench.evaluate.probe import ProbeData, train_probe


def make_split(clips: int, chunks_per_clip: int, kind: str, seed: int) -> ProbeData:
    generator = torch.Generator().manual_seed(seed)
    owner = torch.arange(clips).repeat_interleave(chunks_per_clip)
    if kind == "multilabel":
        targets = (torch.rand(clips, 4, generator=generator) < 0.5).float()
        signal = targets[owner] * 2 - 1
    else:
        targets = torch.randint(0, 3, (clips,), generator=generator)
        signal = torch.nn.functional.one_hot(targets[owner], 4).float() * 2 - 1
    noise = torch.randn(len(owner), 16, generator=generator)
    embeddings = torch.cat([signal, torch.zeros(len(owner), 16 - signal.shape[1])], dim=1) + 0.5 * noise
    return ProbeData(embeddings, owner, targets)


def test_linear_probe_solves_a_linearly_separable_tagging_task() -> None:
    train, valid, test = (make_split(n, 3, "multilabel", s) for n, s in ((120, 0), (40, 1), (60, 2)))
    probe = train_probe("multilabel", train, valid, ProbeSettings(max_epochs=100, batch_size=32), seed=0)
    metrics = task_metrics("multilabel", probe.clip_scores("multilabel", test), test.targets)
    assert metrics["roc_auc"] > 0.95
    assert probe.clip_scores("multilabel", test).shape == (60, 4)


def test_probe_multiclass_and_mlp() -> None:
    train, valid, test = (make_split(n, 2, "multiclass", s) for n, s in ((150, 3), (50, 4), (50, 5)))
    for kind in ("linear", "mlp"):
        probe = train_probe("multiclass", train, valid, ProbeSettings(kind=kind, max_epochs=60, batch_size=32), seed=0)
        scores = probe.clip_scores("multiclass", test)
        assert torch.allclose(scores.sum(dim=1), torch.ones(50))
        assert task_metrics("multiclass", scores, test.targets)["accuracy"] > 0.9


def test_early_stopping_stops_on_noise() -> None:
    train = make_split(60, 2, "multiclass", 6)
    valid = make_split(60, 2, "multiclass", 7)
    train.embeddings = torch.randn_like(train.embeddings)  # nothing to learn: validation loss rises
    probe = train_probe("multiclass", train, valid, ProbeSettings(max_epochs=200, early_stop_patience=3), seed=0)
    assert probe.epochs < 200
