"""`bench grid`: fill a method x encoder x task x seed grid, many cells at once, resumable.

The options (or a --config TOML file, whose values the options override) give the grid's axes
and how to run it; the engine is ssl_music_bench/grid/. The exit status is non-zero when a cell
failed (each failure was reported with its reason as it happened), 130 after a Ctrl-C.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ssl_music_bench.errors import BenchError


def _listed(values: list[str] | None) -> list[str] | None:
    """Repeated and comma-separated values as one list (``--methods clmr,cola cpc``); None if not given."""
    if values is None:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def command_grid(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.contracts.registry import load_plugin_file
    from ssl_music_bench.contracts.settings import parse_settings
    from ssl_music_bench.grid.cells import expand_grid
    from ssl_music_bench.grid.config import GridConfig, load_grid_config
    from ssl_music_bench.grid.runner import GridInterrupted, run_grid
    from ssl_music_bench.home import resolve_home

    config = load_grid_config(Path(args.config)) if args.config else GridConfig()
    for plugin in config.plugins:  # the command line's --plugin files are loaded by cli/__init__.py
        load_plugin_file(plugin)
    protocol = args.protocol or config.protocol
    if protocol is None:
        raise BenchError("bench grid needs a protocol: give --protocol NAME (cpu, v1, or a .toml file), or "
                         "protocol = \"...\" in the --config file.")
    overrides = {**config.overrides, **parse_settings(args.settings)}
    fractions = args.label_fractions or config.label_fractions or [1.0]
    cells = expand_grid(protocol, _listed(args.methods) or config.methods, _listed(args.encoders) or config.encoders,
                        _listed(args.tasks) or config.tasks, args.seeds or config.seeds, overrides, fractions)
    home = resolve_home(args.home)
    plugins = [*config.plugins, *args.plugin]
    if args.dry_run:
        from ssl_music_bench.grid.runner import cell_record_path

        for cell in cells:
            state = "done   " if cell_record_path(cell, home) else "missing"
            console.print(f"{state} {escape(cell.describe())}", highlight=False)
        return
    slurm = {**config.slurm, **{k: v for k, v in (("partition", args.partition), ("time", args.time),
                                                   ("gpus", args.gpus), ("cpus", args.cpus),
                                                   ("cluster", args.slurm_cluster)) if v is not None}}
    try:
        outcome = run_grid(cells, home, jobs=args.jobs or config.jobs or 1, devices=_listed(args.devices) or
                           config.devices, launcher=args.launcher or config.launcher or "local",
                           progress=not args.no_progress, console=console, plugins=plugins, slurm=slurm)
    except GridInterrupted as stopped:
        done = stopped.outcome
        console.print(f"grid interrupted: {len(done.done)} cells done now, {len(done.skipped)} done before, "
                      f"{len(done.failed)} failed, {len(done.not_run)} left; the same command continues.")
        raise
    console.print(f"grid: {len(outcome.done)} cells done now, {len(outcome.skipped)} done before, "
                  f"{len(outcome.failed)} failed; `bench table` shows the results.", highlight=False)
    if outcome.failed:
        listed = "; ".join(f"{cell.describe()}: {reason}" for cell, reason in outcome.failed[:3])
        more = f" (and {len(outcome.failed) - 3} more, above)" if len(outcome.failed) > 3 else ""
        raise BenchError(f"{len(outcome.failed)} of {len(cells)} cells failed: {listed}{more}. The other cells "
                         "went on; fix the cause and run the same command again: done cells are skipped.")
