"""A failure while noting a failure keeps the first error: the user sees it, and one line about the note."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.report import status
from ssl_music_bench.report.status import clear_failure, failure_path, note_failure

CELL = ("clmr", "effnet", "synth-tags", 0, load_protocol("cpu"))


def test_a_full_disk_while_writing_the_note_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    def full_disk(path: Path, document: dict) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(status, "write_json_atomic", full_disk)
    note_failure(tmp_path, *CELL, RuntimeError("the original error"))  # does not raise
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not be written" in err and "No space left" in err


def test_bench_run_shows_the_original_error_when_the_note_folder_is_blocked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import ssl_music_bench.run

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the original error")

    monkeypatch.setattr(ssl_music_bench.run, "run_benchmark", crash)
    blocked = failure_path(tmp_path, *CELL).parent
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the notes folder would be")  # an unwritable folder, even for root
    with pytest.raises(RuntimeError, match="the original error"):
        main(["run", "--method", "clmr", "--encoder", "effnet", "--task", "synth-tags", "--protocol", "cpu",
              "--home", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert "the failure note for `bench status` could not be written" in err
    assert blocked.read_text() == "a file where the notes folder would be"  # nothing of the user's was touched


def test_a_note_that_cannot_be_removed_after_success_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    note_failure(tmp_path, *CELL, RuntimeError("earlier"))

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refuse)
    clear_failure(tmp_path, *CELL)  # does not raise
    assert "could not be removed" in capsys.readouterr().err
