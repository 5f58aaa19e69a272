"""Baselines and method settings: random-init is untrained, supervised trains on the task."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.settings import config_from_overrides, method_label
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run import run_benchmark
from ssl_music_bench.run_spec import RunOptions, RunSpec


def test_set_overrides_parse_by_type() -> None:
    config = config_from_overrides("clmr", {"temperature": "0.2", "projection_dim": "128"})
    assert config.temperature == 0.2 and config.projection_dim == 128
    with pytest.raises(BenchError, match="has no setting temp"):
        config_from_overrides("clmr", {"temp": "0.2"})
    with pytest.raises(BenchError, match="is not one"):
        config_from_overrides("clmr", {"projection_dim": "many"})
    assert method_label("clmr", {}) == "clmr"
    assert method_label("clmr", {"temperature": "0.2"}) == "clmr[temperature=0.2]"


def test_random_init_and_supervised_rows(shared_home: Path, tiny_protocol_file: Path) -> None:
    protocol = load_protocol(str(tiny_protocol_file))
    quiet = RunOptions(progress=False, console=Console(quiet=True))

    def run_benchmark_cell(method: str, task: str) -> dict:
        return run_benchmark(RunSpec(method, "effnet", protocol, task, seed=0), shared_home, quiet)[0]

    floor = run_benchmark_cell("random-init", "synth-genre")
    assert floor["pretraining"]["steps"] == 0 and floor["pretraining"]["data"] is None
    genre = run_benchmark_cell("supervised", "synth-genre")
    tags = run_benchmark_cell("supervised", "synth-tags")
    assert genre["pretraining"]["steps"] == protocol.pretrain.steps
    assert genre["pretraining"]["data"] == "synth-genre" and tags["pretraining"]["data"] == "synth-tags"
    assert genre["pretraining"]["checkpoint"] != tags["pretraining"]["checkpoint"]  # one per task
    again = run_benchmark_cell("supervised", "synth-genre")
    assert again["pretraining"]["reused"] and again["metrics"] == genre["metrics"]
