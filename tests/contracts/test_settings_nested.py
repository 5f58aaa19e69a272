"""Nested settings: ``--set augment.pitch_p=0`` reaches a field of a nested config dataclass (CLMR's
augmentation chain), parsed, range-checked and named in the row label like any other setting."""

from __future__ import annotations

import dataclasses

import pytest

from ssl_music_bench.augment import CLMRAugmentConfig
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.settings import config_from_overrides, settable_names
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run_spec import RunSpec


def test_a_nested_field_is_set_and_the_rest_keep_their_defaults() -> None:
    config = config_from_overrides("clmr", {"augment.pitch_p": "0", "augment.highpass_hz": "300,900"})
    assert config.augment.pitch_p == 0.0 and isinstance(config.augment.pitch_p, float)
    assert config.augment.highpass_hz == (300.0, 900.0)
    untouched = {f.name for f in dataclasses.fields(CLMRAugmentConfig)} - {"pitch_p", "highpass_hz"}
    for name in untouched:
        assert getattr(config.augment, name) == getattr(CLMRAugmentConfig(), name)
    assert CLMRAugmentConfig().pitch_p == 0.6  # the default object of other runs is not mutated


def test_nested_names_are_listed_among_the_settings() -> None:
    names = settable_names(config_from_overrides("clmr", {}))
    assert "temperature" in names and "augment.pitch_p" in names and "augment.reverb_p" in names
    assert "augment" not in names  # a group is not a value


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"augment.pitch_p": "1.5"}, "--set augment.pitch_p=1.5 is refused"),
        ({"augment.pitch_p": "nan"}, "at least 0 and at most 1"),
        ({"augment.pitch_p": "often"}, "holds a float"),
        ({"augment.lowpass_hz": "4000,2000"}, "increasing order"),
        ({"augment.pitch": "0"}, "has no setting augment.pitch"),
        ({"augment": "0"}, "augment is a group of settings"),
        ({"temperature.x": "0"}, "has no setting temperature.x"),
    ],
)
def test_bad_nested_settings_are_refused_with_the_dotted_name(overrides: dict[str, str], expected: str) -> None:
    with pytest.raises(BenchError, match=expected.replace("[", r"\[").replace(".", r"\.")):
        config_from_overrides("clmr", overrides)


def test_the_row_label_and_the_checkpoint_show_the_nested_setting() -> None:
    protocol = load_protocol("cpu")
    spec = RunSpec("clmr", "samplecnn", protocol, task="synth-tags", overrides={"augment.pitch_p": "0"})
    plain = RunSpec("clmr", "samplecnn", protocol, task="synth-tags")
    assert spec.label == "clmr[augment.pitch_p=0]"
    assert spec.config.augment.pitch_p == 0.0
    assert spec.checkpoint_spec["method_config"]["augment"]["pitch_p"] == 0.0
    assert spec.checkpoint_spec != plain.checkpoint_spec  # a different pretraining, a different checkpoint
