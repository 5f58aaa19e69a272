"""`--plugin FILE`: files with the same stem in different folders both load; one file loads once."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from ssl_music_bench.contracts.registry import METHODS, TASKS, load_plugin_file, plugin_module_name


def write_plugin(folder: Path, task_name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plugin.py"
    path.write_text(textwrap.dedent(f'''
        from ssl_music_bench import register_task
        from ssl_music_bench.contracts.task import Task

        @register_task("{task_name}")
        class PluginTask(Task):
            """A task from a user's file."""
            kind = "multiclass"
    '''))
    return path


def test_same_stem_in_two_folders_loads_both(tmp_path: Path) -> None:
    first, second = write_plugin(tmp_path / "a", "test-stem-a"), write_plugin(tmp_path / "b", "test-stem-b")
    try:
        load_plugin_file(first)
        load_plugin_file(second)
        assert "test-stem-a" in TASKS and "test-stem-b" in TASKS
        assert plugin_module_name(first) != plugin_module_name(second)
    finally:
        TASKS.unregister("test-stem-a")
        TASKS.unregister("test-stem-b")


def test_loading_one_path_twice_is_a_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_plugin(tmp_path / "once", "test-once")
    monkeypatch.chdir(tmp_path)
    try:
        load_plugin_file(path)
        load_plugin_file(path)  # would raise "already registered" if the file ran again
        load_plugin_file(Path("once") / ".." / "once" / "plugin.py")  # the same file by another spelling
        assert TASKS.names("test-once") == ["test-once"]
    finally:
        TASKS.unregister("test-once")


def test_the_example_plugin_still_loads(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "time_shift_contrast.py"
    try:
        load_plugin_file(example)
        load_plugin_file(Path(os.path.relpath(example)))
        assert "time-shift" in METHODS
    finally:
        METHODS.unregister("time-shift")
