"""`bench prepare` and `bench separate`: real datasets into prepared stores, and their stems."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ssl_music_bench.errors import BenchError


def command_prepare(args: argparse.Namespace, console: Console) -> None:
    """`bench prepare --task T --root DIR`: a real dataset as published -> its prepared store."""
    from ssl_music_bench.contracts.registry import TASKS
    from ssl_music_bench.contracts.task import PreparedTask
    from ssl_music_bench.data.prepare import prepare
    from ssl_music_bench.home import resolve_home

    task = TASKS.get(args.task).obj()
    if not isinstance(task, PreparedTask):
        raise BenchError(
            f'The task "{args.task}" needs no preparation: it is generated or read directly. '
            f"`bench prepare` is for real datasets: "
            f"{', '.join(e.name for e in TASKS.entries() if issubclass(e.obj, PreparedTask)) or '(none registered)'}."
        )
    prepare(task, Path(args.root).expanduser(), resolve_home(args.home), args.workers, console, not args.no_progress)


def command_separate(args: argparse.Namespace, console: Console) -> None:
    """`bench separate --task T`: the open-unmix stems store beside a prepared store's mixtures."""
    import openunmix
    from rich.progress import Progress

    from ssl_music_bench.contracts.registry import TASKS
    from ssl_music_bench.contracts.task import PreparedTask
    from ssl_music_bench.data.separate import separate_store
    from ssl_music_bench.data.separate.weights import openunmix_targets
    from ssl_music_bench.data.store_quarantine import open_or_quarantine
    from ssl_music_bench.devices import default_device
    from ssl_music_bench.home import prepared_path, resolve_home, stems_path

    home = resolve_home(args.home)
    task = TASKS.get(args.task).obj()
    mixtures = prepared_path(home, getattr(task, "store_name", args.task))
    if not isinstance(task, PreparedTask) or not (mixtures / "store.json").is_file():
        raise BenchError(
            f'`bench separate` works on a prepared real dataset: run `bench prepare --task {args.task} --root DIR` '
            f"first (the synthetic corpus needs no separation: its stems are generated with it)."
        )
    device = default_device()
    separator = None
    if args.untrained:
        console.print("[yellow]untrained separator:[/] the stems are meaningless; use it only to check the plumbing")
        separator = getattr(openunmix, args.model)(targets=list(openunmix_targets()), niter=args.niter,
                                                   device=device, pretrained=False)
    source = open_or_quarantine(home, mixtures, f"bench prepare --task {args.task} --root DIR")
    output = stems_path(home, task.store_name)
    _quarantine_damaged(home, output, console)
    with Progress(console=console, disable=args.no_progress) as bar:
        store = separate_store(source, output, separator=separator, weights=args.weights, model=args.model,
                               device=device, niter=args.niter, progress=bar)
    console.print(f"stems of {len(store)} clips written to {store.root}")


def _quarantine_damaged(home: Path, output: Path, console: Console) -> None:
    """A damaged stems store from an earlier `bench separate` is moved to the quarantine (and
    said so), so that this run writes it again instead of refusing the folder."""
    from ssl_music_bench.data.store import ClipStore
    from ssl_music_bench.data.store_integrity import CorruptStore
    from ssl_music_bench.data.store_quarantine import quarantine_store

    if not (output / "store.json").is_file():
        return
    try:
        ClipStore(output)
    except CorruptStore as error:
        moved = quarantine_store(home, error)
        console.print(f"[yellow]warning:[/] {escape(str(error))} It was moved to {escape(str(moved))}; "
                      "separating again.")
