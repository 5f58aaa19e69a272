"""`bench table`, `bench plot` and `bench status`: what the run records say.

The table and the status grid are data, on stdout; what the commands say about their work
(files written, records skipped) goes to stderr, escaped where it quotes a path or a file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ssl_music_bench.cli.common import records_in
from ssl_music_bench.contracts.registry import check_safe_name
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
        with _writing(target, "the leaderboard"):
            write_text_atomic(target, "# Leaderboard\n\nRendered by `bench table --write` from the run records in "
                              f"`{directory.name}/`.\n\n" + text)
        console.print(f"wrote {escape(str(target))}")
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
    if out.exists() and not out.is_dir():
        raise BenchError(f"--out {out} is a file; the plots go into a folder: give --out a new or existing folder.")
    task = check_safe_name("task", args.task)  # it names two of the files
    with _writing(out, "the plots"):
        written = [
            plots.loss_curves(records, out / "loss_curves.png"),
            plots.label_fraction_curves(records, task, args.metric, out / f"label_fraction_{task}.png"),
            plots.per_tag_average_precision(records, task, out / f"per_tag_ap_{task}.png"),
        ]
        if any(record.get("along_pretraining") for record in records):  # pretrain.probe_every / --probe-every
            written.append(plots.along_pretraining_curves(records, task, args.metric,
                                                          out / f"along_pretraining_{task}.png"))
    for path in written:
        console.print(f"wrote {escape(str(path))}")


@contextmanager
def _writing(target: Path, what: str) -> Iterator[None]:
    """An unwritable target (permissions, a file in the way) as one paragraph, not a traceback.
    (A full disk is already a BenchError from ssl_music_bench/io.py.)"""
    try:
        yield
    except OSError as error:
        raise BenchError(f"Could not write {what} to {target} ({error.strerror or error}): choose a folder you can "
                         "write to, or fix the permissions of this one.") from error


def command_status(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.contracts.registry import TASKS
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.report.status import grid, other_runs, render_status

    protocol = load_protocol(args.protocol)
    tasks = args.task or TASKS.names("synth-*")
    for task in tasks:
        TASKS.get(task)  # refuse unknown names with a suggestion
    seeds = args.seeds or list(protocol.seeds)  # parsed and checked by the parser (cli/parser.py)
    home = resolve_home(args.home)
    cells = grid(home, protocol, tasks, seeds)
    sys.stdout.write(render_status(cells, protocol, tasks, seeds, other_runs(home, protocol, cells)))
