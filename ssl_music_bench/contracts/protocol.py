"""Protocols: the versioned settings every run shares.

A protocol fixes everything that must be equal across rows of a leaderboard: the pretraining
data and budget, the batch size, the probe recipe, the seeds. Method hyperparameters (learning
rate, temperature, ...) stay in the methods. Each protocol is one TOML file in
``ssl_music_bench/contracts/protocols/`` (or a user's file given by path); its name and the hash of its
content are written into every run record, so a changed protocol can never pass for the old one.
"""

from __future__ import annotations

import hashlib
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
        text = path.read_text(encoding="utf-8")
    else:
        names = builtin_protocols()
        if name_or_path not in names:
            raise BenchError(
                f'Unknown protocol "{name_or_path}".{did_you_mean(name_or_path, names)} Built-in '
                f"protocols: {', '.join(names)}; or give the path of a protocol .toml file."
            )
        text = resources.files("ssl_music_bench.contracts.protocols").joinpath(f"{name_or_path}.toml").read_text()
    return parse_protocol(text, origin=str(name_or_path))


def parse_protocol(text: str, origin: str = "<text>") -> Protocol:
    try:
        raw = tomllib.loads(text)
        pretrain = PretrainSettings(**raw.pop("pretrain"))
        probe = ProbeSettings(**raw.pop("probe", {}))
        seeds = tuple(raw.pop("seeds", (0,)))
        source = raw.pop("source", {})
        protocol = Protocol(pretrain=pretrain, probe=probe, seeds=seeds, source=source, **raw)
    except (tomllib.TOMLDecodeError, TypeError, KeyError) as error:
        raise BenchError(
            f"The protocol {origin} is not valid: {error}. A protocol file has top-level name, "
            f"version, description, synth_size and seeds, and the tables [pretrain] and [probe] "
            f"(see ssl_music_bench/contracts/protocols/cpu.toml)."
        ) from error
    if protocol.pretrain.batch_size < 2 or protocol.pretrain.steps < 1:
        raise BenchError(
            f"The protocol {origin} sets pretrain.batch_size={protocol.pretrain.batch_size} and "
            f"steps={protocol.pretrain.steps}; contrastive methods need a batch of at least 2 and "
            f"at least one step."
        )
    digest = hashlib.sha256(text.encode()).hexdigest()
    return replace(protocol, sha256=digest)
