"""Data on stdout, messages on stderr, and quoted paths and docstrings printed as text, not rich markup."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.report.records import SCHEMA_VERSION, write_record


def write_one_record(home: Path) -> None:
    write_record(home, {"schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu"}, "method": "clmr",
                        "encoder": "effnet", "task": "synth-genre", "seed": 0, "metrics": {"accuracy": 0.5}})


def test_plot_messages_quote_paths_literally_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_one_record(tmp_path)
    out = tmp_path / "[bold]plots[/]"
    assert main(["plot", "--home", str(tmp_path), "--out", str(out), "--task", "synth-genre"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and f"wrote {out / 'loss_curves.png'}" in captured.err


def test_plot_into_a_file_is_one_paragraph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_one_record(tmp_path)
    blocker = tmp_path / "plots"
    blocker.write_text("mine")
    assert main(["plot", "--home", str(tmp_path), "--out", str(blocker)]) == 2
    assert "is a file" in capsys.readouterr().err and blocker.read_text() == "mine"


def test_table_write_message_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_one_record(tmp_path / "[x]")
    records = tmp_path / "[x]" / "records"
    assert main(["table", "--write", "--records", str(records)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and f"wrote {tmp_path / '[x]' / 'LEADERBOARD.md'}" in captured.err


def test_list_prints_a_plugins_docstring_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin = tmp_path / "markup.py"
    plugin.write_text(textwrap.dedent('''
        from ssl_music_bench import register_task
        from ssl_music_bench.contracts.task import Task

        @register_task("test-markup-task")
        class Markup(Task):
            """Tags [/] and [bold]loud[/bold] songs."""
            kind = "multiclass"
    '''))
    try:
        assert main(["list", "--plugin", str(plugin)]) == 0
        assert "Tags [/] and [bold]loud[/bold] songs." in capsys.readouterr().out
    finally:
        TASKS.unregister("test-markup-task")
