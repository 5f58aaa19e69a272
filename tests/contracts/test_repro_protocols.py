"""The reproduction protocols (each paper's recipe, every value cited) and the schema fields they
need: a protocol's own optimiser and schedule, per-task probes, early stopping on accuracy,
method settings. cpu and v1 leave every new field at its default, so they mean what they meant."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ssl_music_bench.contracts.protocol import PretrainSettings, ProbeSettings, load_protocol, parse_protocol
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run_spec import RunSpec

GOOD = """name = "x"
version = 1
description = ""
synth_size = "tiny"
seeds = [0]

[pretrain]
data = "synth-tags"
batch_size = 4
steps = 20
"""


def test_comparison_protocols_keep_every_new_field_at_its_default() -> None:
    for name in ("cpu", "v1"):
        protocol = load_protocol(name)
        assert (protocol.reproduces, protocol.task_probes, protocol.method_settings) == ("", {}, {})
        for kind, settings in ((PretrainSettings, protocol.pretrain), (ProbeSettings, protocol.probe)):
            for key in ("optimizer", "schedule", "warmup_steps", "cosine_steps", "learning_rate", "weight_decay",
                        "momentum", "early_stop_metric"):
                if hasattr(settings, key):
                    assert getattr(settings, key) == kind.__dataclass_fields__[key].default
        assert protocol.probe_for("nsynth") == protocol.probe


def test_clmr_repro_is_clmr_2_0s_recipe() -> None:
    protocol = load_protocol("clmr-repro")
    pretrain = protocol.pretrain
    assert protocol.reproduces == "clmr" and pretrain.data == "mtat" and pretrain.batch_size == 96
    assert pretrain.steps == 10_000 * (18_706 // 96) == 1_940_000  # 10,000 epochs, drop_last
    assert pretrain.optimizer == "lars" and math.isclose(pretrain.learning_rate, 0.075 * math.sqrt(96))
    assert (pretrain.weight_decay, pretrain.momentum, pretrain.schedule) == (1e-6, 0.9, "cosine")
    assert (pretrain.warmup_steps, pretrain.cosine_steps) == (30 * 194, 1_940_000)
    # CLMR 2.0's projection size, and its delay mix and noise probability through nested settings
    assert protocol.method_settings == {"clmr": {"projection_dim": "128", "augment.delay_volume": "0.2",
                                                 "augment.noise_p": "0.0"}}
    assert not protocol.probe.standardize and protocol.probe.early_stop_metric == "loss"


def test_mscol_repro_is_mscol_smc23s_recipe() -> None:
    protocol = load_protocol("mscol-repro")
    pretrain = protocol.pretrain
    assert protocol.reproduces == "mscol" and pretrain.data == "mtat-filtered"
    assert (pretrain.batch_size, pretrain.steps) == (128, 10_000 * 8_192 // 128)
    assert (pretrain.optimizer, pretrain.learning_rate, pretrain.schedule) == ("adam", 1e-3, "halve-at-half")
    assert (protocol.probe.kind, protocol.probe.learning_rate, protocol.probe.early_stop_metric) == (
        "linear", 5e-4, "accuracy")
    nsynth = protocol.probe_for("nsynth")
    assert (nsynth.kind, nsynth.learning_rate, nsynth.early_stop_patience, nsynth.batch_size) == (
        "mlp", 3e-4, 5, 128)
    assert protocol.probe_for("mtat-filtered") == protocol.probe
    assert len(protocol.seeds) == 5


def test_cpc_repro_differs_where_clmrs_cpc_config_does() -> None:
    protocol = load_protocol("cpc-repro")
    pretrain = protocol.pretrain
    assert (pretrain.batch_size, pretrain.optimizer, pretrain.weight_decay) == (48, "adam", 0)
    assert protocol.pretrain.steps == 100 * (18_706 // 48)
    assert (protocol.probe.kind, protocol.probe.learning_rate, protocol.probe.batch_size) == ("mlp", 3e-3, 64)


def test_method_settings_are_the_protocols_recipe_and_set_still_wins() -> None:
    """The protocol's [method_settings] configure the method without naming the row (a table holds
    one protocol); a --set that departs from them names it, as under any protocol."""
    protocol = load_protocol("clmr-repro")
    spec = RunSpec("clmr", "samplecnn", protocol, "mtat")
    assert spec.config.projection_dim == 128 and spec.config.augment.delay_volume == 0.2
    assert spec.config.augment.noise_p == 0.0
    assert spec.label == "clmr"
    assert spec.overrides == {"projection_dim": "128", "augment.delay_volume": "0.2", "augment.noise_p": "0.0"}
    overridden = RunSpec("clmr", "samplecnn", protocol, "mtat", overrides={"projection_dim": "64"})
    assert overridden.config.projection_dim == 64 and overridden.label == "clmr[projection_dim=64]"
    assert RunSpec("clmr", "samplecnn", protocol, "mtat", overrides={"projection_dim": "128"}).label == "clmr"
    assert RunSpec("cola", "effnet", protocol, "mtat").label == "cola"  # settings of other methods only


@pytest.mark.parametrize("extra, fragment", [
    ('[pretrain]\noptimizer = "sgd"', "pretrain.optimizer = 'sgd'"),
    ('[pretrain]\noptimizer = "adam"', "pretrain.learning_rate = 0.0"),
    ("[pretrain]\nlearning_rate = 0.1", "optimizer = \"method\""),
    ('[pretrain]\nschedule = "linear"', "pretrain.schedule = 'linear'"),
    ("[pretrain]\nwarmup_steps = 5", "warmup_steps = 5"),
    ('[pretrain]\nschedule = "constant"\nwarmup_steps = 20', "below steps (20)"),
    ('[pretrain]\nschedule = "constant"\ncosine_steps = 5', "cosine_steps = 5"),
    ('[probe]\nearly_stop_metric = "auc"', "probe.early_stop_metric = 'auc'"),
    ("[probe]\nlr_reduce_factor = 0", "probe.lr_reduce_factor = 0"),
    ('[task_probe.nosuchtask]\nkind = "mlp"', "task_probe.nosuchtask"),
    ('[task_probe.nsynth]\nkind = "deep"', "task_probe.nsynth.kind = 'deep'"),
    ("[task_probe.nsynth]\ncolour = 1", "colour"),
    ("[method_settings.clmr]\nprojection_dim = 0", "[method_settings.clmr]"),
    ("[method_settings.nosuch]\nx = 1", "method_settings.nosuch"),
    ('reproduces = "someone"', "reproduces = 'someone'"),
])
def test_new_fields_are_checked(tmp_path: Path, extra: str, fragment: str) -> None:
    if extra.startswith("[pretrain]"):
        text = GOOD + extra.split("\n", 1)[1] + "\n"
    elif extra.startswith("reproduces"):
        text = extra + "\n" + GOOD
    else:
        text = GOOD + extra + "\n"
    with pytest.raises(BenchError) as raised:
        parse_protocol(text, origin="p.toml")
    assert fragment in str(raised.value) and "p.toml" in str(raised.value)


def test_a_users_protocol_may_use_the_new_fields(tmp_path: Path) -> None:
    recipe = 'steps = 20\noptimizer = "lars"\nlearning_rate = 0.3\nschedule = "cosine"\nwarmup_steps = 2'
    probes = '[probe]\nlr_reduce_factor = 1.0\n[task_probe.synth-genre]\nkind = "mlp"\n'
    text = GOOD.replace("steps = 20", recipe) + probes
    protocol = parse_protocol(text)
    assert protocol.pretrain.warmup_steps == 2 and protocol.probe.lr_reduce_factor == 1.0
    assert protocol.probe_for("synth-genre").kind == "mlp" and protocol.probe_for("synth-tags").kind == "linear"
