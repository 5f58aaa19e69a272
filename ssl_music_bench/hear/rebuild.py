"""A trained method rebuilt from what a checkpoint stores, for export.

A checkpoint's config.json stores its spec (train/checkpoint.py): the method and encoder names and
the method's config as a plain dict (``dataclasses.asdict``, written as JSON). The config's shape
decides the heads' shapes (e.g. CLMR's projection size), so the method is rebuilt from that dict,
not from the defaults: a nested config (CLMR's ``augment``) is rebuilt as its own dataclass, and a
JSON list goes back into a tuple field as a tuple.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.errors import BenchError


def config_from_dict(default: Any, stored: dict[str, Any]) -> Any:
    """``default`` (a config dataclass) with the stored values, nested configs rebuilt alike."""
    values: dict[str, Any] = {}
    for item in dataclasses.fields(default):
        if item.name not in stored:
            continue  # a field added after the checkpoint was written keeps its default
        current, value = getattr(default, item.name), stored[item.name]
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = config_from_dict(current, value)
        elif isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)
        values[item.name] = value
    return dataclasses.replace(default, **values)


def rebuild_method(method_name: str, encoder_name: str, method_config: dict[str, Any]) -> Method:
    """The registered method on a new registered encoder, with the stored config (weights not loaded)."""
    from ssl_music_bench.contracts.registry import ENCODERS, METHODS

    method_class = METHODS.get(method_name).obj
    try:
        config = config_from_dict(method_class.config_class(), method_config)
    except (TypeError, ValueError) as error:
        raise BenchError(f"The stored settings of {method_name} do not fit its config any more ({error}): the "
                         f"checkpoint was written by another version of the method.") from error
    torch.manual_seed(0)  # heads the weights then overwrite: deterministic anyway
    return method_class(ENCODERS.get(encoder_name).obj(), config)
