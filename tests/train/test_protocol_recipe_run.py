"""A protocol's recipe reaches the run: its optimiser and schedule in Lightning's pretraining,
its per-task probe in the probe (the record says which probe ran)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from timm.optim import Lars

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.run_spec import build_method
from ssl_music_bench.train.module import PretrainModule

RECIPE = """
name = "test-recipe"
version = 1
description = "a tiny protocol with its own optimiser, schedule and task probe"
synth_size = "tiny"
seeds = [0]

[pretrain]
data = "synth-tags"
batch_size = 4
steps = 3
log_every_steps = 1
optimizer = "lars"
learning_rate = 0.3
weight_decay = 1e-6
schedule = "cosine"
warmup_steps = 1

[probe]
max_epochs = 5
early_stop_patience = 2
embed_batch_size = 16

[task_probe.synth-genre]
kind = "mlp"
early_stop_metric = "accuracy"
lr_reduce_factor = 1.0
"""


def test_lightning_pretraining_takes_the_protocols_optimiser() -> None:
    settings = replace(load_protocol("clmr-repro").pretrain, steps=10, warmup_steps=2, cosine_steps=0)
    module = PretrainModule(build_method("cola", "effnet"), 16_000, 0, settings)
    module._trainer = SimpleNamespace(max_steps=10)  # what configure_optimizers reads of the Trainer
    configured = module.configure_optimizers()
    assert isinstance(configured["optimizer"], Lars)
    assert configured["lr_scheduler"]["interval"] == "step"
    plain = PretrainModule(build_method("cola", "effnet"), 16_000, 0, load_protocol("cpu").pretrain)
    plain._trainer = SimpleNamespace(max_steps=10)
    assert type(plain.configure_optimizers()["optimizer"]).__name__ == "Adam"  # the method's own


def test_bench_run_under_a_recipe_protocol(home: Path, tmp_path: Path) -> None:
    from ssl_music_bench.cli import main

    protocol = tmp_path / "test-recipe.toml"
    protocol.write_text(RECIPE)
    assert main(["run", "--method", "cola", "--encoder", "effnet", "--task", "synth-genre",
                 "--protocol", str(protocol)]) == 0
    (record_file,) = (home / "records" / "test-recipe").glob("*.json")
    record = json.loads(record_file.read_text())
    assert record["probe"]["kind"] == "mlp"  # [task_probe.synth-genre], not [probe]'s linear
    assert record["protocol"]["name"] == "test-recipe"
