"""An experiment expanded into grid cells, each with the row (and column) of the table it fills.

The cells are the grid runner's (ssl_music_bench/grid/): `bench experiment` runs them with its
concurrency, reuse of checkpoints and records, and resume. What a paper varies that is not a
method setting (CLMR's batch size, the pretraining dataset of the transfer table, the steps at
which the weights are probed along pretraining) is a protocol setting, so those experiments run
under protocols derived from the given one: the same file with the varied keys changed, a name
that says so (``cpu-batch48``, ``cpu-from-synth-instrument``, ``cpu-along5``) and so its own
records folder and checkpoints, stored under HOME/experiments/protocols/. Where the varied value
is the given protocol's own (its batch size, its pretraining data), the given protocol itself
is used, so its existing runs serve that row.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ssl_music_bench.contracts.protocol import Protocol, builtin_protocols, load_protocol, parse_protocol
from ssl_music_bench.experiments.definitions import Experiment
from ssl_music_bench.grid.cells import GridCell, expand_grid
from ssl_music_bench.home import experiment_protocol_path
from ssl_music_bench.io import write_text_atomic


@dataclass(frozen=True)
class ExperimentCell:
    """A grid cell and where its result goes: the table's row and, for layouts with one column
    per condition (label fractions), the condition; ``paper``: the row's reported numbers."""

    cell: GridCell
    row: str
    condition: str = ""
    paper: str = ""


def expand_experiment(
    experiment: Experiment, protocol: str, home: Path, tasks: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None, encoders: Sequence[str] | None = None,
) -> list[ExperimentCell]:
    """Every cell of ``experiment`` under ``protocol``; ``tasks``, ``seeds`` and ``encoders``
    replace the experiment's own (seeds: default the protocol's). Derived protocols are written
    under ``home`` (their content decides their hash, so writing one again changes nothing)."""
    tasks = list(tasks or experiment.tasks)
    encoders = list(encoders) if encoders else (list(experiment.encoders) if experiment.encoders else None)
    methods = None if list(experiment.methods) == ["*"] else list(experiment.methods)

    def grid(on: str, methods: Sequence[str] | None, overrides: Sequence[tuple[str, str]] = (),
             fractions: Sequence[float] = (1.0,)) -> list[GridCell]:
        return expand_grid(on, methods, encoders, tasks, seeds, overrides, fractions)

    layout, cells = experiment.layout, []
    if layout == "variants":
        for variant in experiment.variants:
            chosen = [variant.method] if variant.method else methods
            for cell in grid(protocol, chosen, variant.settings):
                cells.append(ExperimentCell(cell, _row(variant.row, cell, experiment, encoders), paper=variant.paper))
    elif layout == "batch":
        base = load_protocol(protocol)
        for batch in experiment.batch_sizes:
            steps = scaled_steps(base, batch, experiment.step_scaling)
            same = (batch, steps) == (base.pretrain.batch_size, base.pretrain.steps)  # the protocol's own runs
            derived = protocol if same else derived_protocol(
                home, protocol, f"batch{batch}", {"batch_size": batch, "steps": steps},
                f"batch_size = {batch}, steps = {steps} (`bench experiment {experiment.name}`)")
            row = f"batch {batch} ({steps} step{'' if steps == 1 else 's'})"
            for cell in grid(derived, methods):
                cells.append(ExperimentCell(cell, _row(row, cell, experiment, encoders)))
    elif layout == "fractions":
        for cell in grid(protocol, methods, fractions=experiment.label_fractions):
            cells.append(ExperimentCell(cell, f"{cell.label} + {cell.encoder}", fraction_text(cell.label_fraction)))
    elif layout == "transfer":
        base = load_protocol(protocol)
        for data in experiment.pretrain_data:
            # the protocol's own pretraining data: its own runs (and checkpoints) serve the row
            derived = protocol if data == base.pretrain.data else derived_protocol(
                home, protocol, f"from-{data}", {"data": data},
                f"pretrain.data = {data} (`bench experiment {experiment.name}`)")
            for cell in grid(derived, methods):
                cells.append(ExperimentCell(cell, _row(f"pretrained on {data}", cell, experiment, encoders)))
    elif layout == "along":
        base = load_protocol(protocol)
        every = max(1, base.pretrain.steps // experiment.probe_points)
        derived = derived_protocol(home, protocol, f"along{every}", {"probe_every": every},
                                   f"probe_every = {every} (`bench experiment {experiment.name}`)")
        for cell in grid(derived, methods):
            cells.append(ExperimentCell(cell, f"{cell.label} + {cell.encoder}"))
    return cells


def _row(label: str, cell: GridCell, experiment: Experiment, encoders: Sequence[str] | None) -> str:
    """The row label, with the method and encoder when the experiment has several of them."""
    several_methods = len(experiment.methods) > 1 or experiment.methods[0] == "*"
    several_encoders = encoders is None or len(encoders) > 1
    if several_methods or several_encoders:
        return f"{label}: {cell.method} + {cell.encoder}"
    return label


def fraction_text(fraction: float) -> str:
    return f"{100 * fraction:g} %"


def scaled_steps(base: Protocol, batch: int, scaling: str) -> int:
    """The step budget at ``batch``: the protocol's number of examples seen (steps x batch) kept
    ("examples", the comparison at equal epochs), or the protocol's steps ("none"); at least 1."""
    if scaling == "none":
        return base.pretrain.steps
    return max(1, round(base.pretrain.steps * base.pretrain.batch_size / batch))


def derived_protocol(home: Path, protocol: str, suffix: str, pretrain: dict[str, Any], what: str) -> str:
    """The path of ``protocol`` with ``pretrain`` keys replaced, named ``<name>-<suffix>``,
    written under ``home`` and checked like any protocol file."""
    import tomli_w  # the maintained TOML writer (tomllib only reads)

    raw = tomllib.loads(protocol_text(protocol))
    base_name = raw["name"]
    raw["name"] = f"{base_name}-{suffix}"
    raw["description"] = f"{raw.get('description', '')} Derived from {base_name}: {what}.".strip()
    raw["pretrain"] = {**raw["pretrain"], **pretrain}
    text = tomli_w.dumps(raw)
    parse_protocol(text, origin=f"{raw['name']} (derived from {protocol})")  # refused here, before any work
    path = experiment_protocol_path(home, raw["name"])
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)
    return str(path)


def protocol_text(protocol: str) -> str:
    """The text of a built-in protocol by name, or of a protocol file by path."""
    load_protocol(protocol)  # an unknown name or a bad file is refused with its message
    if protocol in builtin_protocols() and not Path(protocol).is_file():
        return resources.files("ssl_music_bench.contracts.protocols").joinpath(f"{protocol}.toml").read_text()
    return Path(protocol).read_text()
