"""`bench grid`'s engine: run every missing cell of a grid, N workers per device, resumable.

A cell is done when its valid run record exists (``cell_record_path``), so a grid run again
skips what is done, and `bench run`'s own resume checkpoints continue a pretraining a kill
interrupted. The missing cells are split into pretraining groups (cells.py); one worker takes
one group and runs its cells in turn, so that each (method, encoder, settings, seed) pretrains
once. Workers are threads that each wait on one `bench run` process (worker.py), ``jobs`` per
device; each gets ``cores // workers`` CPU threads and, with ``devices``, its GPU through
CUDA_VISIBLE_DEVICES. ``launcher="slurm"`` submits the same groups as a job array (slurm.py).

A failed cell is reported with its reason and the grid goes on. Ctrl-C stops the grid: no new
cell starts, the running `bench run` processes are interrupted (they keep nothing half-written)
and the same command continues later. A SIGTERM (`kill`, a batch system's preemption) does the
same and passes the SIGTERM on to the cells: without that, the grid died alone and the cells it
had started went on training with nobody waiting for them (seen 2026-12-03).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ssl_music_bench.errors import BenchError, Terminated
from ssl_music_bench.grid.cells import GridCell
from ssl_music_bench.grid.progress import GridDisplay
from ssl_music_bench.grid.worker import DONE, FAILED, SKIPPED, CellResult, cell_record_path, run_group

LAUNCHERS = ("local", "slurm")
INTERRUPT_GRACE_S = 2.0  # a terminal's Ctrl-C reaches the cells too; give them that long before signalling them


@dataclass
class GridOutcome:
    """What a grid run did: cells run now with their record, cells already done, cells that failed
    with their one-paragraph reason (``not_run``: cells left for the next run after a Ctrl-C)."""

    done: list[tuple[GridCell, Path]] = field(default_factory=list)
    skipped: list[tuple[GridCell, Path]] = field(default_factory=list)
    failed: list[tuple[GridCell, str]] = field(default_factory=list)
    not_run: list[GridCell] = field(default_factory=list)

    def add(self, result: CellResult) -> None:
        if result.state == DONE:
            self.done.append((result.cell, Path(result.detail)))
        elif result.state == SKIPPED:
            self.skipped.append((result.cell, Path(result.detail)))
        elif result.state == FAILED:
            self.failed.append((result.cell, result.detail))


def pretraining_groups(cells: Sequence[GridCell]) -> list[list[GridCell]]:
    """The cells split by pretraining group, in the order of each group's first cell."""
    groups: dict[tuple, list[GridCell]] = {}
    for cell in cells:
        groups.setdefault(cell.pretraining_group(), []).append(cell)
    return list(groups.values())


def threads_per_worker(workers: int) -> int:
    """This machine's cores (those this process may use) shared among the workers, at least one each."""
    return max(1, len(os.sched_getaffinity(0)) // workers)


def run_grid(  # the contract of grid_api.md, plus the SLURM job parameters
    cells: list[GridCell], home: Path, *, jobs: int = 1, devices: list[str] | None = None, launcher: str = "local",
    progress: bool = True, console: Console | None = None, plugins: Sequence[str] = (),
    slurm: Mapping[str, Any] | None = None,
) -> GridOutcome:
    """Run every cell of ``cells`` whose record is missing; see the module's docstring.

    ``jobs``: concurrent workers per device (local launcher); ``devices``: GPU indices (``0``,
    ``cuda:1``) or ``cpu``, each given ``jobs`` workers; ``slurm``: the job parameters of the
    slurm launcher (slurm.py). A Ctrl-C is re-raised after the running cells have stopped.
    """
    from ssl_music_bench.run_spec import check_count

    check_count("--jobs", jobs, "concurrent workers per device")
    if launcher not in LAUNCHERS:
        raise BenchError(f"Unknown launcher {launcher!r}: use local (processes on this machine) or slurm (a job array "
                         "through submitit).")
    console = console or Console(stderr=True, soft_wrap=True)
    home = Path(home)
    unique = list(dict.fromkeys(cells))
    outcome = GridOutcome()
    missing = []
    for cell in unique:
        record = cell_record_path(cell, home)
        if record is None:
            missing.append(cell)
        else:
            outcome.skipped.append((cell, record))
    groups = pretraining_groups(missing)
    slots = [normalise_device(d) for d in devices] if devices else [None]
    console.print(f"grid: {len(unique)} cells, {len(outcome.skipped)} already done, {len(missing)} to run in "
                  f"{len(groups)} pretraining groups"
                  + (f" ({jobs} per device on {len(slots)} devices)" if devices else f" ({jobs} at a time)"),
                  highlight=False)
    results: list[CellResult] = []  # filled as cells finish, so that a Ctrl-C still tells what was done
    previous_handler = _terminate_on_sigterm()
    try:
        with GridDisplay(len(unique), len(outcome.skipped), console, enabled=progress) as display:
            if launcher == "slurm":
                from ssl_music_bench.grid.slurm import run_on_slurm

                run_on_slurm(groups, home, plugins, dict(slurm or {}), display, results)
            else:
                _run_local(groups, home, plugins, jobs, slots, display, results)
    except KeyboardInterrupt as stop:
        stopped = GridTerminated if isinstance(stop, Terminated) else GridInterrupted
        raise stopped(_settle(outcome, results, missing)) from None
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    return _settle(outcome, results, missing)


def _terminate_on_sigterm():  # the handler it replaced, or None where none was replaced
    """A SIGTERM raises :class:`~ssl_music_bench.errors.Terminated` (a KeyboardInterrupt) in the
    grid's main thread, so it stops the grid as a Ctrl-C does. Signal handlers can only be set
    from the main thread; a grid run from another thread keeps Python's default."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(number: int, frame: object) -> None:
        raise Terminated

    return signal.signal(signal.SIGTERM, terminate)


class GridInterrupted(KeyboardInterrupt):
    """A Ctrl-C stopped the grid; ``outcome`` says what was done before it (the rest is ``not_run``)."""

    def __init__(self, outcome: GridOutcome) -> None:
        super().__init__("the grid was interrupted")
        self.outcome = outcome


class GridTerminated(GridInterrupted, Terminated):
    """A SIGTERM stopped the grid; the CLI exits 143 instead of 130."""


def _settle(outcome: GridOutcome, results: list[CellResult], missing: list[GridCell]) -> GridOutcome:
    for result in results:
        outcome.add(result)
    ran = {result.cell for result in results if result.state in (DONE, SKIPPED, FAILED)}
    outcome.not_run = [cell for cell in missing if cell not in ran]
    return outcome


def normalise_device(device: str) -> str:
    """A CUDA_VISIBLE_DEVICES value: ``cuda:1`` and ``1`` are GPU 1; ``cpu`` hides every GPU."""
    text = str(device).strip().lower()
    if text == "cpu":
        return ""
    index = text.removeprefix("cuda:")
    if not index.isdigit():
        raise BenchError(f"--devices takes GPU indices (0,1 or cuda:0,cuda:1) or cpu, not {device!r}. "
                         "`nvidia-smi -L` lists this machine's GPUs.")
    return index


class _LocalPool:
    """The running `bench run` processes, so that a Ctrl-C can reach each of them."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._stop_signal: int = signal.SIGINT
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen] = set()

    def stop(self, number: int) -> None:
        """Start no new cell; one that a worker was already starting gets signal ``number`` too."""
        with self._lock:
            self._stop_signal = number
            self.stopping.set()

    def started(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._processes.add(process)
            if self.stopping.is_set():  # started while the grid was being stopped: the same signal
                process.send_signal(self._stop_signal)

    def running(self) -> list[subprocess.Popen]:
        with self._lock:
            self._processes = {p for p in self._processes if p.poll() is None}
            return list(self._processes)

    def signal_all(self, number: int) -> None:
        for process in self.running():
            try:
                process.send_signal(number)
            except ProcessLookupError:
                pass


def _run_local(groups: list[list[GridCell]], home: Path, plugins: Sequence[str], jobs: int,
               slots: list[str | None], display: GridDisplay, results: list[CellResult]) -> None:
    workers = jobs * len(slots)
    threads = threads_per_worker(workers)
    free_devices: list[str | None] = [device for device in slots for _ in range(jobs)]
    devices_lock = threading.Lock()
    pool = _LocalPool()

    def work(group: list[GridCell]) -> list[CellResult]:
        with devices_lock:
            device = free_devices.pop()  # the pool has as many threads as devices x jobs: one is free
        try:
            return run_group(group, home, plugins, threads, device, stop=pool.stopping.is_set,
                             started=lambda cell, process: (display.started(cell), pool.started(process)),
                             finished=display.finished)
        finally:
            with devices_lock:
                free_devices.append(device)

    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grid-worker")
    futures: set[Future] = {executor.submit(work, group) for group in groups}
    try:
        while futures:
            finished, futures = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                results += future.result()
    except KeyboardInterrupt as stop:
        _stop(pool, futures, results, signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT)
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _stop(pool: _LocalPool, futures: set[Future], results: list[CellResult], number: int) -> None:
    """After a Ctrl-C (or a SIGTERM): start no new cell, pass the signal ``number`` on to the
    running ones (a terminal's Ctrl-C already reached them; a signal sent to the grid alone did
    not), and wait until they have stopped. A second signal kills them: `bench run` keeps nothing
    half-written even then."""
    pool.stop(number)
    try:
        deadline = time.monotonic() + INTERRUPT_GRACE_S
        while pool.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        pool.signal_all(number)
        for future in futures:
            results += future.result()
    except KeyboardInterrupt:
        pool.signal_all(signal.SIGKILL)
