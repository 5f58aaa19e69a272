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

A cell of one seed has no interval, so it shows its value only: it is never marked tied and gets
no arrow (one number cannot lie "entirely" above anything).

Below the rows, a footer per encoder says what a column can show at all (issue 12): its
``headroom`` (ceiling - floor: the supervised row's mean minus the random-init row's) and its
``resolution`` (the test split's own 95 % bootstrap half-width, evaluate/resolution.py, of the
floor's and of the ceiling's runs of that encoder, each the median over its seeds, and the
larger of the two: the two ends of the column bound the rows between them; "-" for records
written before it was stored; benchmarks/task_headroom.py and docs/TASKS.md use the same).
A footer cell that misses its target is marked ✗: headroom below 15 points, or a resolution
wider than a fifth of the headroom (fewer than five distinguishable levels between floor and
ceiling). A cell that includes a run whose pretraining loss had not flattened
(``pretraining.convergence``, train/convergence.py) is marked †.

Records of different synthetic corpus versions (``dataset.corpus_version``) or protocol versions
(``protocol.version``) are never mixed: each (protocol, protocol version, corpus version) gets its
own table, the newest versions of a protocol first. A record written before the field existed
is of corpus version 1 when its task is a built-in synthetic one (then all were named
``synth-...``) and of real data otherwise.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from ssl_music_bench.contracts.registry import METHODS, Baseline
from ssl_music_bench.contracts.settings import method_of_label
from ssl_music_bench.evaluate.metrics import JUDGED_METRIC
from ssl_music_bench.report.records import corpus_version, protocol_version, task_label

Row = tuple[str, str]  # (method, encoder)
Column = tuple[str, str]  # (task, metric)
RowKind = Literal["self-supervised", "floor", "ceiling", "reported"]  # "floor"/"ceiling": a Baseline role
TableKey = tuple[str, int, "int | None"]  # (protocol, its version, synthetic corpus version; None: real data)
REPORTED_METRICS = ("roc_auc", "pr_auc", "accuracy")
HEADROOM_TARGET = 15.0  # points of the headline metric between floor and ceiling (issue 12)
LEVELS_TARGET = 5  # the resolution must be at most headroom / 5: five levels between floor and ceiling
HEADLINE_METRICS = tuple(JUDGED_METRIC.values())  # what the targets are judged on (issue 12: PR-AUC for tagging)
NOT_CONVERGED = "†"
MISSES_TARGET = " ✗"
# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (checked against scipy in the tests)
T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
       2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
       2.045, 2.042)


def t95(degrees_of_freedom: int) -> float:
    return T95[degrees_of_freedom - 1] if degrees_of_freedom <= len(T95) else 1.960


@dataclass(frozen=True)
class Cell:
    values: tuple[float, ...]
    # the test-set half-width (points) of each of its records that stored one (evaluate/resolution.py)
    resolutions: tuple[float, ...] = ()
    not_converged: bool = False  # one of its runs' pretraining loss had not flattened

    @property
    def has_interval(self) -> bool:
        return len(self.values) > 1

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
    # a published row -> the registered method it reports (report/reported.py), to sit beside its runs
    reports: dict[Row, str] = field(default_factory=dict)

    def competes(self, row: Row) -> bool:
        """Whether a row can be best or be compared with the floor: self-supervised runs only."""
        return self.kinds[row] == "self-supervised"

    def floor(self, encoder: str) -> Row | None:
        """The encoder's floor row: a floor method run with its default settings (no ``[...]``)."""
        floors = [row for row, kind in self.kinds.items()
                  if kind == "floor" and row[1] == encoder and method_of_label(row[0]) == row[0]]
        return min(floors, default=None)

    def ceiling(self, encoder: str) -> Row | None:
        """The encoder's ceiling row: a ceiling method run with its default settings."""
        ceilings = [row for row, kind in self.kinds.items()
                    if kind == "ceiling" and row[1] == encoder and method_of_label(row[0]) == row[0]]
        return min(ceilings, default=None)

    def encoders(self) -> list[str]:
        return sorted({encoder for (_, encoder), kind in self.kinds.items() if kind != "reported"})

    def order(self) -> list[Row]:
        """Self-supervised rows, then baselines, then published numbers; by name within each. A
        published row of a method and encoder that ran sits right below that run's row (side by
        side with what reproduces it); the others come last."""
        def key(row: Row) -> tuple[bool, bool, str, str]:
            kind = self.kinds[row]
            return (kind == "reported", kind in ("floor", "ceiling"), *row)

        ordered = sorted(self.cells, key=key)
        partners = {row: self._partner(row) for row in ordered if row in self.reports}
        result = [row for row in ordered if partners.get(row) is None]
        for row in ordered:
            partner = partners.get(row)
            if partner is not None:
                at = result.index(partner) + 1
                while at < len(result) and partners.get(result[at]) == partner:
                    at += 1
                result.insert(at, row)
        return result

    def _partner(self, reported: Row) -> Row | None:
        """The run row a published row reports: same method (its default settings first) and encoder."""
        runs = [row for row in self.cells if self.kinds[row] != "reported" and row[1] == reported[1]
                and method_of_label(row[0]) == self.reports[reported]]
        return min(runs, key=lambda row: (row[0] != self.reports[reported], row[0]), default=None)


def _convergence_failed(record: dict[str, Any]) -> bool:
    figure = (record.get("pretraining") or {}).get("convergence")
    return isinstance(figure, dict) and figure.get("converged") is False


def collect(records: list[dict[str, Any]]) -> dict[TableKey, ProtocolRows]:
    """(protocol, protocol version, corpus version) -> its rows (the first record of a row decides
    the row's kind)."""
    values: dict[TableKey, dict[Row, dict[Column, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    resolutions: dict[TableKey, dict[Row, dict[Column, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    unconverged: dict[TableKey, set[tuple[Row, Column]]] = defaultdict(set)
    kinds: dict[TableKey, dict[Row, RowKind]] = defaultdict(dict)
    reports: dict[TableKey, dict[Row, str]] = defaultdict(dict)  # published row -> the method it reports
    for record in records:
        key = (record["protocol"]["name"], protocol_version(record), corpus_version(record))
        row = (record["method"], record["encoder"])
        kinds[key].setdefault(row, row_kind(record))
        if record.get("reported") and record.get("method_name"):
            reports[key][row] = record["method_name"]
        task = task_label(record)  # e.g. mtat@0.01
        for metric in REPORTED_METRICS:
            if metric in record["metrics"]:
                values[key][row][(task, metric)].append(100.0 * record["metrics"][metric])
                if metric in (record.get("resolution") or {}):
                    resolutions[key][row][(task, metric)].append(100.0 * record["resolution"][metric])
                if _convergence_failed(record):
                    unconverged[key].add((row, (task, metric)))
    return {key: ProtocolRows({row: {column: Cell(tuple(v), tuple(resolutions[key][row][column]),
                                                  (row, column) in unconverged[key])
                                     for column, v in cells.items()}
                               for row, cells in rows.items()}, kinds[key], reports[key])
            for key, rows in values.items()}


def _marks(rows: ProtocolRows, column: Column) -> dict[Row, str]:
    """"best" / "tied" / "" for every row in one column."""
    contenders = {row: cells[column] for row, cells in rows.cells.items() if column in cells and rows.competes(row)}
    if not contenders:
        return {}
    best_row = max(contenders, key=lambda row: contenders[row].mean)
    best = contenders[best_row]
    marks = {row: "tied" for row, cell in contenders.items()
             if row != best_row and cell.has_interval and cell.overlaps(best)}
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
        if floor is None or cell is None or not rows.competes(row) or not cell.has_interval or cell.overlaps(floor):
            continue  # a cell of one seed has no interval to lie above or below anything
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


@dataclass(frozen=True)
class Footer:
    """One encoder's headroom and resolution in one column, in points (None: not measurable)."""

    headroom: float | None
    resolution: float | None
    judged: bool = True  # the targets hold for a task's headline metric only (ROC-AUC is shown, not judged)

    @property
    def headroom_missed(self) -> bool:
        return self.judged and self.headroom is not None and self.headroom < HEADROOM_TARGET

    @property
    def resolution_missed(self) -> bool:
        return (self.judged and self.headroom is not None and self.resolution is not None
                and self.resolution > max(self.headroom, 0.0) / LEVELS_TARGET)


def footer(rows: ProtocolRows, encoder: str, column: Column) -> Footer:
    """The encoder's headroom (ceiling mean - floor mean) and resolution (the larger of its floor's
    and its ceiling's stored test-set half-width, each the median over seeds) in one column."""
    floor_row, ceiling_row = rows.floor(encoder), rows.ceiling(encoder)
    floor = rows.cells[floor_row].get(column) if floor_row else None
    ceiling = rows.cells[ceiling_row].get(column) if ceiling_row else None
    headroom = ceiling.mean - floor.mean if floor and ceiling else None
    widths = [statistics.median(cell.resolutions) for cell in (floor, ceiling) if cell and cell.resolutions]
    return Footer(headroom, max(widths) if widths else None, column[1] in HEADLINE_METRICS)


def _footer_rows(rows: ProtocolRows, columns: list[Column], fmt: str) -> list[list[str]]:
    """Per encoder: a headroom row and a resolution row (the targets missed marked, except in CSV)."""
    body = []
    mark = "" if fmt == "csv" else MISSES_TARGET
    for encoder in rows.encoders():
        footers = [footer(rows, encoder, column) for column in columns]
        if all(f.headroom is None and f.resolution is None for f in footers):
            continue
        body.append(["headroom", encoder, *("-" if f.headroom is None else
                                            f"{f.headroom:.2f}" + (mark if f.headroom_missed else "") for f in footers)])
        body.append(["resolution ±", encoder, *("-" if f.resolution is None else
                                                f"{f.resolution:.2f}" + (mark if f.resolution_missed else "")
                                                for f in footers)])
    return body


@dataclass(frozen=True)
class Table:
    """One (protocol, corpus version)'s table, formatted: header, rows, footer rows, and whether
    a cell carries the not-converged flag (so the legend mentions it)."""

    header: list[str]
    body: list[list[str]]
    footer: list[list[str]]
    flagged: bool


def table_rows(records: list[dict[str, Any]], fmt: str = "md") -> dict[TableKey, Table]:
    """Per (protocol, corpus version): header, rows and footer of formatted cell strings."""
    tables = {}
    # per protocol the newest first (protocol version, then corpus version): what a reader wants
    # to see is today's table; older versions follow, kept apart
    for key, rows in sorted(collect(records).items(), key=lambda item: (item[0][0], -item[0][1], -(item[0][2] or 0))):
        columns = sorted({column for cells in rows.cells.values() for column in cells})
        marks = {column: _marks(rows, column) for column in columns}
        floors = {column: _floor_marks(rows, column) for column in columns}
        header = ["method", "encoder"] + [f"{task} {metric}" for task, metric in columns]
        body, flagged = [], False
        for row in rows.order():
            cells = []
            for column in columns:
                cell = rows.cells[row].get(column)
                if cell is None:
                    cells.append("-")
                    continue
                arrow = ARROWS[fmt].get(floors[column].get(row, ""), "")
                flag = NOT_CONVERGED if cell.not_converged and fmt != "csv" else ""
                flagged |= cell.not_converged
                cells.append(STYLES[fmt][marks[column].get(row, "")].format(cell.text()) + flag + arrow)
            body.append([row[0], row[1], *cells])
        tables[key] = Table(header, body, _footer_rows(rows, columns, fmt), flagged)
    return tables


def _title(key: TableKey, quote: str = "") -> str:
    """e.g. ``cpu version 2 · synthetic corpus v3``: the version from 2 on, the corpus for synthetic tasks."""
    protocol, revision, corpus = key
    title = f"{quote}{protocol}{quote}" + (f" version {revision}" if revision > 1 else "")
    return title if corpus is None else f"{title} · synthetic corpus v{corpus}"


FOOTER_LEGEND = ("headroom: supervised minus random-init of the encoder; resolution ±: the larger of the floor's and "
                 "the ceiling's test-set 95 % bootstrap half-width, each the median over seeds (- : not stored); it is the "
                 "test set's sampling error only: a run's own variation from seed to seed (initialisation, data order, "
                 "the float order of a thread count) comes on top, so a one-seed difference above it is not yet a "
                 "ranking. ✗: misses its "
                 f"target (headroom >= {HEADROOM_TARGET:g} points; resolution <= headroom / {LEVELS_TARGET}; judged "
                 "on the headline metrics, accuracy and PR-AUC).")
FLAG_LEGEND = f"{NOT_CONVERGED}: includes a run whose pretraining loss had not flattened (pretraining.convergence)."


def render(records: list[dict[str, Any]], fmt: str = "md") -> str:
    """The leaderboard as markdown (default), CSV or LaTeX."""
    if not records:
        return ("No run records yet: run `bench run --method clmr --encoder samplecnn --task synth-tags "
                "--protocol cpu`.\n")
    out = io.StringIO()
    for key, table in table_rows(records, fmt).items():
        header, body, footer_rows = table.header, table.body, table.footer
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(["protocol", "protocol_version", "corpus_version", *header])
            writer.writerows([key[0], key[1], "" if key[2] is None else key[2], *row] for row in body + footer_rows)
        elif fmt == "latex":
            out.write(f"% protocol {_title(key)}: metrics in %, mean ± 95% CI over seeds; bold best, italic tied; "
                      "arrows: interval above/below random-init of the same encoder\n")
            if footer_rows:
                out.write(f"% {FOOTER_LEGEND}\n")
            if table.flagged:
                out.write(f"% {FLAG_LEGEND}\n")
            out.write("\\begin{tabular}{ll" + "r" * (len(header) - 2) + "}\n\\hline\n")
            out.write(" & ".join(_latex_escape(h) for h in header) + " \\\\\n\\hline\n")
            for position, row in enumerate(body + footer_rows):
                if position == len(body) and footer_rows:
                    out.write("\\hline\n")
                cells = [_latex_escape(row[0]).replace("±", "$\\pm$"), _latex_escape(row[1]),
                         *(c.replace("±", "$\\pm$").replace(NOT_CONVERGED, "$^\\dagger$").replace("✗", "$\\times$")
                           for c in row[2:])]
                out.write(" & ".join(cells) + " \\\\\n")
            out.write("\\hline\n\\end{tabular}\n")
        else:
            out.write(f"### Protocol {_title(key, quote='`')}\n\n")
            out.write("Metrics in %, mean ± 95 % confidence interval over seeds (n; one seed: no interval). "
                      "**Bold**: best self-supervised row; *italic*: interval overlaps the best. "
                      "↑ / ↓: interval entirely above / below random-init with the same encoder "
                      "(no arrow: not distinguishable from it, or one seed). Baselines at the bottom.")
            if footer_rows:
                out.write(" " + FOOTER_LEGEND)
            if table.flagged:
                out.write(" " + FLAG_LEGEND)
            out.write("\n\n| " + " | ".join(header) + " |\n")
            out.write("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|\n")
            for row in body:
                out.write("| " + " | ".join(row) + " |\n")
            for row in footer_rows:
                out.write("| " + " | ".join([f"*{row[0]}*", *row[1:]]) + " |\n")
            out.write("\n")
    return out.getvalue()


def _latex_escape(text: str) -> str:
    return text.replace("_", "\\_").replace("&", "\\&").replace("%", "\\%")
