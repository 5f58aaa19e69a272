"""Method settings: what each config field allows, ``--set NAME=VALUE`` parsed into a method's
config, the check of every field of the final config, and the row label that names a run with
non-default settings (``msa[sources=drums]``).

Each config field declares what it allows once, beside its default, with :func:`setting`
(``temperature: float = setting(0.5, "> 0")``) or the equivalent dataclass metadata
(``field(default=0.5, metadata={"range": "> 0"})``, for plugins that prefer it).
:func:`config_from_overrides` is the one place where those declarations are enforced: every
field of the final config (defaults and overrides, nested configs too) is checked before any
work starts, so a NaN temperature or a zero embedding size is refused with a message instead of
training a NaN loss curve or failing after pretraining.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ssl_music_bench.contracts.registry import METHODS
from ssl_music_bench.errors import BenchError

RANGE = "range"  # metadata key: "> 0", ">= 1", "[0, 1]", "(0, 1]", "any" (any finite number)
CHOICES = "choices"  # metadata key: the vocabulary a str field, or each item of a tuple field, is from
ORDERED = "ordered"  # metadata key: a tuple's items must not decrease, e.g. a (low, high) pair

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|inf)"
_COMPARISON = re.compile(rf"(>=|<=|>|<)\s*({_NUMBER})")
_INTERVAL = re.compile(rf"([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])")


@dataclass(frozen=True)
class Range:
    """An interval of allowed numbers, parsed from the text a field declares."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = True
    high_open: bool = True

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        """In words, e.g. "greater than 0", "at least 0 and at most 1"; "" when unbounded."""
        bounds = []
        if self.low > -math.inf:
            bounds.append(f"{'greater than' if self.low_open else 'at least'} {self.low:g}")
        if self.high < math.inf:
            bounds.append(f"{'less than' if self.high_open else 'at most'} {self.high:g}")
        return " and ".join(bounds)


def parse_range(text: str) -> Range:
    """``"> 0"``, ``">= 1"``, ``"<= 0"``, ``"[0, 1]"``, ``"(0, 1]"`` or ``"any"`` as a :class:`Range`."""
    text = text.strip()
    if text == "any":
        return Range()
    if match := _COMPARISON.fullmatch(text):
        operator, bound = match.group(1), float(match.group(2))
        if operator.startswith(">"):
            return Range(low=bound, low_open=operator == ">")
        return Range(high=bound, high_open=operator == "<")
    if match := _INTERVAL.fullmatch(text):
        return Range(float(match.group(2)), float(match.group(3)), match.group(1) == "(", match.group(4) == ")")
    raise ValueError(f'a setting\'s range is "> x", ">= x", "< x", "<= x", "[a, b]", "(a, b]" or "any", not {text!r}')


def setting(default: Any, allowed: str | None = None, *, choices: Sequence[str] = (), ordered: bool = False) -> Any:
    """A config field: its default and what it allows, declared once.

    ``allowed`` is a range (``"> 0"``, ``"[0, 1]"``, ``"any"``: any finite number; see
    :func:`parse_range`); for a tuple it applies to each item. ``choices`` is the vocabulary of a
    string or of a tuple's items; ``ordered``: a tuple's items must not decrease (low, high).
    A dataclass default (a nested config) is given as its class and made per instance.
    """
    metadata: dict[str, Any] = {}
    if allowed is not None:
        parse_range(allowed)  # a typo in a declaration fails at import, not at the first --set
        metadata[RANGE] = allowed
    if choices:
        metadata[CHOICES] = tuple(choices)
    if ordered:
        metadata[ORDERED] = True
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def parse_settings(settings: list[str]) -> dict[str, str]:
    overrides = {}
    for setting_text in settings:
        name, separator, value = setting_text.partition("=")
        if not separator or not name.strip():
            raise BenchError(
                f"--set expects NAME=VALUE (e.g. --set sources=drums), got {setting_text!r}. "
                f"`bench list` shows the methods; each method's settings are the fields of its config."
            )
        overrides[name.strip()] = value.strip()
    return overrides


def config_from_overrides(method_name: str, overrides: dict[str, str]) -> Any:
    """A method's config with ``--set key=value`` overrides applied, values parsed by field type,
    and every field of the result checked against its declared range (:func:`check_config`).

    A field of a nested config is named with dots (``--set augment.pitch_p=0``: CLMR's
    augmentation chain); it is parsed and checked exactly like a top-level field. Numbers and
    booleans are parsed from text; tuple and list fields take comma-separated values (``--set
    sources=drums,bass``). Unknown keys, unparsable values and values out of range are refused
    with a hint.
    """
    config_class = METHODS.get(method_name).obj.config_class
    default = config_class()
    names = settable_names(default)
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        nested = [name for name in unknown if name in _nested_configs(default)]
        hint = (f" {nested[0]} is a group of settings: name one of its fields, e.g. --set "
                f"{next(n for n in names if n.startswith(nested[0] + '.'))}=VALUE." if nested else "")
        raise BenchError(
            f'The method "{method_name}" has no setting {", ".join(unknown)}. Its settings are: '
            f"{', '.join(names)}. Use --set NAME=VALUE with one of those names (a nested setting with its "
            f"dotted name, e.g. augment.pitch_p).{hint}"
        )
    config = default
    for name, text in overrides.items():
        current = _value_at(default, name)
        try:
            value = _parse_like(current, text)
        except ValueError as error:
            raise BenchError(
                f'--set {name}={text}: the setting {name} of "{method_name}" holds a '
                f"{type(current).__name__} (default {current!r}) and {text!r} is not one ({error})."
            ) from error
        config = _replaced(config, name.split("."), value)
    check_config(method_name, config, overrides)
    return config


def settable_names(config: Any) -> list[str]:
    """Every name ``--set`` accepts for ``config``: its fields, a nested config's fields dotted
    (``augment.pitch_p``), in declaration order."""
    return [name for name, _, _, _ in _fields_of(config)]


def _nested_configs(config: Any, prefix: str = "") -> set[str]:
    """Dotted names of the nested config dataclasses of ``config`` (``augment`` for CLMR)."""
    found = set()
    for declared in dataclasses.fields(config):
        value = getattr(config, declared.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            found |= {f"{prefix}{declared.name}"} | _nested_configs(value, f"{prefix}{declared.name}.")
    return found


def _value_at(config: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


def _replaced(config: Any, path: list[str], value: Any) -> Any:
    """A copy of ``config`` with the field at ``path`` set; nested configs are copied, never
    mutated, so the default of another run is never changed."""
    head, rest = path[0], path[1:]
    if rest:
        value = _replaced(getattr(config, head), rest, value)
    return dataclasses.replace(config, **{head: value})


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


def check_config(method_name: str, config: Any, overrides: dict[str, str] | None = None) -> None:
    """Refuse the first field of ``config`` (nested configs included) whose value its declaration
    does not allow: non-finite floats always, values outside a declared range or vocabulary."""
    overrides = overrides or {}
    for name, declared, value, kind in _fields_of(config):
        allowed = _refusal(declared, value, kind)
        if allowed is None:
            continue
        if name in overrides:
            raise BenchError(
                f'--set {name}={overrides[name]} is refused: the setting {name} of the method "{method_name}" '
                f"must be {allowed}. Give it such a value, or leave the --set out to use the default.")
        where = f", or override it with --set {name}=VALUE"
        raise BenchError(
            f'The setting {name} of the method "{method_name}" is {value!r}, but it must be {allowed}. The value '
            f"comes from the method's config ({type(config).__qualname__}), not from --set: correct it there{where}.")


def _fields_of(config: Any, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field[Any], Any, Any]]:
    """(dotted name, field, value, declared type) of every field, nested dataclasses expanded."""
    try:
        hints = typing.get_type_hints(type(config))
    except Exception:  # a plugin's annotation that cannot be resolved: checked by value only
        hints = {}
    for declared in dataclasses.fields(config):
        value = getattr(config, declared.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _fields_of(value, f"{prefix}{declared.name}.")
        else:
            yield f"{prefix}{declared.name}", declared, value, hints.get(declared.name)


def _refusal(declared: dataclasses.Field[Any], value: Any, kind: Any) -> str | None:
    """What the field allows, in words, when ``value`` is not allowed; None when it is."""
    allowed = parse_range(declared.metadata[RANGE]) if RANGE in declared.metadata else None
    choices = declared.metadata.get(CHOICES, ())
    if isinstance(value, tuple | list):
        item_kind = next(iter(typing.get_args(kind)), None)
        each = _item_words(allowed, choices, item_kind)
        if any(_item_refusal(item, allowed, choices, item_kind) for item in value) or (choices and not value):
            return f"comma-separated items, each {each}"
        if declared.metadata.get(ORDERED) and list(value) != sorted(value):
            return f"comma-separated items in increasing order (low,high), each {each}"
        return None
    return _item_refusal(value, allowed, choices, kind)


def _item_refusal(value: Any, allowed: Range | None, choices: Sequence[str], kind: Any) -> str | None:
    words = _item_words(allowed, choices, kind)
    if choices:
        return None if value in choices else words
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if kind is int and not isinstance(value, int):
        return words
    if isinstance(value, float) and not math.isfinite(value):
        return words
    return None if allowed is None or value in allowed else words


def _item_words(allowed: Range | None, choices: Sequence[str], kind: Any) -> str:
    if choices:
        return f"one of {', '.join(choices)}"
    noun = "a whole number" if kind is int else "a finite number"
    bounds = allowed.describe() if allowed else ""
    return f"{noun} {bounds}" if bounds else noun


def method_label(method_name: str, overrides: dict[str, str]) -> str:
    """Row name of a run: the method, with any non-default settings, e.g. ``msa[sources=drums]``."""
    if not overrides:
        return method_name
    return f"{method_name}[{','.join(f'{k}={v}' for k, v in sorted(overrides.items()))}]"


def method_of_label(label: str) -> str:
    """The registered method a row name of :func:`method_label` names: ``msa[sources=drums]`` -> ``msa``,
    and a row of external weights (run_spec.RunSpec.label) too: ``clmr (released 2.0)`` -> ``clmr``."""
    return label.split("[", 1)[0].split(" (", 1)[0]
