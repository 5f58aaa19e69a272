"""The leaderboard table and atomic record writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ssl_music_bench.io import write_json_atomic
from ssl_music_bench.report.records import SCHEMA_VERSION, load_records, write_record
from ssl_music_bench.report.table import Cell, render, t95


def record(method: str, encoder: str, task: str, seed: int, **metrics: float) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu"}, "method": method,
            "encoder": encoder, "task": task, "seed": seed, "metrics": metrics}


def test_markdown_table_rows_columns_intervals_and_marks(tmp_path: Path) -> None:
    for r in [
        record("clmr", "samplecnn", "synth-tags", 0, roc_auc=0.80, pr_auc=0.40),
        record("clmr", "samplecnn", "synth-tags", 1, roc_auc=0.90, pr_auc=0.50),
        record("clmr", "effnet", "synth-tags", 0, roc_auc=0.70, pr_auc=0.30),
        record("clmr", "effnet", "synth-genre", 0, accuracy=0.5),
        record("random-init", "effnet", "synth-genre", 0, accuracy=0.9),
    ]:
        write_record(tmp_path, r)
    text = render(load_records(tmp_path / "records"))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| method"))
    assert header == "| method | encoder | synth-genre accuracy | synth-tags pr_auc | synth-tags roc_auc |"
    # mean 85, sd 7.07, n 2: half-width 12.706 * 7.07 / sqrt(2) = 63.53; it overlaps 70 -> effnet tied
    assert "| clmr | samplecnn | - | **45.00 ± 63.53 (n=2)** | **85.00 ± 63.53 (n=2)** |" in lines
    # one seed: no interval, so no tie and no arrow (the baseline never wins, but is the floor)
    assert "| clmr | effnet | **50.00** | 30.00 | 70.00 |" in lines
    assert [line for line in lines if line][-1] == "| random-init | effnet | 90.00 | - | - |"  # baselines last


def test_arrows_mark_cells_clear_of_the_random_init_floor_of_the_same_encoder(tmp_path: Path) -> None:
    rows = {  # (method, encoder) -> accuracy per seed
        ("cola", "effnet"): (0.90, 0.92, 0.91),  # interval 91 ± 2.48, floor 80 ± 2.48: above
        ("cpc", "effnet"): (0.70, 0.72, 0.71),  # below
        ("msa", "effnet"): (0.80, 0.85, 0.75),  # overlaps the floor: no arrow
        ("cola", "samplecnn"): (0.90, 0.92, 0.91),  # no random-init row for samplecnn: no arrow
        ("random-init", "effnet"): (0.79, 0.81, 0.80),
        ("supervised", "effnet"): (0.99, 0.98, 0.97),  # baselines get no arrow
    }
    for (method, encoder), values in rows.items():
        for seed, value in enumerate(values):
            write_record(tmp_path, record(method, encoder, "synth-genre", seed, accuracy=value))
    lines = render(load_records(tmp_path / "records")).splitlines()
    by_row = {tuple(line.split(" | ")[:2]): line for line in lines if line.startswith("| ")}
    assert by_row[("| cola", "effnet")].endswith("(n=3)** ↑ |")
    assert by_row[("| cpc", "effnet")].endswith("(n=3) ↓ |")
    assert by_row[("| msa", "effnet")].endswith("(n=3)* |")
    assert by_row[("| cola", "samplecnn")].endswith("(n=3)* |")
    assert "↑" not in by_row[("| supervised", "effnet")] and "↓" not in by_row[("| random-init", "effnet")]
    latex = render(load_records(tmp_path / "records"), "latex")
    assert "$\\uparrow$" in latex and "$\\downarrow$" in latex
    assert "↑" not in render(load_records(tmp_path / "records"), "csv")


def test_row_kinds_come_from_the_records_flags_with_the_registry_for_old_records() -> None:
    def seeds(method: str, encoder: str, accuracy: float, **extra: Any) -> list[dict[str, Any]]:
        return [record(method, encoder, "synth-genre", seed, accuracy=accuracy + seed / 1000) | extra
                for seed in (0, 1)]

    rows = [
        *seeds("clmr", "effnet", 0.60),
        *seeds("my-floor", "effnet", 0.90, baseline="floor"),  # flagged records
        *seeds("clmr", "samplecnn", 0.50),
        *seeds("random-init", "samplecnn", 0.10),  # no flag: the registry says floor
        *seeds("clmr", "other", 0.40),
        *seeds("random-init[x=1]", "other", 0.99),  # not run as registered: no arrows
        record("clmr", "effnet", "synth-genre", 0, accuracy=0.99) | {"method": "ours (published)", "reported": True},
    ]
    body = [line.replace(" ± 0.64 (n=2)", "") for line in render(rows).splitlines()
            if line.startswith("| ") and not line.startswith("| method")]
    assert body == [
        "| clmr | effnet | **60.05** ↓ |",
        "| clmr | other | 40.05 |",
        "| clmr | samplecnn | 50.05 ↑ |",
        "| my-floor | effnet | 90.05 |",  # baselines never win, and come after the contenders
        "| random-init | samplecnn | 10.05 |",
        "| random-init[x=1] | other | 99.05 |",
        "| ours (published) | effnet | 99.00 |",  # published rows last
    ]


def test_confidence_interval_and_ties_against_scipy() -> None:
    from scipy import stats

    for df in (1, 2, 5, 10, 30):
        assert abs(t95(df) - stats.t.ppf(0.975, df)) < 1e-3
    values = (81.0, 83.0, 86.0, 84.0)
    cell = Cell(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert abs(cell.half_width - (high - low) / 2) < 1e-2
    assert Cell((70.0, 72.0)).overlaps(Cell((80.0, 82.0)))  # wide intervals with two seeds
    assert not Cell((70.0, 70.5, 70.2)).overlaps(Cell((80.0, 80.4, 80.1)))


def test_csv_latex_and_empty() -> None:
    assert "No run records yet" in render([])
    rows = [record("clmr", "effnet", "synth-genre", 0, accuracy=0.25)]
    assert render(rows, "csv").splitlines() == ["protocol,protocol_version,corpus_version,method,encoder,synth-genre accuracy",
                                                "cpu,1,1,clmr,effnet,25.00"]
    latex = render(rows, "latex")
    assert "\\begin{tabular}{llr}" in latex and "clmr & effnet & \\textbf{25.00} \\\\" in latex


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


def test_reported_rows_and_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ssl_music_bench.cli import main

    board = tmp_path / "leaderboard"
    for r in [record("cola", "effnet", "nsynth", 0, accuracy=0.61), record("cola", "effnet", "nsynth", 1, accuracy=0.63)]:
        write_json_atomic(board / "records" / f"{r['seed']}.json", r)
    monkeypatch.chdir(tmp_path)
    assert main(["table", "--write", "--reported"]) == 0
    text = (board / "LEADERBOARD.md").read_text()
    ours = next(line for line in text.splitlines() if line.startswith("| cola | effnet |"))
    theirs = next(line for line in text.splitlines() if line.startswith("| cola (reported: Garoufis"))
    assert "**62.00 ± 12.71 (n=2)**" in ours and "| 59.30 |" in theirs  # reported rows never win
    assert text.index("| cola | effnet") < text.index("(reported:")  # published rows come last
    assert main(["table", "--records", str(board / "records"), "--task", "synth-tags"]) == 0
    assert "No run records yet" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path / "leaderboard")
    assert main(["table", "--write"]) == 2  # not at the repository root
