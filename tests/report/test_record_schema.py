"""Records are checked against their schema when read: invalid ones are reported on stderr and left out."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.report.records import SCHEMA_VERSION, load_records, record_problem, write_record
from ssl_music_bench.report.status import note_failure


def record(encoder: str = "effnet", seed: int = 0, **changes: Any) -> dict[str, Any]:
    document = {"schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu"}, "method": "clmr", "encoder": encoder,
                "task": "synth-genre", "seed": seed, "metrics": {"accuracy": 0.5}}
    return {**document, **changes}


def write_invalid_records(folder: Path) -> dict[str, str]:
    """One file per way a record goes bad; file name -> what the warning must say."""
    folder.mkdir(parents=True, exist_ok=True)
    missing = record()
    del missing["metrics"]
    bad = {
        "missing-metrics.json": (json.dumps(missing), 'no "metrics"'),
        "seed-text.json": (json.dumps(record(seed="zero")), '"seed" is'),  # type: ignore[arg-type]
        "nan-metric.json": (json.dumps(record(metrics={"accuracy": float("nan")})), "finite numbers"),
        "array.json": ("[1, 2]", "JSON list"),
        "truncated.json": (json.dumps(record())[:40], "JSONDecodeError"),
        "flipped.json": (b"\xff\xfe" + json.dumps(record()).encode()[2:], "UnicodeDecodeError"),
        "old-schema.json": (json.dumps(record(schema_version=0)), "schema_version is 0"),
        "bad-curve.json": (json.dumps(record(pretraining={"loss_curve": [[1]]})), "loss_curve"),
        "bad-baseline.json": (json.dumps(record(baseline="top")), '"baseline"'),
    }
    for name, (content, _) in bad.items():
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return {name: reason for name, (_, reason) in bad.items()}


def test_invalid_records_are_reported_and_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_record(tmp_path, record())
    reasons = write_invalid_records(tmp_path / "records" / "cpu")
    note_failure(tmp_path, "cola", "effnet", "synth-genre", 0, load_protocol("cpu"), RuntimeError("out of memory"))
    records = load_records(tmp_path / "records")
    assert [r["encoder"] for r in records] == ["effnet"]
    captured = capsys.readouterr()
    assert captured.out == ""
    warnings = captured.err.splitlines()
    assert len(warnings) == len(reasons)  # the failure note is no record and no warning
    for name, reason in reasons.items():
        line = next(w for w in warnings if name in w)
        assert line.startswith("warning: skipping") and reason in line


def test_bench_table_csv_holds_only_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_record(tmp_path, record("effnet"))
    write_record(tmp_path, record("samplecnn"))
    write_invalid_records(tmp_path / "records" / "cpu")
    assert main(["table", "--format", "csv", "--home", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    rows = list(csv.reader(io.StringIO(captured.out)))
    assert rows[0][:4] == ["protocol", "protocol_version", "corpus_version", "method"] and len(rows) == 3
    assert {row[4] for row in rows[1:]} == {"effnet", "samplecnn"}
    assert "warning: skipping" in captured.err and "Traceback" not in captured.err


def test_bench_plot_skips_invalid_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_record(tmp_path, record(pretraining={"loss_curve": [[1, 2.0], [2, 1.5]]}))
    write_invalid_records(tmp_path / "records" / "cpu")
    out = tmp_path / "plots"
    assert main(["plot", "--home", str(tmp_path), "--out", str(out), "--task", "synth-genre"]) == 0
    assert (out / "loss_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "warning: skipping" in capsys.readouterr().err


def test_published_records_are_valid() -> None:
    leaderboard = Path(__file__).resolve().parents[2] / "leaderboard" / "records"
    documents = [json.loads(path.read_text()) for path in sorted(leaderboard.rglob("*.json"))]
    assert documents and all(record_problem(document) == "" for document in documents)
