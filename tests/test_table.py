"""The leaderboard table and atomic record writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ssl_music_bench.records import SCHEMA_VERSION, load_records, write_json_atomic, write_record
from ssl_music_bench.table import render


def record(method: str, encoder: str, task: str, seed: int, **metrics: float) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu"}, "method": method,
            "encoder": encoder, "task": task, "seed": seed, "metrics": metrics}


def test_markdown_table_rows_columns_and_means(tmp_path: Path) -> None:
    for r in [
        record("clmr", "samplecnn", "synth-tags", 0, roc_auc=0.80, pr_auc=0.40),
        record("clmr", "samplecnn", "synth-tags", 1, roc_auc=0.90, pr_auc=0.50),
        record("clmr", "effnet", "synth-tags", 0, roc_auc=0.70, pr_auc=0.30),
        record("clmr", "effnet", "synth-genre", 0, accuracy=0.5),
    ]:
        write_record(tmp_path, r)
    text = render(load_records(tmp_path / "records"))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| method"))
    assert header == "| method | encoder | synth-genre accuracy | synth-tags pr_auc | synth-tags roc_auc |"
    assert "| clmr | effnet | 50.00 | 30.00 | 70.00 |" in lines
    assert "| clmr | samplecnn | - | 45.00 ± 7.07 (n=2) | 85.00 ± 7.07 (n=2) |" in lines


def test_csv_and_empty() -> None:
    assert "No run records yet" in render([])
    csv_text = render([record("clmr", "effnet", "synth-genre", 0, accuracy=0.25)], "csv")
    assert csv_text.splitlines() == ["protocol,method,encoder,synth-genre accuracy", "cpu,clmr,effnet,25.00"]


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": 1})

    class Unserialisable:
        def __str__(self) -> str:
            raise KeyboardInterrupt  # an interruption in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(path, {"a": Unserialisable()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
