"""`bench status`: an unreadable record is never done; a broken failure note still marks its cell failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.data.synthetic_corpus import current_corpus_version
from ssl_music_bench.report.records import SCHEMA_VERSION, record_path, write_record
from ssl_music_bench.report.status import failure_path, grid, render_status

CELL = ("clmr", "effnet", "synth-tags", 0, load_protocol("cpu"))

CPU_VERSION = load_protocol("cpu").version  # a record made today under cpu


def cells(home: Path) -> dict[tuple[str, str, int], object]:
    return {(c.method, c.encoder, c.seed): c for c in grid(home, load_protocol("cpu"), ["synth-tags"], [0])}


def valid_record() -> dict:
    return {"schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu", "version": CPU_VERSION}, "method": "clmr", "encoder": "effnet",
            "task": "synth-tags", "seed": 0, "metrics": {"roc_auc": 0.8},
            "dataset": {"corpus_version": current_corpus_version("synth-tags")}}


@pytest.mark.parametrize("content", [b"", b'{"schema_version": 1, "metr', b"\xff\x00garbage", b'{"method": "clmr"}'])
def test_an_unreadable_record_is_failed_not_done(tmp_path: Path, content: bytes) -> None:
    path = write_record(tmp_path, valid_record())
    assert cells(tmp_path)[("clmr", "effnet", 0)].state == "done"
    path.write_bytes(content)
    cell = cells(tmp_path)[("clmr", "effnet", 0)]
    assert cell.state == "failed" and "unreadable" in cell.detail and str(path) in cell.detail


@pytest.mark.parametrize("content", [b"not json", b"[]", b'{"error": 3}', b"\xff\xfe"])
def test_a_broken_failure_note_still_marks_the_cell_failed(tmp_path: Path, content: bytes,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    note = failure_path(tmp_path, *CELL)
    note.parent.mkdir(parents=True)
    note.write_bytes(content)
    cell = cells(tmp_path)[("clmr", "effnet", 0)]
    assert cell.state == "failed" and "failure note" in cell.detail
    assert main(["status", "--home", str(tmp_path), "--task", "synth-tags", "--seeds", "0"]) == 0
    captured = capsys.readouterr()
    assert "# failed: clmr effnet synth-tags seed 0: the failure note" in captured.out and captured.err == ""


def test_a_note_cannot_add_lines_to_the_listing(tmp_path: Path) -> None:
    note = failure_path(tmp_path, *CELL)
    note.parent.mkdir(parents=True)
    note.write_text(json.dumps({"error": "RuntimeError: x\nbench run --method evil"}))
    protocol = load_protocol("cpu")
    text = render_status(grid(tmp_path, protocol, ["synth-tags"], [0]), protocol, ["synth-tags"], [0])
    assert "# failed: clmr effnet synth-tags seed 0: RuntimeError: x bench run --method evil" in text
    assert not any(line.startswith("bench run --method evil") for line in text.splitlines())


def test_bad_seeds_are_refused_by_the_parser(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for seeds in ("a,b", "-1", ","):
        with pytest.raises(SystemExit) as exit_:
            main(["status", "--home", str(tmp_path), "--seeds", seeds])
        assert exit_.value.code == 2 and "a seed is a whole number" in capsys.readouterr().err
    assert not record_path(tmp_path, valid_record()).exists()
