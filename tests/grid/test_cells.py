"""The grid's cells: the default grid is `bench status`'s, names and wildcards are checked, every cell
is checked as `bench run` checks it before any work, and pretraining groups follow RunSpec's
checkpoint identity (no subprocess, no training here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.errors import BenchError
from ssl_music_bench.grid import GridCell, expand_grid
from ssl_music_bench.grid.runner import normalise_device, pretraining_groups
from ssl_music_bench.report.status import grid as status_grid
from ssl_music_bench.run_spec import RunSpec


def test_default_grid_is_the_status_grid(tmp_path: Path) -> None:
    protocol = load_protocol("cpu")
    expected = {(c.method, c.encoder, c.task, c.seed)
                for c in status_grid(tmp_path, protocol, TASKS.names("synth-*"), list(protocol.seeds))}
    cells = expand_grid("cpu")
    assert {(c.method, c.encoder, c.task, c.seed) for c in cells} == expected
    assert len(cells) == len(expected)  # no repeats


def test_wildcards_explicit_encoders_and_incompatible_pairs_left_out() -> None:
    cells = expand_grid("cpu", methods=["cola*"], encoders=["samplecnn"], tasks=["synth-genre"], seeds=[3])
    # cola and cola-randmask accept the wave; cola-mws needs a spectrogram, so it has no SampleCNN cell
    assert {c.method for c in cells} >= {"cola"} and "cola-mws" not in {c.method for c in cells}
    assert all(c.encoder == "samplecnn" and c.seed == 3 and c.task == "synth-genre" for c in cells)
    with pytest.raises(BenchError, match="The grid is empty"):
        expand_grid("cpu", methods=["cola-mws"], encoders=["samplecnn"])


@pytest.mark.parametrize(("options", "message"), [
    ({"methods": ["clmrr"]}, 'Did you mean "clmr"'),
    ({"methods": ["zzz*"]}, "matches no registered method"),
    ({"tasks": ["synth-genr"]}, "Unknown task"),
    ({"methods": ["clmr"], "overrides": {"no_such_setting": "1"}}, "would be refused by `bench run`"),
    ({"methods": ["clmr"], "label_fractions": [1.5]}, "would be refused by `bench run`"),
])
def test_bad_axes_are_refused_before_any_work(options: dict, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        expand_grid("cpu", **options)


def test_run_arguments_and_protocol_files_made_absolute(tmp_path: Path, tiny_protocol_file: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tiny_protocol_file.parent)
    cell = expand_grid(tiny_protocol_file.name, methods=["msa"], encoders=["effnet"], tasks=["synth-tags"],
                       overrides={"sources": "drums"}, label_fractions=[0.1])[0]
    assert Path(cell.protocol).is_absolute() and Path(cell.protocol) == tiny_protocol_file
    assert cell.label == "msa[sources=drums]"
    assert cell.run_arguments() == ["--method", "msa", "--encoder", "effnet", "--task", "synth-tags", "--protocol",
                                    cell.protocol, "--seed", "0", "--set", "sources=drums", "--label-fraction", "0.1"]


def test_pretraining_groups_follow_the_checkpoint_identity() -> None:
    """A self-supervised method's tasks share one checkpoint (one group); the supervised baseline
    trains on each task's labels (one group per task); seeds and settings separate groups. The
    groups agree with RunSpec.checkpoint_spec, which names the checkpoints."""
    cells = expand_grid("cpu", methods=["clmr", "supervised"], encoders=["samplecnn"],
                        tasks=["synth-tags", "synth-genre"], seeds=[0, 1])
    groups = pretraining_groups(cells)
    assert len(groups) == 2 * (1 + 2)  # seeds x (clmr: one group; supervised: one per task)
    protocol = load_protocol("cpu")
    for group in groups:
        keys = {str(RunSpec(c.method, c.encoder, protocol, task=c.task, seed=c.seed).checkpoint_spec) for c in group}
        assert len(keys) == 1
    assert GridCell("clmr", "samplecnn", "synth-tags", 0, "cpu").pretraining_group() != GridCell(
        "clmr", "samplecnn", "synth-tags", 0, "cpu", (("temperature", "0.1"),)).pretraining_group()


def test_devices_are_cuda_visible_devices_values() -> None:
    assert [normalise_device(d) for d in ("0", "cuda:1", "CPU")] == ["0", "1", ""]
    with pytest.raises(BenchError, match="GPU indices"):
        normalise_device("gpu0")


@pytest.mark.parametrize("protocol, method, encoder, task", [
    ("clmr-repro", "clmr", "samplecnn", "mtat"), ("cpu-headroom", "supervised", "effnet", "synth-pitch")])
def test_a_cell_names_the_record_its_run_writes_under_a_protocol_with_method_settings(
        protocol: str, method: str, encoder: str, task: str) -> None:
    """A protocol's [method_settings] are its recipe: the run's row (and so its record's file) is
    the method's name, as the grid and `bench status` look it up; before, the grid looked for
    ``clmr`` while the run wrote ``clmr[augment.delay_volume=0.2,...]`` and redid the cell."""
    assert load_protocol(protocol).method_settings[method]
    cell = GridCell(method, encoder, task, 0, protocol)
    assert cell.label == RunSpec(method, encoder, load_protocol(protocol), task).label == method
    departed = GridCell(method, encoder, task, 0, protocol, (("learning_rate", "0.5"),))
    assert departed.label == RunSpec(method, encoder, load_protocol(protocol), task,
                                     overrides={"learning_rate": "0.5"}).label == f"{method}[learning_rate=0.5]"
