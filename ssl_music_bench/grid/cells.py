"""The cells of a grid: one (method, encoder, task, seed, label fraction) run under one protocol.

A grid is the cross product that the leaderboard is made of (leaderboard/README.md); each cell
is one `bench run`. Cells that share a pretraining group share one pretrained checkpoint
(RunSpec.checkpoint_spec: the task enters only for a method that trains on the task's labels,
the supervised baseline), so the runner gives one group to one worker, which pretrains with
the first cell and reuses the checkpoint for the others.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ssl_music_bench.contracts.compatibility import compatible_encoders
from ssl_music_bench.contracts.protocol import Protocol, load_protocol
from ssl_music_bench.contracts.registry import ENCODERS, METHODS, TASKS
from ssl_music_bench.contracts.settings import method_label
from ssl_music_bench.errors import BenchError

DEFAULT_TASKS = "synth-*"  # the tasks `bench status` shows by default: every synthetic task
WILDCARDS = "*?["


@dataclass(frozen=True)
class GridCell:
    """One `bench run` of a grid. ``protocol``: a built-in protocol name or the path of a protocol
    .toml (absolute, so that a worker started elsewhere finds it); ``overrides``: the ``--set``
    NAME=VALUE pairs, sorted by name."""

    method: str
    encoder: str
    task: str
    seed: int
    protocol: str
    overrides: tuple[tuple[str, str], ...] = ()
    label_fraction: float = 1.0

    @property
    def label(self) -> str:
        """The row name its record carries, e.g. ``msa[sources=drums]``."""
        return method_label(self.method, dict(self.overrides))

    def run_arguments(self) -> list[str]:
        """The `bench run` arguments of this cell (without --home, --plugin or --no-progress)."""
        arguments = ["--method", self.method, "--encoder", self.encoder, "--task", self.task,
                     "--protocol", self.protocol, "--seed", str(self.seed)]
        for name, value in self.overrides:
            arguments += ["--set", f"{name}={value}"]
        if self.label_fraction != 1.0:
            arguments += ["--label-fraction", repr(float(self.label_fraction))]
        return arguments

    def pretraining_group(self) -> tuple:
        """Cells with equal groups share one pretrained checkpoint: the fields of
        RunSpec.checkpoint_spec that differ between cells of a grid (the protocol fixes the
        rest), with the task only for a method that trains on the task's own labels."""
        own_labels = METHODS.get(self.method).obj.uses_task_labels
        return (self.protocol, self.method, self.encoder, self.overrides, self.seed, self.task if own_labels else None)

    def describe(self) -> str:
        """One line for progress and messages, e.g. ``clmr + samplecnn on synth-tags, seed 0``."""
        fraction = "" if self.label_fraction == 1.0 else f" @{self.label_fraction:g}"
        return f"{self.label} + {self.encoder} on {self.task}{fraction}, seed {self.seed}"


def expand_grid(  # the grid's axes, as `bench grid` takes them
    protocol: str,
    methods: Sequence[str] | None = None,
    encoders: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    overrides: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    label_fractions: Sequence[float] = (1.0,),
) -> list[GridCell]:
    """Every compatible (method, encoder) x task x seed (x label fraction), each cell checked as
    `bench run` checks it (pairing, settings, seed, fraction) before any work.

    None means the default: all registered methods, all encoders compatible with each, the
    synth-* tasks, the protocol's seeds. Names may be shell wildcards (``cola*``). A named encoder
    that a method cannot train is left out for that method (the grid holds compatible pairs
    only); a grid left empty is an error. ``overrides`` (``--set``) apply to every method.
    Cells come grouped by pretraining group, in a stable order.
    """
    from ssl_music_bench.run_spec import RunSpec

    loaded = load_protocol(protocol)
    protocol = _portable(protocol)
    settings = tuple(sorted(dict(overrides).items()))
    method_names = _names(METHODS, methods, "--methods")
    encoder_names = None if encoders is None else _names(ENCODERS, encoders, "--encoders")
    task_names = _names(TASKS, tasks if tasks is not None else [DEFAULT_TASKS], "--tasks")
    seed_list = list(seeds) if seeds is not None else list(loaded.seeds)
    fractions = list(label_fractions) or [1.0]
    cells = []
    for seed, method in itertools.product(seed_list, method_names):
        for encoder in compatible_encoders(method):
            if encoder_names is not None and encoder not in encoder_names:
                continue
            for task, fraction in itertools.product(task_names, fractions):
                cell = GridCell(method, encoder, task, seed, protocol, settings, float(fraction))
                _check(cell, loaded, RunSpec)
                cells.append(cell)
    if not cells:
        raise BenchError(
            f"The grid is empty: no method of {', '.join(method_names)} can train an encoder of "
            f"{', '.join(encoder_names or [])} (or no seeds or tasks were given). `bench list` shows which encoders "
            "each method accepts: name at least one compatible pair, e.g. --methods clmr --encoders samplecnn."
        )
    return cells


def _portable(protocol: str) -> str:
    """A protocol file as an absolute path (workers may start in another folder); a name as given."""
    path = Path(protocol).expanduser()
    return str(path.resolve()) if protocol.endswith(".toml") or path.is_file() else protocol


def _names(registry, requested: Sequence[str] | None, option: str) -> list[str]:
    """Registered names: all of them for None, else each name (checked, with a suggestion when
    unknown) or wildcard pattern (which must match something), without repeats, in order given."""
    if requested is None:
        return registry.names()
    names: list[str] = []
    for item in requested:
        if any(char in item for char in WILDCARDS):
            matched = registry.names(item)
            if not matched:
                raise BenchError(f"{option} {item!r} matches no registered {registry.kind}. Known {registry.kind}s: "
                                 f"{', '.join(registry.names())}; `bench list` shows them all.")
        else:
            matched = [registry.get(item).name]  # an unknown name raises, with "did you mean"
        names += [name for name in matched if name not in names]
    return names


def _check(cell: GridCell, protocol: Protocol, run_spec: type) -> None:
    """The cell as `bench run` would check it, so that a bad setting stops the grid before any work."""
    try:
        run_spec(cell.method, cell.encoder, protocol, task=cell.task, seed=cell.seed, overrides=dict(cell.overrides),
                 label_fraction=cell.label_fraction)
    except BenchError as error:
        raise BenchError(f"The grid's cell {cell.describe()} would be refused by `bench run`: {error}") from error
