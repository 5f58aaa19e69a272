"""`bench status`: done, missing and failed cells, and the commands that fill the holes."""

from __future__ import annotations

from pathlib import Path

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
from ssl_music_bench.report.records import SCHEMA_VERSION, write_record
from ssl_music_bench.report.status import clear_failure, grid, note_failure, render_status

CPU_VERSION = load_protocol("cpu").version  # a record made today under cpu


def test_grid_states_and_commands(tmp_path: Path) -> None:
    protocol = load_protocol("cpu")
    write_record(tmp_path, {"schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu", "version": CPU_VERSION}, "method": "clmr",
                            "encoder": "effnet", "task": "synth-tags", "seed": 0, "metrics": {},
                            "dataset": {"corpus_version": SYNTH_VERSION}})
    note_failure(tmp_path, "cola", "effnet", "synth-tags", 1, protocol, RuntimeError("out of memory"))
    cells = {(c.method, c.encoder, c.task, c.seed): c for c in grid(tmp_path, protocol, ["synth-tags"], [0, 1])}
    assert cells[("clmr", "effnet", "synth-tags", 0)].state == "done"
    assert cells[("clmr", "effnet", "synth-tags", 1)].state == "missing"
    assert cells[("cola", "effnet", "synth-tags", 1)].state == "failed"
    assert ("cola-mws", "samplecnn", "synth-tags", 0) not in cells  # incompatible pairs are not holes
    text = render_status(list(cells.values()), protocol, ["synth-tags"], [0, 1])
    assert "clmr effnet" in text and "✓·" in text
    assert "bench run --method clmr --encoder effnet --task synth-tags --protocol cpu --seed 1" in text
    assert "# failed: cola effnet synth-tags seed 1: RuntimeError: out of memory" in text
    clear_failure(tmp_path, "cola", "effnet", "synth-tags", 1, protocol)
    assert all(c.state != "failed" for c in grid(tmp_path, protocol, ["synth-tags"], [0, 1]))


def test_runs_outside_the_grid_are_listed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from ssl_music_bench.cli import main

    def record(method: str, task: str = "synth-tags", seed: int = 0, **extra: object) -> dict:
        return {"schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu", "version": CPU_VERSION}, "method": method, "encoder": "samplecnn",
                "task": task, "seed": seed, "metrics": {}, "dataset": {"corpus_version": SYNTH_VERSION}, **extra}

    write_record(tmp_path, record("clmr"))  # in the grid: a ✓, not listed again
    write_record(tmp_path, record("clmr[augment.pitch_p=0]"))
    write_record(tmp_path, record("clmr[augment.pitch_p=0]", seed=3))
    write_record(tmp_path, record("clmr", label_fraction=0.01))
    write_record(tmp_path, {**record("clmr (released 2.0)", task="synth-genre"), "dataset": {"corpus_version": 1}})
    assert main(["status", "--home", str(tmp_path), "--task", "synth-tags", "--seeds", "0"]) == 0
    out = capsys.readouterr().out
    listed = out.split("also recorded under this protocol")[1].splitlines()[1:]
    assert listed == ["clmr samplecnn synth-tags@0.01: seed 0", "clmr[augment.pitch_p=0] samplecnn synth-tags: seeds 0, 3"]
    # the old corpus's record is not one of today's runs
