"""The experiments' tests run on a tiny test encoder (tiny_encoder.py), registered for this folder only."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssl_music_bench.contracts.registry import ENCODERS, load_plugin_file, plugin_module_name

TINY_ENCODER = Path(__file__).with_name("tiny_encoder.py")


@pytest.fixture(scope="module")
def tiny_encoder() -> Iterator[Path]:
    """The plugin file, loaded here (the grid's `bench run` processes load it with --plugin)."""
    load_plugin_file(TINY_ENCODER)
    yield TINY_ENCODER
    ENCODERS.unregister("test-tiny-mel")
    sys.modules.pop(plugin_module_name(TINY_ENCODER), None)
