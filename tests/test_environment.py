"""The tested software stack: exact pins, the lock, the drift guard and the broken-stack message."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ssl_music_bench import environment
from ssl_music_bench.environment import TESTED_STACK

REPO = Path(__file__).resolve().parent.parent


def pyproject_dependencies() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["test"]]


def requirement_name(requirement: str) -> str:
    return environment.canonical(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0])


@pytest.mark.parametrize("package", sorted(TESTED_STACK))
def test_installed_torch_stack_is_the_tested_set(package: str) -> None:
    """Drift guard: CI fails here, naming the package, before any user meets a broken import."""
    installed = environment.installed_version(package)
    assert installed == TESTED_STACK[package], (
        f"{package} {installed} is installed, but the suite is tested with {package} {TESTED_STACK[package]} "
        f"(ssl_music_bench/environment.py TESTED_STACK, pinned in pyproject.toml). Either install the tested "
        f"set ({environment.fix_command()}) or move the pins, the lock and TESTED_STACK together.")


def test_pyproject_pins_the_tested_stack_exactly_and_bounds_the_rest() -> None:
    dependencies = pyproject_dependencies()
    for package, version in TESTED_STACK.items():
        assert f"{package}=={version}" in dependencies, f"pyproject.toml must pin {package}=={version}"
    for requirement in dependencies:
        if requirement_name(requirement) not in TESTED_STACK:
            assert "<" in requirement, f"{requirement!r} needs an upper bound at its next major version"


def test_lock_holds_every_dependency_at_a_version_pyproject_allows() -> None:
    pins = environment.read_lock()
    for package, version in TESTED_STACK.items():
        assert pins[package] == version, f"the lock pins {package}=={pins.get(package)}, the tested set is {version}"
    for requirement in pyproject_dependencies():
        assert requirement_name(requirement) in pins, f"{requirement} is not in ssl_music_bench/lock.txt"
    assert "ssl-music-bench" not in pins and "pip" not in pins
    # every bound in pyproject admits the locked version (else the lock could not be installed)
    from packaging.requirements import Requirement

    for requirement in map(Requirement, pyproject_dependencies()):
        locked = pins[environment.canonical(requirement.name)]
        assert requirement.specifier.contains(locked, prereleases=True), f"{requirement} excludes locked {locked}"


def test_lock_text_round_trips_and_departures_are_named() -> None:
    installed = {"torch": "2.14.1", "rich": "15.0.0", "pip": "23.2.1", "ssl-music-bench": "0.1.0"}
    text = environment.lock_text(installed)
    path_pins = dict(line.split("==") for line in text.splitlines() if line and not line.startswith("#"))
    assert path_pins == {"rich": "15.0.0", "torch": "2.14.1"}
    departures = environment.lock_departures({"rich": "15.0.0", "torch": "2.14.1", "timm": "1.0.31"},
                                             {"rich": "15.0.0", "torch": "2.11.0"})
    assert departures == {"timm": {"locked": "1.0.31", "installed": None},
                          "torch": {"locked": "2.14.1", "installed": "2.11.0"}}


def test_lock_state_names_the_shipped_lock() -> None:
    import hashlib

    state = environment.lock_state()
    assert state["sha256"] == hashlib.sha256(environment.LOCK_FILE.read_bytes()).hexdigest()
    assert isinstance(state["departures"], dict)


def test_only_torch_library_failures_count_as_a_broken_stack() -> None:
    broken = OSError("Could not load this library: /venv/site-packages/torchaudio/lib/libtorchaudio.so")
    assert environment.is_stack_load_failure(broken)
    assert environment.is_stack_load_failure(RuntimeError("operator torchvision::nms does not exist"))
    assert not environment.is_stack_load_failure(OSError(28, "No space left on device"))
    assert not environment.is_stack_load_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_bench_says_in_one_paragraph_how_to_fix_a_torchaudio_that_does_not_load(tmp_path: Path) -> None:
    """A torchaudio whose compiled library fails to load, as 2.11.1 does beside torch 2.11.0."""
    shadow = tmp_path / "torchaudio"
    shadow.mkdir()
    (shadow / "__init__.py").write_text(
        "raise OSError('Could not load this library: /venv/lib/python3.11/site-packages/torchaudio/lib/"
        "libtorchaudio.so')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "BENCH_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "ssl_music_bench.cli", "run", "--method", "clmr", "--encoder",
                             "effnet", "--task", "synth-genre", "--protocol", "cpu"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "libtorchaudio.so" in message
    for package, version in TESTED_STACK.items():
        assert f"{package}=={version}" in message  # the pip command that fixes it
    assert f"torch {environment.installed_version('torch')}" in message  # what is installed
    assert not (tmp_path / "home").exists()  # refused before any work


def test_bench_env_reports_the_stack_and_the_lock() -> None:
    result = subprocess.run([sys.executable, "-m", "ssl_music_bench.cli", "env"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "the tested set." in result.stdout
    assert environment.lock_sha256() in result.stdout
