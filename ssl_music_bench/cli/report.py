"""`bench table`, `bench plot` and `bench status`: what the run records say."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from ssl_music_bench.cli.common import records_in
from ssl_music_bench.errors import BenchError

LEADERBOARD = "leaderboard"


def command_table(args: argparse.Namespace, console: Console) -> None:

    from ssl_music_bench.home import records_dir, resolve_home
    from ssl_music_bench.io import write_text_atomic
    from ssl_music_bench.report.reported import reported_records
    from ssl_music_bench.report.table import render

    if args.write:
        directory = Path(args.records or Path(LEADERBOARD) / "records")
        if not directory.is_dir():
            raise BenchError(f"--write refreshes {LEADERBOARD}/LEADERBOARD.md from {directory}, which does not exist: "
                             "run it from the repository root, or give --records DIR.")
    else:
        directory = Path(args.records) if args.records else records_dir(resolve_home(args.home))
    records = records_in(directory, args.protocol)
    if args.task:
        records = [r for r in records if r["task"] in args.task]
    if args.label_fraction is not None:
        records = [r for r in records if r.get("label_fraction", 1.0) == args.label_fraction]
    if args.reported and records:
        records += [r for r in reported_records({r["protocol"]["name"] for r in records})
                    if not args.task or r["task"] in args.task]
    text = render(records, args.format)
    if args.write:
        target = directory.parent / "LEADERBOARD.md"
        write_text_atomic(target, "# Leaderboard\n\nRendered by `bench table --write` from the run records in "
                          f"`{directory.name}/`.\n\n" + text)
        console.print(f"wrote {target}")
    else:
        sys.stdout.write(text)


def command_plot(args: argparse.Namespace, console: Console) -> None:

    from ssl_music_bench.home import records_dir, resolve_home
    from ssl_music_bench.report import plots

    directory = Path(args.records) if args.records else records_dir(resolve_home(args.home))
    records = records_in(directory, args.protocol)
    if not records:
        raise BenchError(f"No run records in {directory}{' for protocol ' + args.protocol if args.protocol else ''}: "
                         "run `bench run ...` first.")
    out = Path(args.out)
    written = [
        plots.loss_curves(records, out / "loss_curves.png"),
        plots.label_fraction_curves(records, args.task, args.metric, out / f"label_fraction_{args.task}.png"),
        plots.per_tag_average_precision(records, args.task, out / f"per_tag_ap_{args.task}.png"),
    ]
    for path in written:
        console.print(f"wrote {path}")


def command_status(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.contracts.registry import TASKS
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.report.status import grid, render_status

    protocol = load_protocol(args.protocol)
    tasks = args.task or TASKS.names("synth-*")
    for task in tasks:
        TASKS.get(task)  # refuse unknown names with a suggestion
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(protocol.seeds)
    sys.stdout.write(render_status(grid(resolve_home(args.home), protocol, tasks, seeds), protocol, tasks, seeds))
