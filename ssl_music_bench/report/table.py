"""The leaderboard: run records rendered as a table.

One table per protocol (runs under different protocols are not comparable), one row per
method + encoder, one column per task metric, in percent. A cell is the mean over the seeds that
ran with its 95 % confidence interval (Student's t, n - 1 degrees of freedom) and the number of
seeds. In each column the best self-supervised cell is bold and every cell whose interval
overlaps the best one's is marked as tied (italic in markdown, ``\\emph`` in LaTeX). Baseline
rows (the methods registered with a ``baseline`` role: random-init, supervised) are kept at the
bottom and never compete for "best"; published numbers (``--reported``) come last. A
self-supervised cell whose interval lies entirely above (below) the floor row (random-init) of
the same encoder gets an up (down) arrow: whether pretraining beat the untrained encoder, at a
glance. Which kind a row is comes from its records (:func:`row_kind`), never from its name.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from ssl_music_bench.contracts.registry import METHODS, Baseline
from ssl_music_bench.contracts.settings import method_of_label
from ssl_music_bench.report.records import task_label

Row = tuple[str, str]  # (method, encoder)
Column = tuple[str, str]  # (task, metric)
RowKind = Literal["self-supervised", "floor", "ceiling", "reported"]  # "floor"/"ceiling": a Baseline role
REPORTED_METRICS = ("roc_auc", "pr_auc", "accuracy")
# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (checked against scipy in the tests)
T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
       2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
       2.045, 2.042)


def t95(degrees_of_freedom: int) -> float:
    return T95[degrees_of_freedom - 1] if degrees_of_freedom <= len(T95) else 1.960


@dataclass(frozen=True)
class Cell:
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.mean(self.values)

    @property
    def half_width(self) -> float:
        """Half-width of the 95 % confidence interval of the mean (0 for one seed)."""
        n = len(self.values)
        return t95(n - 1) * statistics.stdev(self.values) / math.sqrt(n) if n > 1 else 0.0

    def overlaps(self, other: Cell) -> bool:
        return abs(self.mean - other.mean) <= self.half_width + other.half_width

    def text(self) -> str:
        if len(self.values) == 1:
            return f"{self.mean:.2f}"
        return f"{self.mean:.2f} ± {self.half_width:.2f} (n={len(self.values)})"


def row_kind(record: dict[str, Any]) -> RowKind:
    """Whether a record's row is a self-supervised contender, a baseline (and which), or published.

    Published numbers (report/reported.py) say so with ``"reported": true``. A run record that has
    a ``baseline`` field carries its method's role as registered when it ran. Records written
    before that field existed lack it: their method is looked up in the registry now, and one
    that is not registered (e.g. a plugin not loaded) counts as self-supervised.
    """
    if record.get("reported"):
        return "reported"
    role: Baseline | None = record["baseline"] if "baseline" in record else _registered_baseline(record)
    return role or "self-supervised"


def _registered_baseline(record: dict[str, Any]) -> Baseline | None:
    name = record.get("method_name") or method_of_label(record["method"])
    return METHODS.get(name).baseline if name in METHODS else None


@dataclass(frozen=True)
class ProtocolRows:
    """One protocol's table before formatting: the cells of each row, and what kind each row is."""

    cells: dict[Row, dict[Column, Cell]]
    kinds: dict[Row, RowKind]

    def competes(self, row: Row) -> bool:
        """Whether a row can be best or be compared with the floor: self-supervised runs only."""
        return self.kinds[row] == "self-supervised"

    def floor(self, encoder: str) -> Row | None:
        """The encoder's floor row: a floor method run with its default settings (no ``[...]``)."""
        floors = [row for row, kind in self.kinds.items()
                  if kind == "floor" and row[1] == encoder and method_of_label(row[0]) == row[0]]
        return min(floors, default=None)

    def order(self) -> list[Row]:
        """Self-supervised rows, then baselines, then published numbers; by name within each."""
        def key(row: Row) -> tuple[bool, bool, str, str]:
            kind = self.kinds[row]
            return (kind == "reported", kind in ("floor", "ceiling"), *row)

        return sorted(self.cells, key=key)


def collect(records: list[dict[str, Any]]) -> dict[str, ProtocolRows]:
    """protocol -> its rows (the first record of a row decides the row's kind)."""
    values: dict[str, dict[Row, dict[Column, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    kinds: dict[str, dict[Row, RowKind]] = defaultdict(dict)
    for record in records:
        protocol, row = record["protocol"]["name"], (record["method"], record["encoder"])
        kinds[protocol].setdefault(row, row_kind(record))
        task = task_label(record)  # e.g. mtat@0.01
        for metric in REPORTED_METRICS:
            if metric in record["metrics"]:
                values[protocol][row][(task, metric)].append(100.0 * record["metrics"][metric])
    return {protocol: ProtocolRows({row: {column: Cell(tuple(v)) for column, v in cells.items()}
                                    for row, cells in rows.items()}, kinds[protocol])
            for protocol, rows in values.items()}


def _marks(rows: ProtocolRows, column: Column) -> dict[Row, str]:
    """"best" / "tied" / "" for every row in one column."""
    contenders = {row: cells[column] for row, cells in rows.cells.items() if column in cells and rows.competes(row)}
    if not contenders:
        return {}
    best_row = max(contenders, key=lambda row: contenders[row].mean)
    best = contenders[best_row]
    marks = {row: "tied" for row, cell in contenders.items() if row != best_row and cell.overlaps(best)}
    marks[best_row] = "best"
    return marks


def _floor_marks(rows: ProtocolRows, column: Column) -> dict[Row, str]:
    """"above" / "below" for self-supervised rows whose interval clears the floor row of the
    same encoder in this column (intervals apart); rows that overlap it get nothing."""
    marks = {}
    for row, cells in rows.cells.items():
        floor_row = rows.floor(row[1])
        floor = rows.cells[floor_row].get(column) if floor_row else None
        cell = cells.get(column)
        if floor is None or cell is None or not rows.competes(row) or cell.overlaps(floor):
            continue
        marks[row] = "above" if cell.mean > floor.mean else "below"
    return marks


ARROWS = {
    "md": {"above": " ↑", "below": " ↓"},
    "latex": {"above": " $\\uparrow$", "below": " $\\downarrow$"},
    "csv": {"above": "", "below": ""},  # CSV keeps plain numbers
}

STYLES = {
    "md": {"best": "**{}**", "tied": "*{}*", "": "{}"},
    "latex": {"best": "\\textbf{{{}}}", "tied": "\\emph{{{}}}", "": "{}"},
    "csv": {"best": "{}", "tied": "{}", "": "{}"},
}


def table_rows(records: list[dict[str, Any]], fmt: str = "md") -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per protocol: header and rows of formatted cell strings."""
    tables = {}
    for protocol, rows in sorted(collect(records).items()):
        columns = sorted({column for cells in rows.cells.values() for column in cells})
        marks = {column: _marks(rows, column) for column in columns}
        floors = {column: _floor_marks(rows, column) for column in columns}
        header = ["method", "encoder"] + [f"{task} {metric}" for task, metric in columns]
        body = []
        for row in rows.order():
            cells = []
            for column in columns:
                cell = rows.cells[row].get(column)
                if cell is None:
                    cells.append("-")
                    continue
                arrow = ARROWS[fmt].get(floors[column].get(row, ""), "")
                cells.append(STYLES[fmt][marks[column].get(row, "")].format(cell.text()) + arrow)
            body.append([row[0], row[1], *cells])
        tables[protocol] = (header, body)
    return tables


def render(records: list[dict[str, Any]], fmt: str = "md") -> str:
    """The leaderboard as markdown (default), CSV or LaTeX."""
    if not records:
        return ("No run records yet: run `bench run --method clmr --encoder samplecnn --task synth-tags "
                "--protocol cpu`.\n")
    out = io.StringIO()
    for protocol, (header, body) in table_rows(records, fmt).items():
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(["protocol", *header])
            writer.writerows([protocol, *row] for row in body)
        elif fmt == "latex":
            out.write(f"% protocol {protocol}: metrics in %, mean ± 95% CI over seeds; bold best, italic tied; "
                      "arrows: interval above/below random-init of the same encoder\n")
            out.write("\\begin{tabular}{ll" + "r" * (len(header) - 2) + "}\n\\hline\n")
            out.write(" & ".join(_latex_escape(h) for h in header) + " \\\\\n\\hline\n")
            for row in body:
                cells = [_latex_escape(row[0]), _latex_escape(row[1]), *(c.replace("±", "$\\pm$") for c in row[2:])]
                out.write(" & ".join(cells) + " \\\\\n")
            out.write("\\hline\n\\end{tabular}\n")
        else:
            out.write(f"### Protocol `{protocol}`\n\nMetrics in %, mean ± 95 % confidence interval over seeds (n). "
                      "**Bold**: best self-supervised row; *italic*: interval overlaps the best. "
                      "↑ / ↓: interval entirely above / below random-init with the same encoder "
                      "(no arrow: not distinguishable from it). Baselines at the bottom.\n\n")
            out.write("| " + " | ".join(header) + " |\n")
            out.write("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|\n")
            for row in body:
                out.write("| " + " | ".join(row) + " |\n")
            out.write("\n")
    return out.getvalue()


def _latex_escape(text: str) -> str:
    return text.replace("_", "\\_").replace("&", "\\&").replace("%", "\\%")
