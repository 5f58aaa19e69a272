"""A run on a new synthetic corpus never overwrites the record of the same cell on the old one,
lookups (`bench status`, the grid) find the run made on today's corpus, and two records of one
run are counted once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION, current_corpus_version
from ssl_music_bench.errors import BenchError
from ssl_music_bench.grid.cells import GridCell
from ssl_music_bench.grid.worker import cell_record_path
from ssl_music_bench.report.records import SCHEMA_VERSION, load_records, record_path, write_record
from ssl_music_bench.report.status import cell_state

CPU = load_protocol("cpu")


def record(version: int | None, created: str = "2026-12-01T10:00:00+00:00", value: float = 0.8) -> dict:
    dataset = {} if version is None else {"corpus_version": version}
    return {"schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu", "version": 1}, "method": "clmr", "encoder": "effnet",
            "task": "synth-tags", "seed": 0, "metrics": {"roc_auc": value}, "created": created, "dataset": dataset}


def test_each_corpus_version_has_its_own_record_file(tmp_path: Path) -> None:
    old = write_record(tmp_path, record(None))  # written before records named their corpus: version 1
    first = write_record(tmp_path, record(1))
    second = write_record(tmp_path, record(2))
    assert old == first and old.name == "clmr__effnet__synth-tags__seed0.json"  # version 1 keeps its name
    assert second.name == "clmr__effnet__synth-tags__seed0__corpus2.json"
    assert json.loads(first.read_text())["dataset"] == {"corpus_version": 1}  # not overwritten by version 2
    real = {**record(None), "task": "gtzan", "dataset": {"corpus_version": None}}
    assert record_path(tmp_path, real).name == "clmr__effnet__gtzan__seed0.json"
    with pytest.raises(BenchError, match="corpus version is a whole number"):
        record_path(tmp_path, record("2"))  # type: ignore[arg-type]


def test_lookups_find_the_run_on_todays_corpus(tmp_path: Path) -> None:
    assert current_corpus_version("synth-tags") == SYNTH_VERSION and current_corpus_version("mtat") is None
    cell = GridCell("clmr", "effnet", "synth-tags", 0, "cpu")
    todays_protocol = {"protocol": {"name": "cpu", "version": CPU.version}}
    write_record(tmp_path, {**record(SYNTH_VERSION - 1), **todays_protocol})  # the old corpus's run: not today's
    assert cell_record_path(cell, tmp_path) is None
    assert cell_state(tmp_path, "clmr", "effnet", "synth-tags", 0, CPU).state == "missing"
    today = write_record(tmp_path, {**record(SYNTH_VERSION), **todays_protocol})
    assert cell_record_path(cell, tmp_path) == today
    assert cell_state(tmp_path, "clmr", "effnet", "synth-tags", 0, CPU).state == "done"


def test_two_records_of_one_run_count_once_and_neither_is_deleted(tmp_path: Path) -> None:
    newer = write_record(tmp_path, record(2, created="2026-12-01T12:00:00+00:00", value=0.7))
    stale = newer.with_name("clmr__effnet__synth-tags__seed0.json")  # a version-2 run under the old name
    stale.write_text(json.dumps(record(2, created="2026-12-01T09:00:00+00:00", value=0.9)))
    write_record(tmp_path, {**record(2), "seed": 1})
    warnings: list[str] = []
    loaded = load_records(tmp_path / "records", warnings.append)
    assert sorted((r["seed"], r["metrics"]["roc_auc"]) for r in loaded) == [(0, 0.7), (1, 0.8)]
    assert len(warnings) == 1 and str(stale) in warnings[0] and "same run" in warnings[0]
    assert stale.exists() and newer.exists()
