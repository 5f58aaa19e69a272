"""`bench table --reported`: each published row sits under the run row that reproduces it; a
reproduction protocol shows only its paper's rows; rows say what sets them apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ssl_music_bench.io import write_json_atomic
from ssl_music_bench.report.records import SCHEMA_VERSION
from ssl_music_bench.report.reported import REPORTED, reported_records
from ssl_music_bench.report.table import render


def record(protocol: str, method: str, encoder: str, task: str, **metrics: float) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "protocol": {"name": protocol}, "method": method,
            "encoder": encoder, "task": task, "seed": 0, "metrics": metrics}


def body(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| method")]


def test_reported_rows_sit_under_their_reproduction() -> None:
    runs = [record("clmr-repro", "clmr[projection_dim=128]", "samplecnn", "mtat", roc_auc=0.88, pr_auc=0.35),
            record("clmr-repro", "random-init", "samplecnn", "mtat", roc_auc=0.80, pr_auc=0.25)]
    rows = body(render(runs + reported_records({"clmr-repro"})))
    names = [row.split(" | ")[0][2:] for row in rows]
    assert names[0] == "clmr[projection_dim=128]"
    assert names[1].startswith("clmr (reported: Spijkervet & Burgoyne, ISMIR 2021; ")
    assert {names[1], names[2], names[3]} == {row.label for row in REPORTED if row.paper == "clmr"
                                             and row.method == "clmr"}
    assert names[4] == "random-init"
    assert not any("Garoufis" in name for name in names)  # a reproduction shows its own paper only
    assert any("softmax" in n for n in names) and any("sigmoid" in n for n in names)
    assert any("pretrained on MSD" in n for n in names)


def test_comparison_protocols_show_every_paper() -> None:
    labels = {r["method"] for r in reported_records({"v1"})}
    assert any("Garoufis" in label for label in labels) and any("Spijkervet" in label for label in labels)
    msd = [r for r in reported_records({"v1"}) if r["task"] == "msd"]
    assert len(msd) == 1 and "pretrained on MSD" in msd[0]["method"]  # never in a row with MTAT-pretrained cells


def test_bench_protocol_show_prints_the_budget_against_the_papers(capsys: pytest.CaptureFixture[str]) -> None:
    from ssl_music_bench.cli import main

    assert main(["protocol", "show", "v1"]) == 0
    out = capsys.readouterr().out
    assert "an equal-budget comparison" in out
    assert "0.52% of its examples (1/194.0)" in out  # CLMR 2.0: 1,940,000 steps at 96
    assert "1.17% of its examples (1/85.3)" in out  # MSCOL: 640,000 steps at 128
    assert "H100" in out and "clmr           samplecnn        0.32 h" in out
    assert main(["protocol", "show", "clmr-repro"]) == 0
    out = capsys.readouterr().out
    assert "100.00% of its examples" in out and "32-true, expect it slower" in out


def test_table_command_with_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ssl_music_bench.cli import main

    write_json_atomic(tmp_path / "mscol-repro" / "a.json",
                      record("mscol-repro", "cola", "effnet", "nsynth", accuracy=0.58))
    assert main(["table", "--records", str(tmp_path), "--reported"]) == 0
    rows = body(capsys.readouterr().out)
    assert rows[0].startswith("| cola | effnet |") and rows[1].startswith("| cola (reported: Garoufis")
    assert "| 59.30 |" in rows[1]
