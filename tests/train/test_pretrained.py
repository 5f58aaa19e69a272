"""A run's checkpoint is found by its RunSpec: names of stored checkpoints stay valid, and the
spec refuses a bad run before any work (ssl_music_bench/run_spec.py, train/pretrained.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run_spec import RunSpec

# tests/conftest.py's tiny protocol as it was when the names below were recorded (its hash is
# part of every checkpoint's spec), kept here so that a change of the shared fixture does not
# look like a change of the names
RECORDED_PROTOCOL = """
name = "test-tiny"
version = 1
description = "tiny budget for tests"
synth_size = "tiny"
seeds = [0]

[pretrain]
data = "synth-tags"
batch_size = 4
steps = 2
log_every_steps = 1

[probe]
max_epochs = 5
early_stop_patience = 2
embed_batch_size = 16
"""


def test_checkpoint_names_are_those_of_stored_checkpoints(tmp_path: Path) -> None:
    """The names the checkpoint specs of these runs had before RunSpec existed: a change of the
    spec's keys or values would leave every stored checkpoint unfound (and pretrain again)."""
    path = tmp_path / "test-tiny.toml"
    path.write_text(RECORDED_PROTOCOL)
    protocol = load_protocol(str(path))
    names = [
        (RunSpec("clmr", "effnet", protocol, task="synth-tags"), "clmr-effnet-fe3b8f81e8e1fb50"),
        (RunSpec("clmr", "samplecnn", protocol, task="synth-genre"), "clmr-samplecnn-770bb8a5f65cc897"),
        (RunSpec("msa", "effnet", protocol, task="synth-tags", overrides={"sources": "drums,bass"}),
         "msa-effnet-eac7ebfb89cd39a8"),
        (RunSpec("supervised", "effnet", protocol, task="synth-genre", label_fraction=0.5),
         "supervised-effnet-ba75730da0b88e37"),
    ]
    for spec, name in names:
        assert spec.checkpoint_directory(tmp_path) == tmp_path / "checkpoints" / name
    # one self-supervised checkpoint serves every task; the supervised baseline's is its task's
    assert (RunSpec("clmr", "effnet", protocol, task="synth-genre").checkpoint_spec
            == RunSpec("clmr", "effnet", protocol).checkpoint_spec)
    assert (RunSpec("supervised", "effnet", protocol, task="synth-tags").checkpoint_spec["pretrain_data"]
            == "synth-tags")


def test_a_bad_run_is_refused_when_the_spec_is_made(tiny_protocol_file: Path) -> None:
    protocol = load_protocol(str(tiny_protocol_file))
    with pytest.raises(BenchError, match="Compatible encoders for cola-mws"):
        RunSpec("cola-mws", "samplecnn", protocol)
    with pytest.raises(BenchError, match="has no setting"):
        RunSpec("clmr", "effnet", protocol, overrides={"temprature": "0.1"})
    with pytest.raises(BenchError, match="label fraction"):
        RunSpec("clmr", "effnet", protocol, task="synth-tags", label_fraction=10)
