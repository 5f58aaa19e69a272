"""`bench status`: which (method, encoder, task, seed) cells of a protocol are done, missing or failed.

The grid is every registered method with every compatible encoder, on the chosen tasks, for the
protocol's seeds. A cell is done when its run record exists, failed when the last attempt left
a failure note (written by ``bench run`` when it crashed), missing otherwise. The commands that
fill the holes are printed, ready to paste.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssl_music_bench.contracts.compatibility import compatible_encoders
from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.contracts.registry import METHODS
from ssl_music_bench.io import write_json_atomic
from ssl_music_bench.report.records import record_path


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


def _identity(method: str, encoder: str, task: str, seed: int, protocol: str) -> dict[str, Any]:
    return {"method": method, "encoder": encoder, "task": task, "seed": seed, "protocol": {"name": protocol}}


def _failure_beside(record: Path) -> Path:
    return record.parent / "failed" / record.name


def failure_path(home: Path, method: str, encoder: str, task: str, seed: int, protocol: str) -> Path:
    return _failure_beside(record_path(home, _identity(method, encoder, task, seed, protocol)))


def note_failure(  # 7 parameters: the home, the five coordinates of a cell (as `bench run` takes them), the error
    home: Path, method: str, encoder: str, task: str, seed: int, protocol: str, error: BaseException
) -> None:
    write_json_atomic(failure_path(home, method, encoder, task, seed, protocol),
                      {"error": f"{type(error).__name__}: {error}"})


def clear_failure(home: Path, method: str, encoder: str, task: str, seed: int, protocol: str) -> None:
    failure_path(home, method, encoder, task, seed, protocol).unlink(missing_ok=True)


def grid(home: Path, protocol: Protocol, tasks: list[str], seeds: list[int]) -> list[CellState]:
    cells = []
    pairs = [(method, encoder) for method in METHODS.names() for encoder in compatible_encoders(method)]
    for (method, encoder), task, seed in itertools.product(pairs, tasks, seeds):
        record = record_path(home, _identity(method, encoder, task, seed, protocol.name))
        failure = _failure_beside(record)
        if record.is_file():
            cells.append(CellState(method, encoder, task, seed, "done"))
        elif failure.is_file():
            detail = json.loads(failure.read_text()).get("error", "")
            cells.append(CellState(method, encoder, task, seed, "failed", detail))
        else:
            cells.append(CellState(method, encoder, task, seed, "missing"))
    return cells


def render_status(cells: list[CellState], protocol: Protocol, tasks: list[str], seeds: list[int]) -> str:
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
            lines.append(f"# failed: {cell.method} {cell.encoder} {cell.task} seed {cell.seed}: {cell.detail}")
    return "\n".join(lines) + "\n"


__all__ = ["CellState", "grid", "note_failure", "clear_failure", "render_status"]
