"""Method settings from the command line: ``--set NAME=VALUE`` parsed into a method's config, and
the row label that names a run with non-default settings (``msa[sources=drums]``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ssl_music_bench.contracts.registry import METHODS
from ssl_music_bench.errors import BenchError


def parse_settings(settings: list[str]) -> dict[str, str]:
    overrides = {}
    for setting in settings:
        name, separator, value = setting.partition("=")
        if not separator or not name.strip():
            raise BenchError(
                f"--set expects NAME=VALUE (e.g. --set sources=drums), got {setting!r}. "
                f"`bench list` shows the methods; each method's settings are the fields of its config."
            )
        overrides[name.strip()] = value.strip()
    return overrides


def config_from_overrides(method_name: str, overrides: dict[str, str]) -> Any:
    """A method's config with ``--set key=value`` overrides applied, values parsed by field type.

    Numbers and booleans are parsed from text; tuple and list fields take comma-separated values
    (``--set sources=drums,bass``). Unknown keys and unparsable values are refused with a hint.
    """
    config_class = METHODS.get(method_name).obj.config_class
    default = config_class()
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise BenchError(
            f'The method "{method_name}" has no setting {", ".join(unknown)}. Its settings are: '
            f"{', '.join(fields)}. Use --set NAME=VALUE with one of those names."
        )
    values = {}
    for name, text in overrides.items():
        current = getattr(default, name)
        try:
            values[name] = _parse_like(current, text)
        except ValueError as error:
            raise BenchError(
                f'--set {name}={text}: the setting {name} of "{method_name}" holds a '
                f"{type(current).__name__} (default {current!r}) and {text!r} is not one ({error})."
            ) from error
    return dataclasses.replace(default, **values)


def _parse_like(current: Any, text: str) -> Any:
    if isinstance(current, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("expected true or false")
        return text.lower() in ("true", "1", "yes")
    if isinstance(current, int | float | str):
        return type(current)(text)
    if isinstance(current, tuple | list):
        items = [item.strip() for item in text.split(",") if item.strip()]
        kind = type(current[0]) if current else str
        return type(current)(kind(item) for item in items)
    raise ValueError(f"settings of type {type(current).__name__} cannot be set from the command line")


def method_label(method_name: str, overrides: dict[str, str]) -> str:
    """Row name of a run: the method, with any non-default settings, e.g. ``msa[sources=drums]``."""
    if not overrides:
        return method_name
    return f"{method_name}[{','.join(f'{k}={v}' for k, v in sorted(overrides.items()))}]"


def method_of_label(label: str) -> str:
    """The registered method a row name of :func:`method_label` names: ``msa[sources=drums]`` -> ``msa``."""
    return label.split("[", 1)[0]
