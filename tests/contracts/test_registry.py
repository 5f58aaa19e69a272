"""The generic registry: decorators, duplicates, wildcards, built-ins, plugins."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ssl_music_bench
from ssl_music_bench import BenchError, Registry, list_encoders, list_methods, list_tasks
from ssl_music_bench.contracts.compatibility import check_compatible, compatible_encoders

REPO = Path(__file__).resolve().parents[2]


def test_register_get_and_wildcards() -> None:
    registry: Registry[object] = Registry("widget")

    @registry.register("alpha-one", paper="X 2020")
    class AlphaOne:
        """First line is the description.

        More text."""

    registry.register("alpha-two")(object)
    registry.register("beta")(object)
    assert registry.get("alpha-one").obj is AlphaOne
    assert registry.get("alpha-one").metadata == {"paper": "X 2020"}
    assert registry.get("alpha-one").description == "First line is the description."
    assert registry.names("alpha-*") == ["alpha-one", "alpha-two"]
    assert registry.names() == ["alpha-one", "alpha-two", "beta"]


def test_method_metadata_is_declared_once_at_registration() -> None:
    """paper and baseline come from the decorator and are read back from the registry entry."""
    from ssl_music_bench.contracts.registry import METHODS

    assert ssl_music_bench.get_method("random-init").baseline == "floor"
    assert ssl_music_bench.get_method("supervised").baseline == "ceiling"
    assert ssl_music_bench.get_method("clmr").baseline is None
    assert ssl_music_bench.get_method("clmr").paper == "Spijkervet & Burgoyne, ISMIR 2021"
    assert "Tan & Le" in ssl_music_bench.get_encoder("effnet").paper
    assert not hasattr(ssl_music_bench.get_method("clmr").obj, "paper")  # no second source
    with pytest.raises(BenchError, match="baseline must be one of 'floor', 'ceiling'"):
        ssl_music_bench.register_method("test-bad-baseline", baseline="ceil")  # type: ignore[arg-type]
    assert "test-bad-baseline" not in METHODS


def test_plugin_api_is_importable_from_the_top_level() -> None:
    from ssl_music_bench import Encoder, Method, Task, TaskData
    from ssl_music_bench.contracts.method import Method as ContractMethod

    assert Method is ContractMethod and {Encoder.__name__, Task.__name__, TaskData.__name__} == {
        "Encoder", "Task", "TaskData"}
    code = "import sys, ssl_music_bench; print('torch' in sys.modules)"  # the contracts load on first use
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_duplicate_name_raises() -> None:
    registry: Registry[object] = Registry("widget")
    registry.register("same")(int)
    with pytest.raises(BenchError, match='already registered'):
        registry.register("same")(float)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(BenchError, match='Did you mean "samplecnn"'):
        ssl_music_bench.get_encoder("samplecn")


def test_builtins_are_loaded_without_importing_their_modules() -> None:
    # a fresh interpreter: only the top-level package is imported
    code = "import ssl_music_bench as s; print(s.list_methods(), s.list_encoders(), s.list_tasks('synth-*'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'clmr'" in out and "'samplecnn'" in out and "'effnet'" in out and "'synth-tags'" in out


def test_builtin_listing() -> None:
    assert {"clmr"} <= set(list_methods())
    assert {"samplecnn", "effnet"} <= set(list_encoders())
    assert {"synth-tags", "synth-genre", "synth-instrument", "synth-pitch"} <= set(list_tasks())


def test_compatibility_check_names_the_compatible_encoders() -> None:
    from ssl_music_bench.contracts.method import Method
    from ssl_music_bench.contracts.registry import METHODS

    @ssl_music_bench.register_method("test-mel-only")
    class MelOnly(Method):
        """A method that needs a spectrogram."""

        accepts = frozenset({"mel"})

    try:
        assert compatible_encoders("test-mel-only") == ["effnet"]
        with pytest.raises(BenchError, match="Compatible encoders for test-mel-only: effnet"):
            check_compatible("test-mel-only", "samplecnn")
        check_compatible("test-mel-only", "effnet")
    finally:
        METHODS.unregister("test-mel-only")


def test_plugin_file_registers(tmp_path: Path) -> None:
    from ssl_music_bench.contracts.registry import TASKS, load_plugin_file

    plugin = tmp_path / "my_plugin.py"
    plugin.write_text(textwrap.dedent('''
        from ssl_music_bench import register_task
        from ssl_music_bench.contracts.task import Task

        @register_task("test-plugin-task")
        class PluginTask(Task):
            """A task from a user's file."""
            kind = "multiclass"
    '''))
    try:
        load_plugin_file(plugin)
        assert "test-plugin-task" in ssl_music_bench.list_tasks()
    finally:
        TASKS.unregister("test-plugin-task")
    with pytest.raises(BenchError, match="does not exist"):
        load_plugin_file(tmp_path / "missing.py")


def test_entry_point_plugins_are_loaded(tmp_path: Path) -> None:
    """A third-party package registers through the ssl_music_bench.plugins entry-point group."""
    site = tmp_path / "site"
    (site / "thirdparty_enc").mkdir(parents=True)
    (site / "thirdparty_enc" / "__init__.py").write_text(textwrap.dedent('''
        from ssl_music_bench import register_task
        from ssl_music_bench.contracts.task import Task

        @register_task("thirdparty-task")
        class ThirdParty(Task):
            """Registered by an installed package."""
            kind = "multiclass"
    '''))
    dist = site / "thirdparty_enc-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-enc\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[ssl_music_bench.plugins]\nthirdparty = thirdparty_enc\n")
    code = f"import sys; sys.path.insert(0, {str(site)!r}); import ssl_music_bench as s; print(s.list_tasks('thirdparty-*'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "thirdparty-task" in out


def test_installed_layout_non_editable(tmp_path: Path) -> None:
    """`pip install .` installs methods/ etc. inside the ssl_music_bench namespace only."""
    target = tmp_path / "target"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(REPO)],
        check=True, capture_output=True, text=True,
    )
    assert (target / "ssl_music_bench" / "methods" / "clmr.py").is_file()
    assert (target / "ssl_music_bench" / "contracts" / "protocols" / "cpu.toml").is_file()
    assert (target / "ssl_music_bench" / "lock.txt").is_file()  # hashed into every run record
    assert not (target / "methods").exists()
    code = "import ssl_music_bench.methods.clmr, ssl_music_bench; print(ssl_music_bench.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}).stdout
    assert str(target) in out
