"""What one benchmark run is (:class:`RunSpec`) and how it is executed (:class:`RunOptions`).

A run is identified by its method (and ``--set`` overrides of the method's config), encoder,
task, label fraction, protocol and seed. ``bench run``, ``bench embed`` and ``bench speed`` each
describe their work as a RunSpec, which is checked when it is made (the pairing, the settings,
the label fraction), before any data is touched, and then carries what the rest needs: the
parsed method config, the pretraining data, and the checkpoint those determine.

What does not change the weights or the results (devices, nodes, compilation, progress bars,
where messages go) is a :class:`RunOptions`, kept apart so that it never enters a checkpoint's
key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ssl_music_bench.contracts.compatibility import check_compatible
from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.contracts.registry import ENCODERS, METHODS, resolve_encoder_name
from ssl_music_bench.contracts.settings import config_from_overrides, method_label
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate.label_fractions import check_fraction
from ssl_music_bench.home import checkpoints_dir
from ssl_music_bench.train.checkpoint import checkpoint_key
from ssl_music_bench.weights import ExternalWeights, check_weights_pairing


@dataclass(frozen=True)
class RunSpec:
    """One run's identity, validated on construction (a bad pairing, setting, seed or fraction
    is a BenchError here, before any work).

    ``task``: the evaluated task; None where no task is evaluated (``bench embed`` of a
    self-supervised method, ``bench speed``). ``overrides``: ``--set NAME=VALUE`` settings of the
    method's config, as text. ``label_fraction``: the share of the task's train labels the
    probe sees.
    """

    method: str
    encoder: str
    protocol: Protocol
    task: str | None = None
    seed: int = 0
    overrides: dict[str, str] = field(default_factory=dict)
    label_fraction: float = 1.0
    # --weights: a checked external weights file (ssl_music_bench/weights/) that replaces pretraining
    weights: ExternalWeights | None = None
    config: Any = field(init=False, repr=False)  # the method's config with the overrides applied

    def __post_init__(self) -> None:
        check_seed(self.seed)
        object.__setattr__(self, "encoder", resolve_encoder_name(self.encoder))  # hear:MODULE -> hear-MODULE
        check_compatible(self.method, self.encoder)
        if self.weights is not None:
            check_weights_pairing(self.weights, self.method, self.encoder)
        # a protocol's [method_settings.<method>] (e.g. a reproduction's paper settings); --set wins
        object.__setattr__(self, "overrides", {**self.protocol_settings, **self.overrides})
        object.__setattr__(self, "config", config_from_overrides(self.method, self.overrides))
        check_fraction(self.label_fraction)

    @property
    def method_class(self) -> type[Method]:
        return METHODS.get(self.method).obj

    @property
    def protocol_settings(self) -> dict[str, str]:
        """The protocol's own settings of this method ([method_settings.<method>])."""
        return self.protocol.method_settings.get(self.method, {})

    @property
    def label(self) -> str:
        """The run's row name: the method, with the settings that depart from the protocol's recipe
        (``msa[sources=drums]``). The protocol's own [method_settings] are its recipe, as its step
        count is, so they do not name the row: a table holds one protocol, and `bench grid` and
        `bench status` find the record of ``clmr`` under clmr-repro by the method's name."""
        departures = {name: value for name, value in self.overrides.items() if self.protocol_settings.get(name) != value}
        label = method_label(self.method, departures)
        return f"{label} ({self.weights.label})" if self.weights is not None else label

    @property
    def pretraining_data(self) -> str | None:
        """The task whose train split the method trains on: the protocol's pretraining data, or
        the evaluated task's own labelled split for a method that ``uses_task_labels`` (supervised)."""
        return self.task if self.method_class.uses_task_labels else self.protocol.pretrain.data

    @property
    def checkpoint_spec(self) -> dict[str, Any]:
        """Everything that determines the pretrained weights; its hash names the checkpoint.

        The task enters only through the pretraining data (a supervised method's), so one
        self-supervised checkpoint serves every task. Keys and values must stay as they are:
        changing them changes every checkpoint's name, and stored checkpoints would no longer
        be found.
        """
        return {
            "method": self.method,
            "method_config": dataclasses.asdict(self.config),
            "encoder": self.encoder,
            "pretrain_data": self.pretraining_data if self.method_class.needs_pretraining else None,
            "synth_size": self.protocol.synth_size,
            "protocol": self.protocol.name,
            "protocol_sha256": self.protocol.sha256,
            "seed": self.seed,
            # only with --weights, so that every other run's checkpoint key stays as it was
            **({"weights_sha256": self.weights.sha256} if self.weights is not None else {}),
            **self._code_versions(),
        }

    def _code_versions(self) -> dict[str, Any]:
        """What the code contributes to the weights beyond the settings: the method's and the
        encoder's revisions and the synthetic corpus's version, each entering the key only once it
        is above 1 (or the corpus's current version is), so the checkpoints of the first versions keep
        their names while a changed method, architecture or corpus never reuses a stale checkpoint."""
        versions: dict[str, Any] = {}
        method_revision, encoder_revision = self.method_class.revision, ENCODERS.get(self.encoder).obj.revision
        if method_revision > 1:
            versions["method_revision"] = method_revision
        if encoder_revision > 1:
            versions["encoder_revision"] = encoder_revision
        data = self.pretraining_data if self.method_class.needs_pretraining else None
        if data is not None and data.startswith("synth-"):
            from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION

            if SYNTH_VERSION > 1:
                versions["synth_version"] = SYNTH_VERSION
        return versions

    def checkpoint_directory(self, home: Path) -> Path:
        """Where this run's pretrained weights are (or will be) stored under ``home``."""
        return checkpoints_dir(home) / f"{self.method}-{self.encoder}-{checkpoint_key(self.checkpoint_spec)}"

    def new_method(self) -> Method:
        """The method on a new encoder, initialised from the seed (initial weights depend on the
        seed only), before any task is attached or any training."""
        torch.manual_seed(self.seed)
        return _construct(self.method, self.encoder, self.config)


@dataclass(frozen=True)
class RunOptions:
    """How a run executes, none of which changes its weights or results.

    ``devices`` x ``nodes`` training processes (DDP when more than one); ``compile``:
    torch.compile the encoder for pretraining; ``accelerator``: Lightning's ("auto": a GPU when
    there is one); ``progress``: progress bars; ``console``: where messages go.
    """

    devices: int = 1
    nodes: int = 1
    compile: bool = False
    accelerator: str = "auto"
    progress: bool = True
    console: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))  # messages: stderr

    def __post_init__(self) -> None:
        check_count("--devices", self.devices, "training processes per node (more than 1 trains with DDP)")
        check_count("--nodes", self.nodes, "nodes taking part in the training")


MAX_SEED = 2**32 - 1  # the largest seed numpy's and Lightning's generators accept


def check_seed(seed: object) -> None:
    """A seed is a whole number the generators accept (0 .. 2^32 - 1), else a BenchError naming it."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise BenchError(
            f"The seed {seed!r} is out of range: a seed is a whole number from 0 to {MAX_SEED} (2^32 - 1), the "
            f"range the random generators accept. Use e.g. --seed 0 (the protocols' seeds are small numbers)."
        )


def check_count(option: str, value: object, meaning: str) -> None:
    """``value`` is a whole number of at least 1, else a BenchError naming the option."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BenchError(f"{option} {value!r} is not a count of {meaning}: it must be a whole number of at least "
                         f"1 (the default is 1). Use e.g. {option} 1.")


def build_method(method_name: str, encoder_name: str, overrides: dict[str, str] | None = None) -> Method:
    """A registered method on a new registered encoder, by name, the pairing and settings checked
    (tests, notebooks). Runs build theirs with :meth:`RunSpec.new_method`, checked once when the
    spec was made."""
    check_compatible(method_name, encoder_name)
    return _construct(method_name, encoder_name, config_from_overrides(method_name, overrides or {}))


def _construct(method_name: str, encoder_name: str, config: Any) -> Method:
    return METHODS.get(method_name).obj(ENCODERS.get(encoder_name).obj(), config)
