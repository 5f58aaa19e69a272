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


@dataclass(frozen=True)
class Protocol:
    name: str
    version: int
    description: str
    pretrain: PretrainSettings
    probe: ProbeSettings
    synth_size: str = "default"  # size of the built-in synthetic corpus
    seeds: tuple[int, ...] = (0,)
    sha256: str = ""
    source: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
          "[pretrain] and [probe] (see ssl_music_bench/contracts/protocols/cpu.toml).")
MAX_SEED = 2**32 - 1  # numpy's and Lightning's seeds are 32-bit
PRECISIONS = ("32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true")  # Lightning's names


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
    probe = ProbeSettings(**check.table(raw.pop("probe", {}), ProbeSettings, "probe"))
    seeds = check.seeds(raw.pop("seeds", [0]))
    source = check.strings(raw.pop("source", {}), "source")
    top = check.table(raw, Protocol, "", skip={"pretrain", "probe", "seeds", "source", "sha256"})
    protocol = Protocol(pretrain=pretrain, probe=probe, seeds=seeds, source=source, **top)
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
                                ("probe.batch_size", probe.batch_size, 1), ("probe.max_epochs", probe.max_epochs, 1),
                                ("probe.early_stop_patience", probe.early_stop_patience, 1),
                                ("probe.lr_reduce_patience", probe.lr_reduce_patience, 0),
                                ("probe.embed_batch_size", probe.embed_batch_size, 1)):
            if value < low:
                raise self.fail(key, value, f"{low} or more")
        if probe.kind not in PROBES.names():
            raise self.fail("probe.kind", probe.kind, f"one of {', '.join(PROBES.names())}")
        if not probe.learning_rate > 0:
            raise self.fail("probe.learning_rate", probe.learning_rate, "above 0")
        if not probe.weight_decay >= 0:
            raise self.fail("probe.weight_decay", probe.weight_decay, "0 or more")
        if not 0 < probe.lr_reduce_factor < 1:
            raise self.fail("probe.lr_reduce_factor", probe.lr_reduce_factor, "between 0 and 1")
