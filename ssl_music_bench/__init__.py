"""ssl-music-bench: self-supervised pretext methods for music audio under one protocol.

The public API is what a plugin (a method, encoder or task in its own file) needs::

    from ssl_music_bench import Method, register_method

    @register_method("my-method", paper="Me et al., 2025")
    class MyMethod(Method): ...

plus lookup and listing of what is registered (``get_method``, ``list_methods``, ...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ssl_music_bench.contracts.encoder import Encoder
    from ssl_music_bench.contracts.method import Method
    from ssl_music_bench.contracts.task import Task, TaskData

__version__ = "0.1.0"

# The contract base classes import torch, so they are imported on first use: `import
# ssl_music_bench` (and the `bench` command with it) stays free of torch, which lets `bench`
# explain an installed torch stack that does not load instead of failing on its first line.
_CONTRACTS = {
    "Encoder": "ssl_music_bench.contracts.encoder",
    "Method": "ssl_music_bench.contracts.method",
    "Task": "ssl_music_bench.contracts.task",
    "TaskData": "ssl_music_bench.contracts.task",
}


def __getattr__(name: str) -> Any:
    if name in _CONTRACTS:
        return getattr(importlib.import_module(_CONTRACTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "Encoder",
    "METHODS",
    "Method",
    "PROBES",
    "TASKS",
    "Task",
    "TaskData",
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
