"""A run's checkpoint is found by its RunSpec: names of stored checkpoints stay valid, and the
spec refuses a bad run before any work (ssl_music_bench/run_spec.py, train/pretrained.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run_spec import RunSpec
from ssl_music_bench.train.checkpoint import checkpoint_key

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
    """The names the checkpoint specs of these runs have: a change of the spec's keys or values
    leaves every stored checkpoint unfound (and pretrains again), so it must be on purpose.

    The code's versions (method and encoder revisions, the synthetic corpus version) enter the
    spec only above 1: without them, CLMR's spec is still the one that named the checkpoints
    before RunSpec existed (its config is unchanged), so the key function itself never moved.
    """
    path = tmp_path / "test-tiny.toml"
    path.write_text(RECORDED_PROTOCOL)
    protocol = load_protocol(str(path))
    names = [
        (RunSpec("clmr", "effnet", protocol, task="synth-tags"), "clmr-effnet-f4e8ab6225728231"),
        (RunSpec("clmr", "samplecnn", protocol, task="synth-genre"), "clmr-samplecnn-ddd15720842c593d"),
        (RunSpec("msa", "effnet", protocol, task="synth-tags", overrides={"sources": "drums,bass"}),
         "msa-effnet-f4497211b11db667"),
        (RunSpec("supervised", "effnet", protocol, task="synth-genre", label_fraction=0.5),
         "supervised-effnet-82d97d8dfab1f034"),
    ]
    for spec, name in names:
        assert spec.checkpoint_directory(tmp_path) == tmp_path / "checkpoints" / name
    code_versions = {"method_revision", "encoder_revision", "synth_version"}
    for spec, name_before_versions in ((names[0][0], "fe3b8f81e8e1fb50"), (names[1][0], "770bb8a5f65cc897")):
        spec_before = {k: v for k, v in spec.checkpoint_spec.items() if k not in code_versions}
        assert checkpoint_key(spec_before) == name_before_versions
    assert names[0][0].checkpoint_spec["method_revision"] == 2  # independent crops of the whole clip
    assert names[0][0].checkpoint_spec["encoder_revision"] == 2  # Keras's EfficientNet-B0 settings
    assert "encoder_revision" not in names[1][0].checkpoint_spec  # SampleCNN is unchanged
    assert names[0][0].checkpoint_spec["synth_version"] == SYNTH_VERSION
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
