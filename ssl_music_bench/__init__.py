"""ssl-music-bench: self-supervised pretext methods for music audio under one protocol.

Registration and lookup of the three kinds of pieces::

    from ssl_music_bench import register_method, get_method, list_methods
"""

from __future__ import annotations

from typing import Any

from ssl_music_bench.contracts.registry import (
    ENCODERS,
    METHODS,
    PROBES,
    TASKS,
    Entry,
    Registry,
    load_plugin_file,
    register_encoder,
    register_method,
    register_probe,
    register_task,
)
from ssl_music_bench.errors import BenchError

__version__ = "0.1.0"


def get_encoder(name: str) -> Entry[Any]:
    return ENCODERS.get(name)


def get_method(name: str) -> Entry[Any]:
    return METHODS.get(name)


def get_task(name: str) -> Entry[Any]:
    return TASKS.get(name)


def list_encoders(pattern: str = "*") -> list[str]:
    return ENCODERS.names(pattern)


def list_methods(pattern: str = "*") -> list[str]:
    return METHODS.names(pattern)


def list_tasks(pattern: str = "*") -> list[str]:
    return TASKS.names(pattern)


__all__ = [
    "BenchError",
    "ENCODERS",
    "METHODS",
    "PROBES",
    "TASKS",
    "Entry",
    "Registry",
    "get_encoder",
    "get_method",
    "get_task",
    "list_encoders",
    "list_methods",
    "list_tasks",
    "load_plugin_file",
    "register_encoder",
    "register_method",
    "register_probe",
    "register_task",
]
