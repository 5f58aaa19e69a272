"""Protocols: built-ins load, user files load, bad values are refused clearly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ssl_music_bench.contracts.protocol import builtin_protocols, load_protocol
from ssl_music_bench.data.synthetic_corpus import SIZES
from ssl_music_bench.errors import BenchError


def test_builtin_protocols() -> None:
    assert {"v1", "cpu"} <= set(builtin_protocols())
    v1, cpu = load_protocol("v1"), load_protocol("cpu")
    assert v1.pretrain.batch_size == 96 and v1.pretrain.steps == 10_000
    assert v1.pretrain.data == "mtat" and v1.version == 2  # CLMR's pretraining data
    assert cpu.pretrain.data == "synth-tags"
    assert {"data", "sample_handling", "optimiser", "batch_size", "steps", "probe"} <= set(v1.source)
    assert cpu.name == "cpu" and cpu.pretrain.steps < 100
    assert cpu.probe.learning_rate == v1.probe.learning_rate == 1e-3  # same recipe, smaller budget
    assert len(v1.sha256) == 64 and v1.sha256 != cpu.sha256



def test_cpu_headroom_is_cpu_with_a_converged_ceiling() -> None:
    """cpu-headroom measures the tasks' headroom at cpu's recipe: only its [ceiling] budget, the
    ceiling's own settings (learning rate, dropout), since version 3 the number of notes and since
    version 4 the seeds (cpu's and two more) and the batch-norm crops (more, for a floor that moves
    less with its seed) may differ from cpu's: the same pretraining and probe otherwise."""
    cpu, headroom = load_protocol("cpu"), load_protocol("cpu-headroom")
    assert headroom.probe == cpu.probe
    assert replace(headroom.pretrain, batch_norm_crops=cpu.pretrain.batch_norm_crops) == cpu.pretrain
    assert headroom.pretrain.batch_norm_crops > cpu.pretrain.batch_norm_crops
    assert headroom.seeds[:len(cpu.seeds)] == cpu.seeds and len(headroom.seeds) >= 3  # version 4
    ours, cpus = SIZES[headroom.synth_size], SIZES[cpu.synth_size]
    assert (ours.songs, ours.song_seconds) == (cpus.songs, cpus.song_seconds)  # the same songs
    assert headroom.version == 4 and ours.notes == SIZES["large"].notes  # 8,800 training notes
    assert headroom.ceiling.max_steps >= 10 * cpu.ceiling.max_steps and headroom.ceiling.min_steps >= 1000
    # version 4: 1,200 steps of patience, not 600 (a lucky check stopped synth-instrument's seed 0 at 2,000)
    assert headroom.ceiling.early_stop_patience * headroom.ceiling.validate_every_steps >= 1200
    assert set(headroom.method_settings) == {"supervised"} and cpu.method_settings == {}

def test_protocol_from_file(tiny_protocol_file: Path) -> None:
    protocol = load_protocol(str(tiny_protocol_file))
    assert protocol.name == "test-tiny" and protocol.synth_size == "tiny"


def test_unknown_and_bad_protocols(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match='Did you mean "cpu"'):
        load_protocol("cpuu")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nversion = 1\ndescription = ""\n[pretrain]\ndata = "synth-tags"\nbatch_size = 1\nsteps = 3\n')
    with pytest.raises(BenchError, match="batch of at least 2"):
        load_protocol(str(bad))
    bad.write_text('name = "x"\n[pretrain]\nbatch = 3\n')
    with pytest.raises(BenchError, match="not valid"):
        load_protocol(str(bad))
