"""`bench experiment NAME --protocol P`: one of the seed papers' experiments, run and rendered.

    bench experiment                                   the experiments, with the papers they reproduce
    bench experiment clmr-augmentations --protocol cpu [--tasks ...] [--seeds 0,1,2] [--jobs 2]

The experiment (ssl_music_bench/contracts/experiments/NAME.toml) is expanded into grid cells,
the missing ones are run by the grid runner (its workers, reuse of checkpoints and records,
resume: the same command continues an interrupted experiment), and the table is printed on
stdout from the records; figure layouts also write their PNG into --out. ``--render-only``
prints the table from the records there are, running nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ssl_music_bench.errors import BenchError


def _listed(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def command_experiment(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.experiments.definitions import experiment_names, load_experiment

    if not args.name:
        for name in experiment_names():
            experiment = load_experiment(name)
            print(f"{name:20} {experiment.title}\n{'':20} reproduces {experiment.reproduces}")
        return
    experiment = load_experiment(args.name)
    if args.protocol is None:
        raise BenchError(f"bench experiment {args.name} needs a protocol: give --protocol NAME (cpu on a CPU, v1 on "
                         "GPUs) or the path of a protocol .toml file.")
    from ssl_music_bench.experiments.expansion import expand_experiment
    from ssl_music_bench.experiments.rendering import experiment_figures, experiment_table
    from ssl_music_bench.home import resolve_home

    home = resolve_home(args.home)
    cells = expand_experiment(experiment, args.protocol, home, _listed(args.tasks), args.seeds,
                              _listed(args.encoders))
    failed = []
    if not args.render_only:
        from ssl_music_bench.grid.runner import run_grid

        console.print(f"experiment {escape(experiment.name)}: {len(cells)} cells under protocol "
                      f"{escape(args.protocol)}", highlight=False)
        outcome = run_grid([entry.cell for entry in cells], home, jobs=args.jobs or 1,
                           devices=_listed(args.devices), progress=not args.no_progress, console=console,
                           plugins=list(args.plugin))
        failed = outcome.failed
        console.print(f"experiment {escape(experiment.name)}: {len(outcome.done)} cells run now, "
                      f"{len(outcome.skipped)} done before, {len(failed)} failed", highlight=False)
    print(experiment_table(experiment, cells, home, args.protocol), end="")
    for path in experiment_figures(experiment, cells, home, Path(args.out) / experiment.name):
        console.print(f"wrote {escape(str(path))}", highlight=False)
    if failed:
        listed = "; ".join(f"{cell.describe()}: {reason}" for cell, reason in failed[:3])
        raise BenchError(f"{len(failed)} of {len(cells)} cells of the experiment failed ({listed}); the table "
                         "shows them as \"-\". Fix the cause and run the same command again: done cells are skipped.")
