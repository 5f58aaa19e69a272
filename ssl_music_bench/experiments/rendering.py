"""An experiment's records rendered as its paper's table (markdown), and its figure (PNG).

One row per row of the experiment (expansion.py), one column per task metric (per label
fraction for ``fractions``, per pretraining step for ``along``), each cell the mean over seeds
in percent with its 95 % confidence interval (report/table.py's Cell). The paper's reported
numbers, where FACTS.md has them, sit in a last column beside each row and under the table;
they are on the paper's real datasets and protocol, ours on the given protocol's data, so they
show the expected ordering, not values to match. A cell whose record is missing (not run yet,
or failed) is "-". A last row gives each column's resolution: the median of its records' test-set
95 % bootstrap half-widths (the run record's ``resolution``; along pretraining, that of the final
weights): two rows closer than it are not told apart by the test set, whatever the seeds say.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from ssl_music_bench.experiments.definitions import Experiment
from ssl_music_bench.experiments.expansion import ExperimentCell
from ssl_music_bench.grid.runner import cell_record_path
from ssl_music_bench.report import plots
from ssl_music_bench.report.records import read_record
from ssl_music_bench.report.table import Cell

HEADLINE_METRICS = ("roc_auc", "pr_auc", "accuracy")
MISSING = "-"
RESOLUTION_ROW = "*resolution ±*"

Column = tuple[str, str, str]  # (task, metric, condition: "" or "10 %" or "step 5")


def experiment_records(cells: list[ExperimentCell], home: Path) -> list[tuple[ExperimentCell, dict[str, Any] | None]]:
    """Each cell with its valid record, or None where there is none (not run, or failed)."""
    found = []
    for entry in cells:
        path = cell_record_path(entry.cell, home)
        record = read_record(path)[0] if path is not None else None
        found.append((entry, record))
    return found


def _values(experiment: Experiment, entry: ExperimentCell, record: dict[str, Any]) -> list[tuple[Column, float]]:
    task = record["task"]
    metrics = [m for m in HEADLINE_METRICS if m in record["metrics"]]
    if experiment.layout != "along":
        return [((task, m, entry.condition), 100 * record["metrics"][m]) for m in metrics]
    return [((task, m, f"step {point['step']}"), 100 * point["metrics"][m])
            for point in record.get("along_pretraining") or [] for m in metrics if m in point["metrics"]]


def experiment_table(experiment: Experiment, cells: list[ExperimentCell], home: Path, protocol: str) -> str:
    """The experiment's markdown table from the records of its cells."""
    found = experiment_records(cells, home)
    rows: dict[str, dict[Column, list[float]]] = {}
    papers: dict[str, str] = {}
    columns: list[Column] = []
    widths: dict[tuple[str, str], list[float]] = defaultdict(list)  # (task, metric) -> half-widths in points
    for entry, record in found:
        row = rows.setdefault(entry.row, defaultdict(list))
        if entry.paper:
            papers[entry.row] = entry.paper
        for column, value in _values(experiment, entry, record) if record is not None else []:
            if column not in columns:
                columns.append(column)
            row[column].append(value)
        for metric, width in ((record or {}).get("resolution") or {}).items():
            widths[(record["task"], metric)].append(100 * width)
    columns = _ordered(columns, experiment)
    header = ["row", *(" ".join(part for part in column if part) for column in columns)]
    if papers:
        header.append("paper (reported)")
    lines = [f"### {experiment.title}", "",
             f"Protocol {protocol}; reproduces {experiment.reproduces}. Mean over seeds in %, ± the 95 % interval.",
             "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, values in rows.items():
        cells_text = [Cell(tuple(values[c])).text() if values.get(c) else MISSING for c in columns]
        lines.append("| " + " | ".join([label, *cells_text, *([papers.get(label, "")] if papers else [])]) + " |")
    resolution = [f"{statistics.median(widths[c[:2]]):.2f}" if widths.get(c[:2]) else MISSING for c in columns]
    lines.append("| " + " | ".join([RESOLUTION_ROW, *resolution, *([""] if papers else [])]) + " |")
    missing = [f"{entry.row}: {entry.cell.describe()}" for entry, record in found if record is None]
    lines += ["", f"{RESOLUTION_ROW}: the median of the column's test-set 95 % bootstrap half-widths; rows closer "
              "than it are not told apart by the test set."]
    if experiment.paper:
        lines += ["", f"Paper: {experiment.paper}"]
    if missing:
        shown = "; ".join(missing[:5]) + (f"; and {len(missing) - 5} more" if len(missing) > 5 else "")
        lines += ["", f"No record for {len(missing)} of {len(found)} cells (not run or failed): {shown}."]
    return "\n".join(lines) + "\n"


def _ordered(columns: list[Column], experiment: Experiment) -> list[Column]:
    """Columns by task (in the order first seen), metric, then condition (steps numerically)."""
    tasks = list(dict.fromkeys(column[0] for column in columns))

    def key(column: Column) -> tuple:
        condition = column[2]
        step = int(condition.split()[1]) if experiment.layout == "along" and condition else 0
        return tasks.index(column[0]), HEADLINE_METRICS.index(column[1]), step

    return sorted(columns, key=key) if experiment.layout == "along" else sorted(
        columns, key=lambda c: (tasks.index(c[0]), HEADLINE_METRICS.index(c[1])))


def experiment_figures(experiment: Experiment, cells: list[ExperimentCell], home: Path, out: Path) -> list[Path]:
    """The experiment's figure, one PNG per task: label-fraction curves (``fractions``) or the
    metric along pretraining (``along``); none for the table layouts."""
    if experiment.layout not in ("fractions", "along"):
        return []
    records = [record for _, record in experiment_records(cells, home) if record is not None]
    written = []
    for task in dict.fromkeys(entry.cell.task for entry in cells):
        of_task = [record for record in records if record["task"] == task]
        metric = next((m for m in ("pr_auc", "accuracy", "roc_auc") if of_task and m in of_task[0]["metrics"]), None)
        if metric is None:
            continue
        if experiment.layout == "fractions":
            written.append(plots.label_fraction_curves(of_task, task, metric, out / f"{experiment.name}_{task}.png"))
        else:
            written.append(plots.along_pretraining_curves(of_task, task, metric, out / f"{experiment.name}_{task}.png"))
    return written
