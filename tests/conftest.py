"""Shared fixtures: a temporary home and a tiny protocol so tests run in seconds on a CPU."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TINY_PROTOCOL = """
name = "test-tiny"
version = 1
description = "tiny budget for tests"
synth_size = "tiny"
seeds = [0]

[pretrain]
data = "synth-tags"
batch_size = 4
steps = 2
log_every_steps = 1

[probe]
max_epochs = 5
early_stop_patience = 2
embed_batch_size = 16
"""


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh BENCH_HOME per test."""
    path = tmp_path / "home"
    monkeypatch.setenv("BENCH_HOME", str(path))
    return path


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home for the whole session, so the tiny synthetic corpus is generated once."""
    return tmp_path_factory.mktemp("shared-home")


@pytest.fixture(scope="session")
def tiny_protocol_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("protocols") / "test-tiny.toml"
    path.write_text(TINY_PROTOCOL)
    return path


TINY_ENCODER = Path(__file__).parent / "experiments" / "tiny_encoder.py"


@pytest.fixture(scope="module")
def tiny_encoder() -> Iterator[Path]:
    """A tiny test encoder (tests/experiments/tiny_encoder.py), registered for one test module: the
    experiments' grids run on it (their `bench run` processes load it with --plugin)."""
    from ssl_music_bench.contracts.registry import ENCODERS, load_plugin_file, plugin_module_name

    load_plugin_file(TINY_ENCODER)
    yield TINY_ENCODER
    ENCODERS.unregister("test-tiny-mel")
    sys.modules.pop(plugin_module_name(TINY_ENCODER), None)
