"""The supervised ceiling's own budget: the protocol's [ceiling] table, early stopping on the
task's valid split with the best weights kept (ssl_music_bench/train/early_stopping.py), and the
record's account of it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import TINY_PROTOCOL
from rich.console import Console
from torch import nn

from ssl_music_bench.contracts.protocol import CeilingSettings, load_protocol, parse_protocol
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run import run_benchmark
from ssl_music_bench.run_spec import RunOptions, RunSpec
from ssl_music_bench.train.early_stopping import ValidationEarlyStopping

CEILING = """
[ceiling]
max_steps = 8
validate_every_steps = 2
early_stop_patience = 2
batch_size = 4
"""


def test_builtin_protocols_give_the_ceiling_its_own_budget() -> None:
    for name in ("cpu", "v1"):
        protocol = load_protocol(name)
        assert protocol.ceiling.max_steps > protocol.pretrain.steps or name == "v1"
        assert protocol.ceiling.validate_every_steps < protocol.ceiling.max_steps
        assert "ceiling" in protocol.source  # every setting cites its source


def test_a_protocol_without_the_table_trains_the_ceiling_for_the_pretraining_steps() -> None:
    protocol = parse_protocol(TINY_PROTOCOL)
    assert protocol.ceiling == CeilingSettings(max_steps=protocol.pretrain.steps,
                                               validate_every_steps=protocol.pretrain.steps, early_stop_patience=1)
    assert parse_protocol(TINY_PROTOCOL + CEILING).ceiling == CeilingSettings(8, 2, 2, 4)


@pytest.mark.parametrize("line, message", [
    ("max_steps = 0", "ceiling.max_steps"), ("validate_every_steps = 0", "ceiling.validate_every_steps"),
    ("early_stop_patience = 0", "ceiling.early_stop_patience"), ("batch_size = 1", "ceiling.batch_size"),
    ("max_steps = 2.5", "whole number"), ("patience = 3", "has no setting patience"),
    ("min_steps = -1", "ceiling.min_steps"), ('early_stop_metric = "pr_auc"', "ceiling.early_stop_metric"),
])
def test_bad_ceiling_settings_are_refused(line: str, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        parse_protocol(TINY_PROTOCOL + "\n[ceiling]\n" + line + "\n")


def _fake_run(losses: list[float], settings: CeilingSettings, metrics: list[float] | None = None,
              kind: str = "multiclass") -> tuple[ValidationEarlyStopping, nn.Linear, list]:
    """Drive the callback through a training whose weights at check k are all k and whose
    validation losses (and headline metrics) are ``losses`` (``metrics``); returns it, the model
    after training, and the steps seen."""
    model = nn.Linear(1, 1, bias=False)
    stopping = ValidationEarlyStopping([], 16_000, settings, kind=kind)  # type: ignore[arg-type]
    scripted = iter(zip(losses, metrics or [None] * len(losses)))
    stopping.validation_check = lambda method: next(scripted)  # type: ignore[method-assign]
    trainer = SimpleNamespace(global_step=0, max_steps=settings.max_steps, should_stop=False, optimizers=[])
    module = SimpleNamespace(method=model)
    stopping.on_train_start(trainer, module)  # type: ignore[arg-type]
    steps = []
    while not trainer.should_stop and trainer.global_step < trainer.max_steps:
        trainer.global_step += 1
        with torch.no_grad():
            model.weight.fill_(trainer.global_step)
        steps.append(trainer.global_step)
        stopping.on_train_batch_end(trainer, module, None, None, 0)  # type: ignore[arg-type]
    stopping.on_train_end(trainer, module)  # type: ignore[arg-type]
    return stopping, model, steps


def test_early_stopping_stops_after_the_patience_and_keeps_the_best_weights() -> None:
    settings = CeilingSettings(max_steps=100, validate_every_steps=10, early_stop_patience=2)
    stopping, model, steps = _fake_run([3.0, 2.0, 2.5, 2.1, 1.0], settings)
    assert steps[-1] == 40 and stopping.stopped_at_step == 40  # checks at 10, 20 (best), 30, 40: patience 2
    assert model.weight.item() == 20.0  # the weights of the best check, not the last
    summary = stopping.summary(steps[-1])
    assert summary["best_step"] == 20 and summary["best_valid_loss"] == 2.0 and summary["early_stopped"]
    assert [step for step, _ in summary["valid_loss_curve"]] == [10, 20, 30, 40]


def test_no_early_stop_and_no_lower_learning_rate_during_the_warm_up() -> None:
    """A loss that sits at chance for the first checks (a from-scratch network) is not stopped
    before min_steps; after it, the patience counts as usual."""
    settings = CeilingSettings(max_steps=100, validate_every_steps=10, early_stop_patience=2, min_steps=40)
    flat = [2.398, 2.399, 2.399, 2.400, 2.401, 2.300, 2.350, 2.360, 2.370]
    stopping, model, steps = _fake_run(flat, settings)
    # checks 20-40 are not worse-counted (warm-up); 50 no better, 60 best, 70 and 80 worse: stop at 80
    assert stopping.stopped_at_step == 80 and steps[-1] == 80 and model.weight.item() == 60.0
    without = _fake_run(flat, CeilingSettings(max_steps=100, validate_every_steps=10, early_stop_patience=2))[0]
    assert without.stopped_at_step == 30  # what the warm-up prevents: stopped at chance
    assert stopping.summary(80)["min_steps"] == 40

    model = nn.Linear(1, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=1.0)
    plateau = ValidationEarlyStopping([], 16_000, settings, lr_reduce_factor=0.5, lr_reduce_patience=1)
    scripted = iter(flat)
    plateau.validation_check = lambda method: (next(scripted), None)  # type: ignore[method-assign]
    trainer = SimpleNamespace(global_step=0, max_steps=100, should_stop=False, optimizers=[optimiser])
    module = SimpleNamespace(method=model)
    plateau.on_train_start(trainer, module)  # type: ignore[arg-type]
    for step in (10, 20, 30, 40):
        trainer.global_step = step
        plateau.on_train_batch_end(trainer, module, None, None, 0)  # type: ignore[arg-type]
    assert optimiser.param_groups[0]["lr"] == 1.0  # three flat checks, yet no lower rate in the warm-up


def test_a_ceiling_that_keeps_improving_trains_its_whole_budget() -> None:
    settings = CeilingSettings(max_steps=25, validate_every_steps=10, early_stop_patience=1)
    stopping, model, steps = _fake_run([3.0, 2.0, 1.0], settings)
    assert steps[-1] == 25 and stopping.stopped_at_step is None  # checks at 10, 20 and the last step
    assert model.weight.item() == 25.0 and not stopping.summary(25)["early_stopped"]


def test_state_survives_a_resume_checkpoint() -> None:
    settings = CeilingSettings(max_steps=100, validate_every_steps=10, early_stop_patience=3)
    stopping, _, _ = _fake_run([3.0, 2.0, 2.5, 2.6, 2.7], settings)
    restored = ValidationEarlyStopping([], 16_000, settings)
    restored.load_state_dict(stopping.state_dict())
    assert restored.summary(50) == stopping.summary(50)
    assert torch.equal(restored.best_weights["weight"], stopping.best_weights["weight"])  # type: ignore[index]


def test_the_supervised_run_records_its_early_stopping(shared_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "tiny-ceiling.toml"
    path.write_text(TINY_PROTOCOL.replace('name = "test-tiny"', 'name = "test-tiny-ceiling"') + CEILING)
    protocol = load_protocol(str(path))
    quiet = RunOptions(progress=False, console=Console(quiet=True))
    record, _ = run_benchmark(RunSpec("supervised", "effnet", protocol, "synth-genre", seed=0), shared_home, quiet)
    stopping = record["pretraining"]["early_stopping"]
    curve = stopping["valid_loss_curve"]
    assert stopping["max_steps"] == 8 and record["pretraining"]["steps"] == stopping["steps_trained"] <= 8
    assert [step for step, _ in curve] == list(range(2, stopping["steps_trained"] + 1, 2))
    assert stopping["best_valid_loss"] == min(loss for _, loss in curve)
    assert dict(map(tuple, curve))[stopping["best_step"]] == stopping["best_valid_loss"]
    assert stopping["early_stopped"] == (stopping["stopped_at_step"] is not None)


def test_judged_by_the_headline_metric_it_keeps_the_best_metric_not_the_best_loss() -> None:
    """synth-tags' case: the loss is lowest at the first check while PR-AUC goes on rising."""
    settings = CeilingSettings(max_steps=100, validate_every_steps=10, early_stop_patience=2,
                               early_stop_metric="headline")
    losses = [0.30, 0.32, 0.35, 0.40, 0.45, 0.50]
    stopping, model, steps = _fake_run(losses, settings, metrics=[0.40, 0.50, 0.55, 0.54, 0.53, 0.60], kind="multilabel")
    assert stopping.stopped_at_step == 50 and model.weight.item() == 30.0  # best PR-AUC at 30; 40, 50 worse
    summary = stopping.summary(50)
    assert summary["early_stop_metric"] == "pr_auc" and summary["best_valid_metric"] == 0.55
    assert summary["best_valid_loss"] == 0.35  # the loss of the kept check, not the lowest loss
    assert summary["valid_metric_curve"] == [[10, 0.4], [20, 0.5], [30, 0.55], [40, 0.54], [50, 0.53]]
    restored = ValidationEarlyStopping([], 16_000, settings, kind="multilabel")
    restored.load_state_dict(stopping.state_dict())
    assert restored.summary(50) == summary
    by_loss = _fake_run(losses, CeilingSettings(max_steps=100, validate_every_steps=10, early_stop_patience=2))
    assert by_loss[1].weight.item() == 10.0 and "valid_metric_curve" not in by_loss[0].summary(30)


class _ScoredMethod(nn.Module):
    """A stand-in for the supervised method: fixed scores per crop, looked up by the crop's clip
    and its place among the clip's crops; the loss is the scores' mean."""

    audio_keys = ("audio",)

    def __init__(self, crop_scores: torch.Tensor) -> None:
        super().__init__()
        self.encoder = SimpleNamespace(sample_rate=16_000)
        self.crop_scores = crop_scores  # (crops, labels), crops in clip order
        self.weight = nn.Parameter(torch.zeros(1))
        self.seen = 0

    def task_outputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.crop_scores[self.seen:self.seen + len(batch["clip"])]
        self.seen += len(batch["clip"])
        return scores.mean(), scores


def test_the_headline_metric_is_the_clips_pr_auc_against_sklearn() -> None:
    """Each clip's score is the mean of its crops'; the macro PR-AUC over tags is sklearn's."""
    from sklearn.metrics import average_precision_score

    generator = torch.Generator().manual_seed(3)
    clips, crops, tags = 9, 3, 4
    targets = (torch.rand(clips, tags, generator=generator) > 0.5).float()
    targets[0], targets[1] = 1.0, 0.0  # every tag has a positive and a negative clip
    crop_scores = torch.rand(clips * crops, tags, generator=generator)
    owner = torch.arange(clips).repeat_interleave(crops)
    batches = [{"audio": torch.zeros(len(part), 8), "target": targets[part], "clip": part}
               for part in owner.split(5)]
    settings = CeilingSettings(max_steps=10, validate_every_steps=5, early_stop_metric="headline")
    stopping = ValidationEarlyStopping(batches, 16_000, settings, kind="multilabel", clip_targets=targets)
    loss, metric = stopping.validation_check(_ScoredMethod(crop_scores))  # type: ignore[arg-type]
    clip_scores = crop_scores.reshape(clips, crops, tags).mean(dim=1)
    assert metric == pytest.approx(average_precision_score(targets.numpy(), clip_scores.numpy(), average="macro"))
    assert loss == pytest.approx(float(crop_scores.mean()), rel=1e-5)  # batches weighted by their size


def test_a_ceiling_judged_by_pr_auc_records_its_metric_curve(shared_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "tiny-ceiling-headline.toml"
    path.write_text(TINY_PROTOCOL.replace('name = "test-tiny"', 'name = "test-tiny-ceiling-headline"')
                    + CEILING + 'early_stop_metric = "headline"\n')
    protocol = load_protocol(str(path))
    quiet = RunOptions(progress=False, console=Console(quiet=True))
    record, _ = run_benchmark(RunSpec("supervised", "effnet", protocol, "synth-tags", seed=0), shared_home, quiet)
    stopping = record["pretraining"]["early_stopping"]
    curve = stopping["valid_metric_curve"]
    assert stopping["early_stop_metric"] == "pr_auc"
    assert [step for step, _ in curve] == [step for step, _ in stopping["valid_loss_curve"]]
    assert all(0.0 <= value <= 1.0 for _, value in curve)
    assert stopping["best_valid_metric"] == max(value for _, value in curve)
    assert dict(map(tuple, curve))[stopping["best_step"]] == stopping["best_valid_metric"]
    assert record["pretraining"]["convergence"] is not None
