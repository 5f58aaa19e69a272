"""Names that become parts of paths: the registry refuses unsafe ones, record and note paths stay inside the home."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import ENCODERS, METHODS, TASKS, load_plugin_file
from ssl_music_bench.errors import BenchError
from ssl_music_bench.report.records import record_path
from ssl_music_bench.report.status import note_failure


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "a b", "x" * 65])
@pytest.mark.parametrize("registry", [METHODS, ENCODERS, TASKS])
def test_the_registry_refuses_unsafe_names(registry, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BenchError, match=f"The {registry.kind} name .* cannot be used: .*letters, digits"):
        registry.register(name)
    assert name not in registry


def test_a_plugin_registering_an_escaping_name_is_refused(tmp_path: Path, home: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    plugin = tmp_path / "escape.py"
    plugin.write_text(textwrap.dedent('''
        from ssl_music_bench import register_task
        from ssl_music_bench.contracts.task import Task

        @register_task("../escape")
        class Escape(Task):
            """Would write its records above the records folder."""
            kind = "multiclass"
    '''))
    with pytest.raises(BenchError, match="'../escape' cannot be used"):
        load_plugin_file(plugin)
    assert "../escape" not in TASKS
    code = main(["run", "--plugin", str(plugin), "--method", "clmr", "--encoder", "effnet", "--task", "../escape"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot be used" in err and "Traceback" not in err


@pytest.mark.parametrize(("key", "value"), [("encoder", "../../x"), ("task", "a/b"), ("protocol", ".."),
                                            ("seed", "0/../../x"), ("method", "../..")])
def test_record_paths_refuse_unsafe_parts(tmp_path: Path, key: str, value: str) -> None:
    record = {"method": "clmr", "encoder": "effnet", "task": "synth-tags", "seed": 0, "protocol": {"name": "cpu"}}
    assert record_path(tmp_path, record) == tmp_path / "records" / "cpu" / "clmr__effnet__synth-tags__seed0.json"
    record = {**record, "protocol": {"name": value}} if key == "protocol" else {**record, key: value}
    if key == "method":  # a label's unsafe characters become "_", as before; one starting with "." is refused
        with pytest.raises(BenchError, match="cannot name a record file"):
            record_path(tmp_path, record)
        label = {**record, "method": "clmr[x=../../y]"}
        assert record_path(tmp_path, label).relative_to(tmp_path) == Path(
            "records/cpu/clmr_x_.._.._y__effnet__synth-tags__seed0.json")
        return
    with pytest.raises(BenchError):
        record_path(tmp_path, record)


def test_a_failure_note_for_an_unsafe_name_is_not_written_and_hides_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note_failure(tmp_path / "home", "clmr", "effnet", "../../outside", 0, load_protocol("cpu"), RuntimeError("boom"))
    assert "could not be written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == []  # nothing anywhere, inside or outside the home
