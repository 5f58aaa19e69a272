"""`bench status`: which (method, encoder, task, seed) cells of a protocol are done, missing or failed.

The grid is every registered method with every compatible encoder, on the chosen tasks, for the
protocol's seeds. A cell is done when its run record exists, failed when the last attempt left
a failure note (written by ``bench run`` when it crashed), missing otherwise. The commands that
fill the holes are printed, ready to paste.

A record file is read and checked before its cell counts as done: an unreadable or invalid one
shows the cell as failed, with the reason. A failure note that cannot be read still marks its
cell failed. Writing a note happens while another error propagates, so a note that cannot be
written is reported in one line and never replaces that error.
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ssl_music_bench.contracts.compatibility import compatible_encoders
from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.contracts.registry import METHODS
from ssl_music_bench.data.synthetic_corpus import current_corpus_version
from ssl_music_bench.home import records_dir
from ssl_music_bench.io import write_json_atomic
from ssl_music_bench.report.records import (
    FAILURE_FOLDER,
    corpus_version,
    identity_of_run,
    load_records,
    protocol_version,
    read_record,
    recorded_path,
    task_label,
)


@dataclass(frozen=True)
class CellState:
    method: str
    encoder: str
    task: str
    seed: int
    state: str  # "done", "missing", "failed"
    detail: str = ""

    def command(self, protocol: Protocol) -> str:
        return (f"bench run --method {self.method} --encoder {self.encoder} --task {self.task} "
                f"--protocol {protocol.name} --seed {self.seed}")


def _failure_beside(record: Path) -> Path:
    return record.parent / FAILURE_FOLDER / record.name


def failure_path(home: Path, method: str, encoder: str, task: str, seed: int, protocol: Protocol) -> Path:
    return _failure_beside(recorded_path(home, identity_of_run(method, encoder, task, seed, protocol)))


def note_failure(  # 7 parameters: the home, the five coordinates of a cell (as `bench run` takes them), the error
    home: Path, method: str, encoder: str, task: str, seed: int, protocol: Protocol, error: BaseException
) -> None:
    """Leave a note that the cell's last attempt failed with ``error``, for `bench status`.

    Called while ``error`` propagates: if the note cannot be written (disk full, unwritable
    folder, a name that cannot be a file name), that is said in one line on stderr and the
    caller goes on to show ``error`` itself, which must not be hidden by the second failure.
    """
    try:
        write_json_atomic(failure_path(home, method, encoder, task, seed, protocol),
                          {"error": f"{type(error).__name__}: {error}"})
    except Exception as note_error:  # anything: the error being reported is the one that matters
        print(f"note: the failure note for `bench status` could not be written ({type(note_error).__name__}: "
              f"{' '.join(str(note_error).split())}); the error of the run follows.", file=sys.stderr)


def clear_failure(home: Path, method: str, encoder: str, task: str, seed: int, protocol: Protocol) -> None:
    """Remove the cell's failure note after a successful run (a note this tool wrote)."""
    path = failure_path(home, method, encoder, task, seed, protocol)
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        print(f"warning: the run succeeded, but its old failure note {path} could not be removed "
              f"({error.strerror or error}); `bench status` shows the cell as done, the note is ignored.",
              file=sys.stderr)


def grid(home: Path, protocol: Protocol, tasks: list[str], seeds: list[int]) -> list[CellState]:
    cells = []
    pairs = [(method, encoder) for method in METHODS.names() for encoder in compatible_encoders(method)]
    for (method, encoder), task, seed in itertools.product(pairs, tasks, seeds):
        cells.append(cell_state(home, method, encoder, task, seed, protocol))
    return cells


def cell_state(home: Path, method: str, encoder: str, task: str, seed: int, protocol: Protocol) -> CellState:
    """Done when a valid record of today's protocol version and corpus exists; failed when the
    record is invalid or a failure note exists."""
    path = recorded_path(home, identity_of_run(method, encoder, task, seed, protocol))
    if path.exists():
        record, problem = read_record(path)
        if record is not None:
            return CellState(method, encoder, task, seed, "done")
        return CellState(method, encoder, task, seed, "failed", f"the record {path} is unreadable: {problem}")
    failure = _failure_beside(path)
    if failure.exists():
        return CellState(method, encoder, task, seed, "failed", _failure_detail(failure))
    return CellState(method, encoder, task, seed, "missing")


def _failure_detail(note: Path) -> str:
    """The error a failure note holds, or why the note cannot be read (the cell is failed either way)."""
    try:
        document = json.loads(note.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        return f"the failure note {note} is unreadable ({type(error).__name__}: {error})"
    if not isinstance(document, dict) or not isinstance(document.get("error"), str):
        return f'the failure note {note} is not a JSON object with an "error" string'
    return document["error"]


def other_runs(home: Path, protocol: Protocol, cells: list[CellState]) -> dict[tuple[str, str, str], list[int]]:
    """The protocol's records outside the grid of ``cells``: rows with --set settings (e.g.
    ``clmr[augment.pitch_p=0]``), probes on a label fraction (``synth-tags@0.01``), released
    weights, other tasks or seeds: (method label, encoder, task label) -> their seeds. Records of
    another corpus or protocol version are not today's runs and are left out; unreadable ones are the grid's
    failed cells or `bench table`'s warnings, not listed here."""
    folder = records_dir(home) / protocol.name
    if not folder.is_dir():
        return {}
    in_grid = {(c.method, c.encoder, c.task, c.seed) for c in cells}
    found: dict[tuple[str, str, str], list[int]] = {}
    for record in load_records(folder, warn=lambda message: None):
        if corpus_version(record) != current_corpus_version(record["task"]) or \
                protocol_version(record) != protocol.version:
            continue
        task = task_label(record)
        if (record["method"], record["encoder"], task, record["seed"]) not in in_grid:
            found.setdefault((record["method"], record["encoder"], task), []).append(record["seed"])
    return {key: sorted(seeds) for key, seeds in sorted(found.items())}


def render_status(cells: list[CellState], protocol: Protocol, tasks: list[str], seeds: list[int],
                  others: dict[tuple[str, str, str], list[int]] | None = None) -> str:
    mark = {"done": "✓", "missing": "·", "failed": "✗"}
    lines = [f"protocol {protocol.name}: {sum(c.state == 'done' for c in cells)} done, "
             f"{sum(c.state == 'missing' for c in cells)} missing, {sum(c.state == 'failed' for c in cells)} failed "
             f"(✓ done, · missing, ✗ failed; one mark per seed {', '.join(map(str, seeds))})", ""]
    width = max(len(f"{c.method} {c.encoder}") for c in cells) if cells else 10
    lines.append(" " * width + "  " + "  ".join(tasks))
    by_row: dict[tuple[str, str], list[CellState]] = {}
    for cell in cells:
        by_row.setdefault((cell.method, cell.encoder), []).append(cell)
    for (method, encoder), row in by_row.items():
        marks = ["".join(mark[c.state] for c in row if c.task == task).ljust(len(task)) for task in tasks]
        lines.append(f"{method + ' ' + encoder:<{width}}  " + "  ".join(marks))
    holes = [c for c in cells if c.state != "done"]
    if holes:
        lines += ["", "to fill the holes:"] + [c.command(protocol) for c in holes]
    for cell in cells:
        if cell.state == "failed":
            detail = " ".join(cell.detail.split())  # one line each: a note's text cannot add lines of its own
            lines.append(f"# failed: {cell.method} {cell.encoder} {cell.task} seed {cell.seed}: {detail}")
    if others:
        lines += ["", "also recorded under this protocol (settings, label fractions, weights, tasks or seeds "
                  "outside this grid):"]
        lines += [f"{method} {encoder} {task}: seed{'s' if len(found) > 1 else ''} {', '.join(map(str, found))}"
                  for (method, encoder, task), found in others.items()]
    return "\n".join(lines) + "\n"


__all__ = ["CellState", "cell_state", "grid", "note_failure", "clear_failure", "other_runs", "render_status"]
