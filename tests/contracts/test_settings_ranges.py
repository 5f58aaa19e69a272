"""Every method setting declares its range once and is checked, defaults and --set alike, before any work."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import METHODS, register_method
from ssl_music_bench.contracts.settings import RANGE, check_config, config_from_overrides, parse_range, setting
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run_spec import RunSpec


def numeric_fields(config: Any, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field[Any], Any]]:
    """(dotted name, field, value) of every number or tuple of numbers, nested configs expanded."""
    for declared in dataclasses.fields(config):
        value = getattr(config, declared.name)
        if dataclasses.is_dataclass(value):
            yield from numeric_fields(value, f"{prefix}{declared.name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield f"{prefix}{declared.name}", declared, value
        elif isinstance(value, tuple) and value and all(isinstance(v, int | float) for v in value):
            yield f"{prefix}{declared.name}", declared, value


def refused_value(declared: dataclasses.Field[Any], value: Any) -> Any:
    """A value the field's declared range refuses: nan for floats, else just outside a bound."""
    if isinstance(value, tuple):
        item = refused_value(declared, value[0])
        return None if item is None else (item,) * len(value)
    if isinstance(value, float):
        return math.nan
    allowed = parse_range(declared.metadata[RANGE])
    if allowed.low > -math.inf:
        return int(allowed.low) if allowed.low_open else int(allowed.low) - 1
    if allowed.high < math.inf:
        return int(allowed.high) if allowed.high_open else int(allowed.high) + 1
    return None  # an int field that allows any whole number


def with_value(config: Any, dotted: str, value: Any) -> Any:
    head, _, rest = dotted.partition(".")
    if rest:
        return dataclasses.replace(config, **{head: with_value(getattr(config, head), rest, value)})
    return dataclasses.replace(config, **{head: value})


def as_text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


@pytest.mark.parametrize("method", METHODS.names())
def test_every_default_passes_and_every_numeric_field_declares_and_enforces_its_range(method: str) -> None:
    config = config_from_overrides(method, {})
    checked = 0
    for name, declared, value in numeric_fields(config):
        assert RANGE in declared.metadata, f"{method}: {name} declares no range"
        bad = refused_value(declared, value)
        if bad is None:
            continue
        with pytest.raises(BenchError, match=f'setting {name} of the method "{method}"'):
            check_config(method, with_value(config, name, bad))  # a config's own value (a plugin's default)
        # nested fields (augment.pitch_p) are reachable by --set like top-level ones
        with pytest.raises(BenchError, match=f'--set {name}={as_text(bad)} is refused') as refused:
            config_from_overrides(method, {name: as_text(bad)})
        assert f'"{method}" must be' in str(refused.value)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize(
    ("method", "name", "text", "allowed"),
    [  # the hostile-user audit's cases
        ("clmr", "temperature", "nan", "a finite number greater than 0"),
        ("clmr", "temperature", "0", "greater than 0"),
        ("clmr", "temperature", "inf", "a finite number"),
        ("cola", "embedding_dim", "-5", "a whole number at least 1"),
        ("cola", "embedding_dim", "0", "at least 1"),
        ("cola", "learning_rate", "nan", "greater than 0"),
        ("cola", "excerpt_seconds", "0", "greater than 0"),
        ("cola-mws", "time_mask_p", "1.5", "at least 0 and at most 1"),
        ("cola-mws", "time_mask_count", "5,2", "increasing order"),
        ("cola-mws", "time_warp_pivot", "1,200", "at most 96"),
        ("cpc", "negatives", "0", "at least 1"),
    ],
)
def test_out_of_range_settings_name_method_setting_value_and_range(method: str, name: str, text: str,
                                                                   allowed: str) -> None:
    with pytest.raises(BenchError) as refused:
        config_from_overrides(method, {name: text})
    message = str(refused.value)
    assert f"--set {name}={text}" in message and f'"{method}"' in message and allowed in message


def test_tuple_items_come_from_the_vocabulary() -> None:
    assert config_from_overrides("msa", {"sources": "drums,bass"}).sources == ("drums", "bass")
    for text in ("drums,guitar", ""):
        with pytest.raises(BenchError, match="drums, bass, vocals, other"):
            config_from_overrides("msa", {"sources": text})


def test_valid_overrides_are_unchanged() -> None:
    config = config_from_overrides("cola-mws", {"fill_value": "-11.51", "time_mask_count": "2,3"})
    assert config.fill_value == -11.51 and config.time_mask_count == (2, 3)
    assert config_from_overrides("cpc", {"prediction_steps": "0"}).prediction_steps == 0  # 0 means "automatic"


def test_run_spec_refuses_a_bad_setting_before_any_work(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BenchError, match="temperature"):
        RunSpec("clmr", "samplecnn", load_protocol("cpu"), task="synth-tags", overrides={"temperature": "nan"})
    code = main(["run", "--method", "clmr", "--encoder", "samplecnn", "--task", "synth-tags", "--protocol", "cpu",
                 "--set", "temperature=nan", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "--set temperature=nan is refused" in err and "Traceback" not in err
    assert not (home / "data").exists() and not (home / "checkpoints").exists()  # nothing was generated or trained


@dataclass
class PluginConfig:
    rate: float = field(default=0.5, metadata={"range": "(0, 1]"})  # the metadata spelling works too
    width: int = setting(8, ">= 1")
    free: float = 0.1  # no declaration: still refused when not finite


def test_a_plugins_declarations_and_bad_defaults_are_checked() -> None:
    @register_method("test-ranged-plugin")
    class Ranged:  # only its config_class is read here
        config_class = PluginConfig

    try:
        assert config_from_overrides("test-ranged-plugin", {"rate": "1"}).rate == 1.0
        with pytest.raises(BenchError, match=r"must be a finite number greater than 0 and at most 1"):
            config_from_overrides("test-ranged-plugin", {"rate": "1.5"})
        with pytest.raises(BenchError, match="a finite number"):
            config_from_overrides("test-ranged-plugin", {"free": "nan"})
        with pytest.raises(BenchError, match="comes from the method's config"):
            check_config("test-ranged-plugin", PluginConfig(width=0))
    finally:
        METHODS.unregister("test-ranged-plugin")


def test_range_declarations_are_parsed_at_declaration() -> None:
    assert 0.5 in parse_range("[0, 1]") and 0 not in parse_range("> 0") and 0 in parse_range(">= 0")
    assert parse_range("(0, 1]").describe() == "greater than 0 and at most 1"
    with pytest.raises(ValueError, match="range"):
        setting(1, "positive")
