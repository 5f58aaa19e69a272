"""Protocols: the versioned settings every run shares.

A protocol fixes everything that must be equal across rows of a leaderboard: the pretraining
data and budget, the batch size, the probe recipe, the seeds. Method hyperparameters (learning
rate, temperature, ...) stay in the methods. Each protocol is one TOML file in
``ssl_music_bench/contracts/protocols/`` (or a user's file given by path); its name and the hash of its
content are written into every run record, so a changed protocol can never pass for the old one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import tomllib
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ssl_music_bench.errors import BenchError, did_you_mean


@dataclass(frozen=True)
class PretrainSettings:
    data: str  # a task name whose train split is the pretraining corpus, e.g. "synth-tags"
    batch_size: int
    steps: int
    precision: str = "32-true"  # Lightning precision: "bf16-mixed" on GPUs
    num_workers: int = 0
    log_every_steps: int = 5
    # Batch norm over the global batch with several devices: SimCLR's "Global BN" (Chen et al.
    # 2020, sec. 2.2), inherited by CLMR; it also makes N devices compute what one device does
    # with the whole batch, so a row does not depend on how many GPUs trained it. One
    # all-reduce per batch-norm layer; false keeps per-device statistics.
    sync_batchnorm: bool = True
    # |relative change| of the smoothed loss over the last fifth of the steps below which a run counts
    # as converged, with at most a tenth of its whole fall in that fifth (train/convergence.py);
    # the table flags the other runs
    convergence_tolerance: float = 0.05
    # The optimiser and its schedule. "method" (the default, and v1's) keeps each method's own
    # (Method.configure_optimizer): the equal-budget comparison. A reproduction protocol names
    # its paper's instead, and every method run under it gets that (train/optimisation.py).
    optimizer: str = "method"  # "method" | "adam" | "lars" (LARS: You et al. 2017, as CLMR 2.0)
    learning_rate: float = 0.0  # with optimizer "adam" or "lars": the peak rate (above 0)
    weight_decay: float = 0.0  # with optimizer "adam" or "lars" (LARS: not on biases and batch norm)
    momentum: float = 0.9  # LARS momentum (CLMR 2.0's modules/lars.py default)
    schedule: str = "method"  # "method" | "constant" | "cosine" | "halve-at-half"
    warmup_steps: int = 0  # linear warm-up to the peak rate over these steps (not with schedule "method")
    cosine_steps: int = 0  # the cosine's period after warm-up; 0: the rest of the budget (decays to 0)
    # Probing along pretraining (train/snapshots.py): keep the weights every N steps and probe
    # each, so a record holds the metric against pretraining steps (the MSA poster's convergence
    # figure). 0: only the final weights. Training is unchanged; each kept step costs one probe.
    probe_every: int = 0
    # Batch-norm statistics recomputed with the evaluated weights over this many fixed crops of
    # the pretraining clips, in batches of batch_size ("precise BN", train/batch_norm_statistics.py):
    # after a short budget the running averages still describe the initial weights. 0: the running
    # averages are kept (what the papers did, after hundreds of thousands of steps).
    batch_norm_crops: int = 0


@dataclass(frozen=True)
class ProbeSettings:
    kind: str = "linear"
    learning_rate: float = 1e-3  # CLMR linear evaluation: Adam 1e-3
    weight_decay: float = 1e-6
    batch_size: int = 256
    max_epochs: int = 200
    early_stop_patience: int = 10  # on validation loss (CLMR)
    lr_reduce_patience: int = 5  # ReduceLROnPlateau(factor 0.1, patience 5) (CLMR)
    lr_reduce_factor: float = 0.1
    standardize: bool = True  # z-score features with train statistics
    embed_batch_size: int = 64
    # "loss": keep the epoch of the lowest validation loss (CLMR); "accuracy": of the highest
    # validation accuracy (MSCOL_SMC23's downstream scripts: top-1, or for tags the mean of the
    # per-tag 0.5-threshold accuracy, Keras's BinaryAccuracy)
    early_stop_metric: str = "loss"


@dataclass(frozen=True)
class CeilingSettings:
    """The supervised baseline's own budget: it trains until its validation loss (or the task's
    headline metric, ``early_stop_metric``) stops improving (checked every
    ``validate_every_steps`` on the task's valid split), at most ``max_steps``,
    and keeps the weights of its best check. A ceiling trained for the pretraining's step count
    would be a point on its learning curve, not a ceiling (issue 12). A protocol without the
    table gets the pretraining's steps, validated once at the end (see ``parse_protocol``)."""

    max_steps: int = 2000
    validate_every_steps: int = 25
    early_stop_patience: int = 6  # validation checks without a better loss before it stops
    batch_size: int = 0  # 0: the protocol's pretrain.batch_size
    # Steps trained before the patience counts and before the plateau schedule may lower the
    # learning rate: a network trained from scratch often sits at the chance-level loss for a
    # while before it learns (Keras's EarlyStopping has start_from_epoch for that warm-up). Without
    # it the cpu protocol's ceilings stopped at step 60 with the loss still at chance (docs/TASKS.md).
    min_steps: int = 0
    # What a validation check judges the weights by. "loss": the task's loss (CLMR's "Valid/loss").
    # "headline": the metric the table judges the column on (accuracy; PR-AUC for tagging,
    # evaluate/metrics.py JUDGED_METRIC), the clip's score the mean of its crops': on synth-tags
    # the binary cross-entropy was lowest at the first check while PR-AUC went on rising, and a
    # ceiling kept by its loss is a ceiling on the wrong number (docs/TASKS.md).
    early_stop_metric: str = "loss"


@dataclass(frozen=True)
class Protocol:
    name: str
    version: int
    description: str
    pretrain: PretrainSettings
    probe: ProbeSettings
    ceiling: CeilingSettings = field(default_factory=CeilingSettings)
    synth_size: str = "default"  # size of the built-in synthetic corpus
    seeds: tuple[int, ...] = (0,)
    sha256: str = ""
    source: dict[str, str] = field(default_factory=dict)
    # A reproduction protocol names the paper whose recipe it follows (a key of PAPERS below);
    # "" for a comparison protocol such as v1.
    reproduces: str = ""
    # [task_probe.<task>] tables: a task's probe where the paper probes it differently (MSCOL's
    # NSynth MLP); each key given there replaces [probe]'s for that task only.
    task_probes: dict[str, ProbeSettings] = field(default_factory=dict)
    # [method_settings.<method>] tables: the method settings (a paper's projection size, a ceiling's
    # learning rate, ...) that the protocol gives every run of that method, as if passed with --set
    # (which still wins). They are the protocol's recipe and do not name the row; a --set that
    # departs from them does (RunSpec.label in run_spec.py)
    method_settings: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def probe_for(self, task: str) -> ProbeSettings:
        """The probe settings of ``task``: its [task_probe.<task>] table, else [probe]."""
        return self.task_probes.get(task, self.probe)


def builtin_protocols() -> list[str]:
    folder = resources.files("ssl_music_bench.contracts.protocols")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_protocol(name_or_path: str) -> Protocol:
    """A built-in protocol by name (``v1``, ``cpu``) or a user's TOML file by path."""
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise BenchError(f"The protocol file {path} does not exist.")
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as error:
            raise BenchError(f"The protocol file {path} is not UTF-8 text ({error.reason} at byte {error.start}). "
                             "A protocol is a TOML file: save it as UTF-8.") from error
        except OSError as error:
            raise BenchError(f"The protocol file {path} cannot be read ({error.strerror or error}).") from error
    else:
        names = builtin_protocols()
        if name_or_path not in names:
            raise BenchError(
                f'Unknown protocol "{name_or_path}".{did_you_mean(name_or_path, names)} Built-in '
                f"protocols: {', '.join(names)}; or give the path of a protocol .toml file."
            )
        text = resources.files("ssl_music_bench.contracts.protocols").joinpath(f"{name_or_path}.toml").read_text()
    return parse_protocol(text, origin=str(name_or_path))


LAYOUT = ("A protocol file has top-level name, version, description, synth_size and seeds, and the tables "
          "[pretrain] and [probe], and optionally [ceiling], the supervised baseline's budget "
          "(see ssl_music_bench/contracts/protocols/cpu.toml).")
MAX_SEED = 2**32 - 1  # numpy's and Lightning's seeds are 32-bit
PRECISIONS = ("32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true")  # Lightning's names
OPTIMIZERS = ("method", "adam", "lars")
# the papers a reproduction protocol may follow (``reproduces``); report/reported.py holds their rows
PAPERS = {
    "clmr": "Spijkervet & Burgoyne, ISMIR 2021",
    "mscol": "Garoufis et al., SMC 2023 (mean of 5 runs)",
}
SCHEDULES = ("method", "constant", "cosine", "halve-at-half")
EARLY_STOP_METRICS = ("loss", "accuracy")
CEILING_STOP_METRICS = ("loss", "headline")


def parse_protocol(text: str, origin: str = "<text>") -> Protocol:
    """Parse and validate a protocol: every key known, every value of its type and in its range,
    refused with a message naming the file, the key, the value and what is allowed."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BenchError(f"The protocol {origin} is not valid TOML: {error}. {LAYOUT}") from error
    if not isinstance(raw.get("pretrain"), dict):
        raise BenchError(f"The protocol {origin} is not valid: it has no [pretrain] table. {LAYOUT}")
    check = _Checker(origin)
    pretrain = PretrainSettings(**check.table(raw.pop("pretrain"), PretrainSettings, "pretrain"))
    probe_values = check.table(raw.pop("probe", {}), ProbeSettings, "probe")
    probe = ProbeSettings(**probe_values)
    task_probes = check.task_probes(raw.pop("task_probe", {}), probe_values)
    method_settings = check.method_settings(raw.pop("method_settings", {}))
    # Without a [ceiling] table (protocols older than it), the ceiling trains for the pretraining's
    # steps and batch and is validated once, at the end: what it did before the table existed.
    absent = {"max_steps": pretrain.steps, "validate_every_steps": pretrain.steps, "early_stop_patience": 1}
    ceiling = CeilingSettings(**check.table(raw.pop("ceiling", absent), CeilingSettings, "ceiling"))
    seeds = check.seeds(raw.pop("seeds", [0]))
    source = check.strings(raw.pop("source", {}), "source")
    top = check.table(raw, Protocol, "", skip={"pretrain", "probe", "ceiling", "seeds", "source", "sha256",
                                                  "task_probes", "method_settings"})
    protocol = Protocol(pretrain=pretrain, probe=probe, ceiling=ceiling, seeds=seeds, source=source,
                        task_probes=task_probes, method_settings=method_settings, **top)
    check.ranges(protocol)
    return replace(protocol, sha256=hashlib.sha256(text.encode()).hexdigest())


class _Checker:
    """Type and range checks of one protocol's values, each failure one paragraph."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, key: str, value: Any, allowed: str) -> BenchError:
        return BenchError(f"The protocol {self.origin} sets {key} = {value!r}, which is not allowed: {key} must be "
                          f"{allowed}. Fix that line of the protocol file.")

    def table(self, values: Any, kind: type, prefix: str, skip: frozenset[str] | set[str] = frozenset()) -> dict:
        where = f"[{prefix}]" if prefix else "the top level"
        if not isinstance(values, dict):
            raise self.fail(prefix, values, "a table")
        fields = {f.name: f for f in dataclasses.fields(kind) if f.name not in skip}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise BenchError(f"The protocol {self.origin} is not valid: {where} has no setting "
                             f"{', '.join(unknown)}. Its settings are: {', '.join(fields)}. {LAYOUT}")
        missing = [n for n, f in fields.items() if f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING and n not in values]
        if missing:
            raise BenchError(f"The protocol {self.origin} is not valid: {where} lacks {', '.join(missing)}. {LAYOUT}")
        for name, value in values.items():
            self.typed(f"{prefix}.{name}" if prefix else name, value, fields[name].type)
        return dict(values)

    def typed(self, key: str, value: Any, annotation: str) -> None:
        if annotation == "bool" and not isinstance(value, bool):
            raise self.fail(key, value, "true or false")
        if annotation == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail(key, value, "a whole number (no quotes, no decimal point)")
        if annotation == "float" and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not math.isfinite(value)):
            raise self.fail(key, value, "a finite number")
        if annotation == "str" and not isinstance(value, str):
            raise self.fail(key, value, "a quoted string")

    def seeds(self, value: Any) -> tuple[int, ...]:
        if (not isinstance(value, list) or not value
                or any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED for s in value)
                or len(set(value)) != len(value)):
            raise self.fail("seeds", value, f"a non-empty list of distinct whole numbers from 0 to {MAX_SEED}, "
                            "e.g. [0, 1, 2]")
        return tuple(value)

    def task_probes(self, value: Any, probe_values: dict[str, Any]) -> dict[str, ProbeSettings]:
        """[task_probe.<task>] tables: each key replaces [probe]'s for that task."""
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise self.fail("task_probe", value, "tables [task_probe.<task>] of probe settings, e.g. "
                            "[task_probe.nsynth] with kind = \"mlp\"")
        return {task: ProbeSettings(**{**probe_values, **self.table(values, ProbeSettings, f"task_probe.{task}")})
                for task, values in value.items()}

    def method_settings(self, value: Any) -> dict[str, dict[str, str]]:
        """[method_settings.<method>] tables, each value checked as ``--set NAME=VALUE`` would be."""
        from ssl_music_bench.contracts.registry import METHODS
        from ssl_music_bench.contracts.settings import config_from_overrides

        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise self.fail("method_settings", value, "tables [method_settings.<method>] of NAME = VALUE lines")
        settings = {}
        for method, values in value.items():
            if method not in METHODS.names():
                raise self.fail(f"method_settings.{method}", method, f"a method name ({', '.join(METHODS.names())})")
            text = {name: str(v).lower() if isinstance(v, bool) else str(v) for name, v in values.items()}
            try:
                config_from_overrides(method, text)
            except BenchError as error:
                raise BenchError(f"The protocol {self.origin} has a [method_settings.{method}] table that "
                                 f"{method} refuses: {error}") from error
            settings[method] = text
        return settings

    def strings(self, value: Any, key: str) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail(key, value, "a table of quoted strings")
        return dict(value)

    def ranges(self, protocol: Protocol) -> None:
        from ssl_music_bench.contracts.registry import PROBES, SAFE_NAME, SAFE_NAME_RULE, TASKS
        from ssl_music_bench.data.synthetic_corpus import SIZES

        pretrain, probe = protocol.pretrain, protocol.probe
        if not SAFE_NAME.fullmatch(protocol.name):  # it names a folder of the home: records/<name>/
            raise self.fail("name", protocol.name, f"{SAFE_NAME_RULE} (it names the folder of the protocol's records)")
        if protocol.version < 1:
            raise self.fail("version", protocol.version, "1 or more")
        if protocol.synth_size not in SIZES:
            raise self.fail("synth_size", protocol.synth_size, f"one of {', '.join(SIZES)}")
        if pretrain.batch_size < 2 or pretrain.steps < 1:
            raise BenchError(
                f"The protocol {self.origin} sets pretrain.batch_size={pretrain.batch_size} and "
                f"steps={pretrain.steps}; contrastive methods need a batch of at least 2 and at least one step.")
        if pretrain.data not in TASKS.names():
            raise self.fail("pretrain.data", pretrain.data, f"a task name ({', '.join(TASKS.names())})")
        if pretrain.precision not in PRECISIONS:
            raise self.fail("pretrain.precision", pretrain.precision, f"one of {', '.join(PRECISIONS)}")
        for key, value, low in (("pretrain.num_workers", pretrain.num_workers, 0),
                                ("pretrain.log_every_steps", pretrain.log_every_steps, 1),
                                ("pretrain.probe_every", pretrain.probe_every, 0),
                                ("pretrain.batch_norm_crops", pretrain.batch_norm_crops, 0),
                                ("probe.batch_size", probe.batch_size, 1), ("probe.max_epochs", probe.max_epochs, 1),
                                ("probe.early_stop_patience", probe.early_stop_patience, 1),
                                ("probe.lr_reduce_patience", probe.lr_reduce_patience, 0),
                                ("probe.embed_batch_size", probe.embed_batch_size, 1),
                                ("ceiling.max_steps", protocol.ceiling.max_steps, 1),
                                ("ceiling.validate_every_steps", protocol.ceiling.validate_every_steps, 1),
                                ("ceiling.early_stop_patience", protocol.ceiling.early_stop_patience, 1),
                                ("ceiling.batch_size", protocol.ceiling.batch_size, 0),
                                ("ceiling.min_steps", protocol.ceiling.min_steps, 0)):
            if value < low:
                raise self.fail(key, value, f"{low} or more")
        if protocol.ceiling.early_stop_metric not in CEILING_STOP_METRICS:
            raise self.fail("ceiling.early_stop_metric", protocol.ceiling.early_stop_metric,
                            f"one of {', '.join(CEILING_STOP_METRICS)}")
        if protocol.ceiling.batch_size == 1:  # batch norm cannot train on one example
            raise self.fail("ceiling.batch_size", 1, "0 (the pretraining's batch size) or 2 or more")
        if probe.kind not in PROBES.names():
            raise self.fail("probe.kind", probe.kind, f"one of {', '.join(PROBES.names())}")
        if not 0 < pretrain.convergence_tolerance < 1:
            raise self.fail("pretrain.convergence_tolerance", pretrain.convergence_tolerance,
                            "between 0 and 1, e.g. 0.05")
        if not probe.learning_rate > 0:
            raise self.fail("probe.learning_rate", probe.learning_rate, "above 0")
        if not probe.weight_decay >= 0:
            raise self.fail("probe.weight_decay", probe.weight_decay, "0 or more")
        if not 0 < probe.lr_reduce_factor <= 1:
            raise self.fail("probe.lr_reduce_factor", probe.lr_reduce_factor,
                            "above 0 and at most 1 (1: the rate is never reduced)")
        self.probe_ranges("probe", probe, PROBES.names())
        for task, settings in protocol.task_probes.items():
            if task not in TASKS.names():
                raise self.fail(f"task_probe.{task}", task, f"a task name ({', '.join(TASKS.names())})")
            self.probe_ranges(f"task_probe.{task}", settings, PROBES.names())
        self.optimiser_ranges(pretrain)
        if protocol.reproduces and protocol.reproduces not in PAPERS:
            raise self.fail("reproduces", protocol.reproduces, f"one of {', '.join(PAPERS)}")

    def probe_ranges(self, prefix: str, probe: ProbeSettings, kinds: list[str]) -> None:
        """The ranges of one probe table ([probe]'s first ones are checked above, with the rest)."""
        for key, value, low in (("batch_size", probe.batch_size, 1), ("max_epochs", probe.max_epochs, 1),
                                ("early_stop_patience", probe.early_stop_patience, 1),
                                ("lr_reduce_patience", probe.lr_reduce_patience, 0),
                                ("embed_batch_size", probe.embed_batch_size, 1)):
            if value < low:
                raise self.fail(f"{prefix}.{key}", value, f"{low} or more")
        if probe.kind not in kinds:
            raise self.fail(f"{prefix}.kind", probe.kind, f"one of {', '.join(kinds)}")
        if not probe.learning_rate > 0:
            raise self.fail(f"{prefix}.learning_rate", probe.learning_rate, "above 0")
        if not probe.weight_decay >= 0:
            raise self.fail(f"{prefix}.weight_decay", probe.weight_decay, "0 or more")
        if not 0 < probe.lr_reduce_factor <= 1:
            raise self.fail(f"{prefix}.lr_reduce_factor", probe.lr_reduce_factor,
                            "above 0 and at most 1 (1: the rate is never reduced)")
        if probe.early_stop_metric not in EARLY_STOP_METRICS:
            raise self.fail(f"{prefix}.early_stop_metric", probe.early_stop_metric,
                            f"one of {', '.join(EARLY_STOP_METRICS)}")

    def optimiser_ranges(self, pretrain: PretrainSettings) -> None:
        """The protocol's own optimiser and schedule, where it names one (train/optimisation.py)."""
        if pretrain.optimizer not in OPTIMIZERS:
            raise self.fail("pretrain.optimizer", pretrain.optimizer, f"one of {', '.join(OPTIMIZERS)}")
        if pretrain.schedule not in SCHEDULES:
            raise self.fail("pretrain.schedule", pretrain.schedule, f"one of {', '.join(SCHEDULES)}")
        if pretrain.optimizer != "method" and not pretrain.learning_rate > 0:
            raise self.fail("pretrain.learning_rate", pretrain.learning_rate,
                            f"above 0 with optimizer = \"{pretrain.optimizer}\" "
                            "(the protocol's optimiser needs its rate)")
        if pretrain.optimizer == "method" and (pretrain.learning_rate or pretrain.weight_decay):
            raise self.fail("pretrain.learning_rate", pretrain.learning_rate or pretrain.weight_decay,
                            "left out (with weight_decay) while optimizer = \"method\": each method keeps its own "
                            "rate; set optimizer = \"adam\" or \"lars\" to give one")
        if not pretrain.weight_decay >= 0:
            raise self.fail("pretrain.weight_decay", pretrain.weight_decay, "0 or more")
        if not 0 <= pretrain.momentum < 1:
            raise self.fail("pretrain.momentum", pretrain.momentum, "from 0 to below 1")
        for key, value in (("pretrain.warmup_steps", pretrain.warmup_steps),
                           ("pretrain.cosine_steps", pretrain.cosine_steps)):
            if value < 0:
                raise self.fail(key, value, "0 or more")
        if pretrain.schedule == "method" and pretrain.warmup_steps:
            raise self.fail("pretrain.warmup_steps", pretrain.warmup_steps,
                            "0 with schedule = \"method\" (a warm-up is part of a protocol's schedule: set schedule)")
        if pretrain.cosine_steps and pretrain.schedule != "cosine":
            raise self.fail("pretrain.cosine_steps", pretrain.cosine_steps, "0 unless schedule = \"cosine\"")
        if pretrain.warmup_steps >= pretrain.steps:
            raise self.fail("pretrain.warmup_steps", pretrain.warmup_steps, f"below steps ({pretrain.steps})")
