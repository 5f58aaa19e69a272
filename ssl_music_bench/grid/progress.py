"""The grid's one progress display: cells done of the total, how many failed, the cells running now.

Workers report from their threads (or the SLURM poller from the main thread); rich's Progress
takes its own lock for every update, and the counts here take this display's lock. Every
finished cell also gets one line above the display (or alone, with progress off), so that a
log of the grid says what happened to each cell.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ssl_music_bench.grid.cells import GridCell
from ssl_music_bench.grid.worker import DONE, FAILED, SKIPPED, CellResult


class GridDisplay:
    def __init__(self, total: int, skipped: int, console: Console, enabled: bool = True) -> None:
        self.console = console
        self.counts = {DONE: 0, SKIPPED: skipped, FAILED: 0}
        self._lock = threading.Lock()
        self._running: dict[GridCell, int] = {}
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, disable=not enabled, transient=False)
        self._grid = self.progress.add_task(self._summary(), total=total, completed=skipped)

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.progress.stop()

    def _summary(self) -> str:
        return (f"grid: {self.counts[DONE]} done, {self.counts[SKIPPED]} skipped, "
                f"[{'red' if self.counts[FAILED] else 'default'}]{self.counts[FAILED]} failed[/]")

    def started(self, cell: GridCell) -> None:
        with self._lock:
            self._running[cell] = self.progress.add_task(f"  {escape(cell.describe())}", total=None)

    def finished(self, result: CellResult) -> None:
        """Count a cell (an interrupted one is not finished: the next grid runs it) and say what became of it."""
        with self._lock:
            task = self._running.pop(result.cell, None)
            if task is not None:
                self.progress.remove_task(task)
            if result.state not in self.counts:
                return
            self.counts[result.state] += 1
            self.progress.update(self._grid, advance=1, description=self._summary())
        # escaped: cells quote --set values and plugin names, reasons quote files and user input
        what = escape(result.cell.describe())
        if result.state == FAILED:
            self.console.print(f"[red]failed[/] {what}: {escape(result.detail)}", highlight=False)
        elif result.state == DONE:
            self.console.print(f"[green]done[/]   {what} ({result.seconds:.0f} s)", highlight=False)
        else:
            self.console.print(f"skipped {what}: its record appeared meanwhile", highlight=False)
