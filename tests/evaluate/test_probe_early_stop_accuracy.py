"""A protocol may stop the probe on validation accuracy (MSCOL_SMC23's downstream scripts) and
turn the plateau schedule off (lr_reduce_factor = 1)."""

from __future__ import annotations

import pytest
import torch

from ssl_music_bench.contracts.protocol import ProbeSettings
from ssl_music_bench.evaluate import probe as probe_module
from ssl_music_bench.evaluate.probe import ProbeData, chunk_accuracy, train_probe


def split(clips: int, seed: int) -> ProbeData:
    generator = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, 3, (clips,), generator=generator)
    embeddings = torch.nn.functional.one_hot(targets, 8).float() + 0.8 * torch.randn(clips, 8, generator=generator)
    return ProbeData(embeddings, torch.arange(clips), targets)


def test_accuracy_stopping_keeps_the_epoch_of_the_best_validation_accuracy(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted = iter([0.2, 0.5, 0.7, 0.6, 0.6, 0.65, 0.69, 0.7, 0.1, 0.9])  # best at epoch 3; 0.7 again is no better
    seen: list[torch.Tensor] = []

    def fake_accuracy(kind: str, logits: torch.Tensor, targets: torch.Tensor) -> float:
        seen.append(logits.clone())
        return next(scripted)

    monkeypatch.setattr(probe_module, "chunk_accuracy", fake_accuracy)
    train, valid = split(90, 0), split(30, 1)
    settings = ProbeSettings(early_stop_metric="accuracy", early_stop_patience=5, max_epochs=50, batch_size=16,
                             lr_reduce_factor=1.0)
    trained = train_probe("multiclass", train, valid, settings, seed=0)
    assert trained.epochs == 8  # 5 epochs (4..8) without a better accuracy than epoch 3's
    with torch.no_grad():
        kept = trained.head(trained.standardize(valid.embeddings))
    assert torch.allclose(kept, seen[2]) and not torch.allclose(kept, seen[-1])


def test_no_plateau_schedule_with_factor_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("ReduceLROnPlateau built although lr_reduce_factor = 1")

    monkeypatch.setattr(torch.optim.lr_scheduler, "ReduceLROnPlateau", refuse)
    trained = train_probe("multiclass", split(60, 2), split(30, 3), ProbeSettings(lr_reduce_factor=1.0, max_epochs=3),
                          seed=0)
    assert trained.epochs == 3


def test_chunk_accuracy_is_top_1_or_keras_binary_accuracy() -> None:
    assert chunk_accuracy("multiclass", torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0])) == 0.5
    logits, tags = torch.tensor([[1.0, -1.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert chunk_accuracy("multilabel", logits, tags) == 0.5
