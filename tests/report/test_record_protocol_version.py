"""A new version of a protocol is a new set of runs: its records never overwrite, and are never
counted with, those of the old version; `bench status` and the grid look for today's version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
from ssl_music_bench.errors import BenchError
from ssl_music_bench.grid.cells import GridCell
from ssl_music_bench.grid.worker import cell_record_path
from ssl_music_bench.report.records import SCHEMA_VERSION, load_records, record_path, recorded_path, write_record
from ssl_music_bench.report.status import cell_state
from ssl_music_bench.report.table import render

CPU = load_protocol("cpu")


def record(protocol_version: int | None, value: float = 0.5, seed: int = 0) -> dict:
    protocol = {"name": "cpu"} if protocol_version is None else {"name": "cpu", "version": protocol_version}
    return {"schema_version": SCHEMA_VERSION, "protocol": protocol, "method": "cola", "encoder": "effnet",
            "task": "synth-genre", "seed": seed, "metrics": {"accuracy": value},
            "created": "2026-12-01T10:00:00+00:00", "dataset": {"corpus_version": SYNTH_VERSION}}


def test_each_protocol_version_has_its_own_record_file(tmp_path: Path) -> None:
    first = write_record(tmp_path, record(1, 0.3))
    assert first == write_record(tmp_path, record(None, 0.3))  # no version stored: version 1, its old name
    second = write_record(tmp_path, record(2, 0.6))
    assert first.name == f"cola__effnet__synth-genre__seed0__corpus{SYNTH_VERSION}.json"
    assert second.name == f"cola__effnet__synth-genre__seed0__corpus{SYNTH_VERSION}__protocol2.json"
    assert json.loads(first.read_text())["metrics"] == {"accuracy": 0.3}  # not overwritten by version 2
    with pytest.raises(BenchError, match="protocol version is a whole number"):
        record_path(tmp_path, record(0))


def test_versions_get_separate_tables_and_both_runs_are_kept(tmp_path: Path) -> None:
    write_record(tmp_path, record(1, 0.3))
    write_record(tmp_path, record(2, 0.6))
    warnings: list[str] = []
    records = load_records(tmp_path / "records", warnings.append)
    assert len(records) == 2 and warnings == []  # two runs, not one run recorded twice
    text = render(records)
    titles = [line for line in text.splitlines() if line.startswith("### ")]
    assert titles == [f"### Protocol `cpu` version 2 · synthetic corpus v{SYNTH_VERSION}",  # the newest first
                      f"### Protocol `cpu` · synthetic corpus v{SYNTH_VERSION}"]
    new, old = text.split("### ")[1:]
    assert "30.00" in old and "60.00" not in old and "60.00" in new and "30.00" not in new


def test_lookups_find_the_run_of_todays_protocol_version(tmp_path: Path) -> None:
    assert CPU.version >= 2  # cpu version 2 recomputes the batch-norm statistics
    cell = GridCell("cola", "effnet", "synth-genre", 0, "cpu")
    write_record(tmp_path, record(CPU.version - 1))  # a run of the previous version: not today's
    assert cell_record_path(cell, tmp_path) is None
    assert cell_state(tmp_path, "cola", "effnet", "synth-genre", 0, CPU).state == "missing"
    today = write_record(tmp_path, record(CPU.version))
    assert cell_record_path(cell, tmp_path) == today
    assert cell_state(tmp_path, "cola", "effnet", "synth-genre", 0, CPU).state == "done"


def test_a_run_recorded_before_the_version_entered_the_name_is_found(tmp_path: Path) -> None:
    """A version-2 record written under the name without the version (before this naming) counts
    as done for version 2, so the grid does not make it again; a version-1 record under that
    name does not."""
    identity = record(2)
    unversioned = record_path(tmp_path, record(1))
    unversioned.parent.mkdir(parents=True)
    unversioned.write_text(json.dumps(record(1)))
    assert recorded_path(tmp_path, identity) == record_path(tmp_path, identity)  # not the version-1 run
    unversioned.write_text(json.dumps(identity))
    assert recorded_path(tmp_path, identity) == unversioned
