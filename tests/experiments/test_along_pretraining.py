"""Probing along pretraining: weights kept every N steps (train/snapshots.py), each probed, the
record's ``along_pretraining`` curve, and `bench plot` drawing it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol, parse_protocol
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate.cache import cache_entries
from ssl_music_bench.train.snapshots import probing_every, snapshot_steps, snapshots_directory

RUN = ["run", "--method", "cola", "--encoder", "test-tiny-mel", "--task", "synth-genre", "--no-progress"]


def test_snapshot_steps() -> None:
    assert snapshot_steps(20, 5) == [5, 10, 15]  # the final weights (step 20) are the checkpoint
    assert snapshot_steps(20, 0) == [] and snapshot_steps(20, 30) == []
    assert snapshot_steps(7, 3) == [3, 6]


def test_the_option_and_the_protocol_setting_are_checked() -> None:
    protocol = load_protocol("cpu")
    assert probing_every(protocol, 5).pretrain.probe_every == 5
    assert probing_every(protocol, 5).sha256 == protocol.sha256  # same weights, same checkpoint
    assert probing_every(protocol, None) is protocol
    with pytest.raises(BenchError, match="--probe-every -1"):
        probing_every(protocol, -1)
    text = Path(str(load_protocol.__code__.co_filename)).parent.joinpath("protocols", "cpu.toml").read_text()
    def with_line(line: str) -> str:  # the line in [pretrain], right after its header
        return text.replace("[pretrain]\n", f"[pretrain]\n{line}\n", 1)

    assert parse_protocol(with_line("probe_every = 5")).pretrain.probe_every == 5
    with pytest.raises(BenchError, match="pretrain.probe_every"):
        parse_protocol(with_line("probe_every = -5"))


def test_a_run_probes_its_snapshots_and_the_plot_draws_the_curve(
    home: Path, shared_home: Path, tiny_protocol_file: Path, tiny_encoder: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home.mkdir(parents=True)
    (home / "data").symlink_to(shared_home / "data", target_is_directory=True)  # the corpus, generated once
    (shared_home / "data").mkdir(exist_ok=True)
    protocol = ["--protocol", str(tiny_protocol_file), "--home", str(home)]
    assert main([*RUN, *protocol]) == 0  # first without: a checkpoint with no snapshots
    plain = json.loads(next((home / "records").rglob("*.json")).read_text())
    assert "along_pretraining" not in plain
    capsys.readouterr()
    assert main([*RUN, *protocol, "--probe-every", "1"]) == 0
    err = capsys.readouterr().err
    assert "again to keep its weights every 1 steps" in err and "phase: probing along pretraining" in err
    record = json.loads(next((home / "records").rglob("*.json")).read_text())
    along = record["along_pretraining"]
    assert [point["step"] for point in along] == [1, 2]
    assert along[-1]["metrics"] == record["metrics"] == plain["metrics"]  # the same seeded pretraining
    assert record["pretraining"]["weights_sha256"] == plain["pretraining"]["weights_sha256"]
    assert set(along[0]["metrics"]) == set(record["metrics"])
    snapshots = list(snapshots_directory(home / "checkpoints" / record["pretraining"]["checkpoint"]).iterdir())
    assert sorted(path.name for path in snapshots) == ["spec.json", "step-000000001"]
    assert "snapshots" in {entry.kind for entry in cache_entries(home)}  # `bench cache` sees and clears them
    capsys.readouterr()
    assert main([*RUN, *protocol, "--probe-every", "1"]) == 0  # all kept: reused, nothing trained
    assert "reusing" in capsys.readouterr().err
    out = tmp_path / "plots"
    assert main(["plot", "--home", str(home), "--out", str(out), "--task", "synth-genre", "--metric", "accuracy"]) == 0
    assert (out / "along_pretraining_synth-genre.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
