"""`bench run --label-fraction`: the probe sees a nested stratified subset, the record says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate.label_fractions import label_subset, subset_size
from ssl_music_bench.run import run_benchmark
from ssl_music_bench.run_spec import RunOptions, RunSpec


def test_label_fraction_run(shared_home: Path, tiny_protocol_file: Path) -> None:
    protocol = load_protocol(str(tiny_protocol_file))
    quiet = RunOptions(progress=False, console=Console(quiet=True))
    record, path = run_benchmark(RunSpec("random-init", "effnet", protocol, task="synth-genre", label_fraction=0.5),
                                 shared_home, quiet)
    train_clips = record["dataset"]["clips"]["train"]
    assert record["label_fraction"] == 0.5
    assert record["train_clips_labelled"] == subset_size(train_clips, 0.5) < train_clips
    assert path.name == f"random-init__effnet__synth-genre@0.5__seed0__corpus{SYNTH_VERSION}.json"
    with pytest.raises(BenchError, match="label fraction"):
        run_benchmark(RunSpec("random-init", "effnet", protocol, task="synth-genre", label_fraction=0.0),
                      shared_home, quiet)


def test_subsets_used_by_runs_are_nested() -> None:
    import torch

    targets = torch.arange(60) % 6
    small, large = label_subset(targets, "multiclass", 0.1, 3), label_subset(targets, "multiclass", 0.5, 3)
    assert set(small) <= set(large)
