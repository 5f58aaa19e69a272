"""A loss or a result that is not a finite number never becomes a checkpoint or a record.

Pretraining whose loss turns NaN or inf stops at that step with one paragraph naming the step,
the loss and the settings that usually cause it, and keeps nothing: no checkpoint, no resume
state, no record (train/callbacks.py FiniteLoss, train/pretrained.py). Test metrics that are not
finite are refused before the record is written (run.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import TINY_PROTOCOL

import ssl_music_bench.run as run_module
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate.probe import ProbeData
from ssl_music_bench.methods.clmr import CLMR
from ssl_music_bench.run import Probed, check_finite_results, run_benchmark
from ssl_music_bench.run_spec import RunOptions, RunSpec
from ssl_music_bench.train.checkpoint import resume_directory


def cheap_loss(method: CLMR) -> torch.Tensor:
    """A deterministic loss of the encoder's weights: Lightning's loop at the cost of no model pass."""
    return sum((p.float() ** 2).mean() for p in method.encoder.parameters())  # type: ignore[return-value]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_diverging_pretraining_stops_at_that_step_and_keeps_nothing(
    bad: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def diverges_at_step_3(self: CLMR, batch: dict) -> torch.Tensor:
        calls.append(1)
        return cheap_loss(self) * (bad if len(calls) >= 3 else 1.0)

    monkeypatch.setattr(CLMR, "training_loss", diverges_at_step_3)
    protocol_file = tmp_path / "steps-6.toml"
    protocol_file.write_text(TINY_PROTOCOL.replace("steps = 2", "steps = 6"))  # a resume state after each step
    spec = RunSpec("clmr", "effnet", load_protocol(str(protocol_file)), task="synth-tags")
    home = tmp_path / "home"

    with pytest.raises(BenchError) as raised:
        run_benchmark(spec, home, RunOptions(progress=False))

    message = str(raised.value)
    assert f"loss is {bad} at step 3 of 6" in message
    assert "learning_rate = 0.0003" in message and "temperature = 0.5" in message
    assert 'precision = "32-true"' in message
    assert len(calls) == 3  # stopped where it appeared, not at the end of the budget
    directory = spec.checkpoint_directory(home)
    assert not directory.exists() and not directory.with_name(directory.name + ".partial").exists()
    assert not resume_directory(directory).exists()  # the diverged run's resume state is not reused
    assert not list(home.glob("records/**/*.json"))


def probed(metrics: dict[str, float], per_tag: list[float | None] | None = None) -> Probed:
    return Probed(10, metrics, {"accuracy": 0.5}, {"kind": "linear", "epochs": 3, "best_valid_loss": 1.2}, per_tag)


def test_non_finite_results_are_refused(tiny_protocol_file: Path) -> None:
    spec = RunSpec("random-init", "effnet", load_protocol(str(tiny_protocol_file)), task="synth-tags")
    check_finite_results(probed({"roc_auc": 0.8, "pr_auc": 0.3, "tags_scored": 5.0}, [0.1, None]), spec)  # None: no positive
    with pytest.raises(BenchError, match=r"test roc_auc = nan.*no record was written"):
        check_finite_results(probed({"roc_auc": math.nan, "pr_auc": 0.3}), spec)
    with pytest.raises(BenchError, match="average precision of tag 1 = inf"):
        check_finite_results(probed({"roc_auc": 0.8}, [0.1, math.inf]), spec)


def test_a_nan_metric_never_reaches_a_record(tiny_protocol_file: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Through run_benchmark: the probe's NaN stops the run before write_record."""
    def no_embeddings(method, data, weights_sha256, spec, home, options):  # type: ignore[no-untyped-def]
        empty = ProbeData(torch.zeros(0, 1), torch.zeros(0, dtype=torch.long), torch.zeros(0))
        return {split: empty for split in ("train", "valid", "test")}, []

    monkeypatch.setattr(run_module, "embed_task", no_embeddings)
    monkeypatch.setattr(run_module, "probe_task", lambda kind, splits, spec: probed({"accuracy": math.nan}))
    spec = RunSpec("random-init", "effnet", load_protocol(str(tiny_protocol_file)), task="synth-genre")
    home = tmp_path / "home"
    with pytest.raises(BenchError, match="not finite"):
        run_benchmark(spec, home, RunOptions(progress=False))
    assert not list(home.glob("records/**/*.json"))
