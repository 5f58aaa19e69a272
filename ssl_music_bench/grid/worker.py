"""One grid worker: the cells of one pretraining group, each as a `bench run` subprocess, in turn.

A cell runs as ``python -m ssl_music_bench.cli run ... --no-progress`` rather than in the
grid's own process, so that a crash of one cell (a segfault, an out-of-memory kill) never takes
the grid down, and a killed grid leaves exactly what a killed `bench run` leaves (atomic
records, resumable pretraining). The group's first cell pretrains; the others find its
checkpoint. The same function runs in a local worker thread and in a SLURM job (slurm.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ssl_music_bench.grid.cells import GridCell

if TYPE_CHECKING:
    from ssl_music_bench.contracts.protocol import Protocol

DONE, SKIPPED, FAILED, INTERRUPTED = "done", "skipped", "failed", "interrupted"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # torch's intra-op pool follows OMP_NUM_THREADS
REASON_CHARACTERS = 800  # a reason is one paragraph; the whole output goes to the cell's log


@dataclass(frozen=True)
class CellResult:
    """What became of one cell: ``detail`` is the record path (done, skipped) or the one-paragraph
    reason (failed, interrupted)."""

    cell: GridCell
    state: str
    detail: str
    seconds: float = 0.0


def cell_identity(cell: GridCell, protocol: Protocol) -> dict:
    """The fields of a record that name its file (report/records.py record_path), for a run made
    now: under today's version of the protocol, on today's synthetic corpus."""
    from ssl_music_bench.report.records import identity_of_run

    return identity_of_run(cell.label, cell.encoder, cell.task, cell.seed, protocol, cell.label_fraction)


def cell_record_path(cell: GridCell, home: Path) -> Path | None:
    """The cell's run record if it exists and is valid (done), else None: found where `bench run`
    writes it and checked with the same reader as `bench table` and `bench status`."""
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.report.records import read_record, recorded_path

    path = recorded_path(Path(home), cell_identity(cell, load_protocol(cell.protocol)))
    return path if path.exists() and read_record(path)[0] is not None else None


def cell_command(cell: GridCell, home: Path, plugins: Sequence[str]) -> list[str]:
    """The `bench run` command line of a cell, through this interpreter."""
    command = [sys.executable, "-m", "ssl_music_bench.cli", "run", *cell.run_arguments(), "--home", str(home),
               "--no-progress"]
    for plugin in plugins:
        command += ["--plugin", str(Path(plugin).resolve())]
    return command


def worker_environment(threads: int | None, device: str | None) -> dict[str, str]:
    """The environment of a cell's process: its share of the CPU threads (several workers each
    using every core only fight over them) and, when given, its one GPU."""
    environment = dict(os.environ)
    if threads is not None:
        environment.update({name: str(threads) for name in THREAD_VARIABLES})
    if device is not None:
        environment["CUDA_VISIBLE_DEVICES"] = device
    return environment


def run_cell(  # the cell, where it runs, and the runner's two hooks
    cell: GridCell, home: Path, plugins: Sequence[str] = (), threads: int | None = None, device: str | None = None,
    started: Callable[[subprocess.Popen], None] | None = None, stopping: Callable[[], bool] = lambda: False,
) -> CellResult:
    """Run one cell unless its record already exists; a failure is a result, never an exception.
    ``stopping`` says whether the grid is being stopped (Ctrl-C): a cell that ends then is
    interrupted, not failed, whatever its exit status (`bench run` exits 130 after a Ctrl-C, but a
    cell the grid had to terminate, or a plugin's own training loop, may end otherwise)."""
    home = Path(home)
    if (existing := cell_record_path(cell, home)) is not None:  # e.g. written since the grid looked
        return CellResult(cell, SKIPPED, str(existing))
    began, began_wall = time.monotonic(), time.time()
    process = subprocess.Popen(cell_command(cell, home, plugins), env=worker_environment(threads, device),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace")
    if started is not None:
        started(process)
    output, _ = process.communicate()
    seconds = time.monotonic() - began
    interrupted = process.returncode in (130, -signal.SIGINT) or (process.returncode != 0 and stopping())
    if interrupted:  # `bench run` after Ctrl-C keeps nothing half-written; the next grid runs the cell
        return CellResult(cell, INTERRUPTED, "interrupted", seconds)
    record = cell_record_path(cell, home)
    if process.returncode == 0 and record is not None:
        return CellResult(cell, DONE, str(record), seconds)
    reason = failure_reason(cell, home, process.returncode, output, began_wall)
    return CellResult(cell, FAILED, record_failure(cell, home, reason, output), seconds)


def run_group(cells: Sequence[GridCell], home: Path, plugins: Sequence[str] = (), threads: int | None = None,
              device: str | None = None, stop: Callable[[], bool] = lambda: False,
              started: Callable[[GridCell, subprocess.Popen], None] | None = None,
              finished: Callable[[CellResult], None] | None = None) -> list[CellResult]:
    """The cells of one pretraining group in turn (a SLURM job's function, a local worker's work).
    ``stop`` is asked before each cell: after a Ctrl-C the rest are left for the next grid."""
    results = []
    for cell in cells:
        if stop():
            break
        hook = None if started is None else (lambda process, cell=cell: started(cell, process))
        result = run_cell(cell, home, plugins, threads, device, hook, stop)
        results.append(result)
        if finished is not None:
            finished(result)
        if result.state == INTERRUPTED:
            break
    return results


def failure_reason(cell: GridCell, home: Path, returncode: int, output: str, began_wall: float) -> str:
    """One paragraph: the failure note `bench run` left for this attempt (a crash), else the last
    paragraph of its output (a BenchError's message, a traceback's last lines), else the exit status."""
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.report.status import failure_path

    note = failure_path(home, cell.label, cell.encoder, cell.task, cell.seed, load_protocol(cell.protocol))
    if cell.label_fraction == 1.0 and note.exists() and note.stat().st_mtime >= began_wall - 1:
        try:
            return one_line(json.loads(note.read_text(encoding="utf-8"))["error"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    paragraphs = [p for p in output.strip().split("\n\n") if p.strip()]
    last = paragraphs[-1] if paragraphs else ""
    if "Traceback (most recent call last)" in last:  # the exception's own line says what happened
        last = last.strip().splitlines()[-1]
    if returncode == -signal.SIGKILL:  # no message of its own: the last line says where it was
        where = last.strip().splitlines()[-1] if last.strip() else "before any output"
        return one_line(f"killed by SIGKILL (signal 9), which the kernel's out-of-memory killer sends when memory "
                        f"runs out (`dmesg` says whether it did): give the cell more memory (fewer --jobs, a smaller "
                        f"batch, a larger machine); it was at: {where}")
    status = f"signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    return one_line(f"{last.removeprefix('error: ')} ({status})" if last else f"`bench run` ended with {status}")


def one_line(text: str) -> str:
    words = " ".join(str(text).split())
    return words if len(words) <= REASON_CHARACTERS else words[: REASON_CHARACTERS - 3] + "..."


def record_failure(cell: GridCell, home: Path, reason: str, output: str) -> str:
    """Keep the cell's whole output in its log, and leave the failure note `bench status` reads
    (`bench run` writes one for a crash, none for a refused input): the reason, naming the log."""
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.home import grid_log_path
    from ssl_music_bench.io import write_json_atomic, write_text_atomic
    from ssl_music_bench.report.records import recorded_path
    from ssl_music_bench.report.status import failure_path

    protocol = load_protocol(cell.protocol)
    log = grid_log_path(home, protocol.name, recorded_path(home, cell_identity(cell, protocol)).stem)
    try:
        write_text_atomic(log, output)
        reason = f"{reason} [log: {log}]"
        if cell.label_fraction == 1.0:  # `bench status` shows the full-label grid
            write_json_atomic(failure_path(home, cell.label, cell.encoder, cell.task, cell.seed, protocol),
                              {"error": reason})
    except Exception as error:  # the cell's failure is the news; a log that cannot be kept is a footnote
        reason = f"{reason} (its log could not be written: {type(error).__name__}: {one_line(error)})"
    return reason
