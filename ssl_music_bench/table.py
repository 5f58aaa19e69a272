"""The leaderboard: run records rendered as a table.

One table per protocol (runs under different protocols are not comparable), one row per
method + encoder, one column per task metric. A cell is the mean over the seeds that ran, in
percent, with the standard deviation and the number of seeds when there are several.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from typing import Any

Row = tuple[str, str]  # (method, encoder)
Column = tuple[str, str]  # (task, metric)
REPORTED_METRICS = ("roc_auc", "pr_auc", "accuracy")
BASELINES = ("random-init", "supervised")  # the floor and the ceiling: kept at the bottom


def _row_order(row: Row) -> tuple[bool, str, str]:
    method, encoder = row
    return (method.split("[")[0] in BASELINES, method, encoder)


def _collect(records: list[dict[str, Any]]) -> dict[str, dict[Row, dict[Column, list[float]]]]:
    grid: dict[str, dict[Row, dict[Column, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for record in records:
        protocol = record["protocol"]["name"]
        row = (record["method"], record["encoder"])
        for metric in REPORTED_METRICS:
            if metric in record["metrics"]:
                grid[protocol][row][(record["task"], metric)].append(100.0 * record["metrics"][metric])
    return grid


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} (n={len(values)})"


def table_rows(records: list[dict[str, Any]]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per protocol: header and rows of cell strings."""
    tables = {}
    for protocol, rows in sorted(_collect(records).items()):
        columns = sorted({column for cells in rows.values() for column in cells})
        header = ["method", "encoder"] + [f"{task} {metric}" for task, metric in columns]
        body = [[method, encoder] + [_cell(rows[(method, encoder)].get(c, [])) for c in columns] for method, encoder in sorted(rows, key=_row_order)]
        tables[protocol] = (header, body)
    return tables


def render(records: list[dict[str, Any]], fmt: str = "md") -> str:
    """The leaderboard as markdown (default) or CSV."""
    if not records:
        return "No run records yet: run `bench run --method clmr --encoder samplecnn --task synth-tags --protocol cpu`.\n"
    out = io.StringIO()
    for protocol, (header, body) in table_rows(records).items():
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(["protocol", *header])
            writer.writerows([protocol, *row] for row in body)
            continue
        out.write(f"### Protocol `{protocol}` (metrics in %, mean over seeds)\n\n")
        out.write("| " + " | ".join(header) + " |\n")
        out.write("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|\n")
        for row in body:
            out.write("| " + " | ".join(row) + " |\n")
        out.write("\n")
    return out.getvalue()
