"""Plots from run records, as PNG files (matplotlib, no display needed).

- pretraining loss curves (one line per method + encoder, from each record's loss curve);
- label-fraction curves: score against the fraction of train labels, per method + encoder, like
  the data-efficiency figure of CLMR (Spijkervet & Burgoyne 2021);
- per-tag average precision bars of a tagging task, like the tag-wise figure of the multi-source
  paper (Garoufis et al. 2023);
- curves along pretraining: the downstream metric of the weights kept every ``probe_every``
  steps (a record's ``along_pretraining``), per method + encoder, like the multi-source poster's
  convergence comparison of MSA with COLA + MWS.
"""

from __future__ import annotations

import io
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: works on machines without a display
import matplotlib.pyplot as plt  # noqa: E402

from ssl_music_bench.io import write_bytes_atomic  # noqa: E402


def _save(figure: Any, path: Path) -> Path:
    """Rendered in memory, then written atomically: an interrupted plot never leaves half a PNG."""
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    write_bytes_atomic(path, png.getvalue())
    return path


def loss_curves(records: list[dict[str, Any]], path: Path) -> Path:
    """One line per (method, encoder, seed) with a pretraining loss curve."""
    figure, axes = plt.subplots(figsize=(7, 4))
    seen = set()
    for record in records:
        curve = record.get("pretraining", {}).get("loss_curve") or []
        key = (record["method"], record["encoder"], record["seed"])
        if curve and key not in seen:
            seen.add(key)
            steps, losses = zip(*curve)
            axes.plot(steps, losses, label=f"{key[0]} + {key[1]} (seed {key[2]})")
    axes.set_xlabel("step")
    axes.set_ylabel("pretraining loss")
    axes.set_title("Pretraining loss")
    if seen:
        axes.legend(fontsize=7)
    return _save(figure, path)


def label_fraction_curves(records: list[dict[str, Any]], task: str, metric: str, path: Path) -> Path:
    """Mean score over seeds against the label fraction (log scale), per method + encoder."""
    points: dict[tuple[str, str], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record["task"] == task and metric in record["metrics"]:
            points[(record["method"], record["encoder"])][record.get("label_fraction", 1.0)].append(
                100 * record["metrics"][metric])
    curves = {row: [(f, statistics.mean(by_fraction[f])) for f in sorted(by_fraction)]
              for row, by_fraction in sorted(points.items())}
    return _lines(curves, "fraction of train labels", f"{metric} (%)", f"{task}: {metric} against label fraction",
                  path, log_x=True)


def _lines(curves: dict[tuple[str, str], list[tuple[float, float]]], x_label: str, y_label: str, title: str,
           path: Path, log_x: bool = False) -> Path:
    """One line of (x, mean) points per method + encoder, with a legend when there is any line."""
    figure, axes = plt.subplots(figsize=(6, 4))
    for (method, encoder), points in curves.items():
        xs, means = zip(*points)
        axes.plot(xs, means, marker="o", label=f"{method} + {encoder}")
    if log_x:
        axes.set_xscale("log")
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.set_title(title)
    if curves:
        axes.legend(fontsize=7)
    return _save(figure, path)


def per_tag_average_precision(records: list[dict[str, Any]], task: str, path: Path) -> Path:
    """Grouped bars: average precision of every tag, one group per tag, one bar per method + encoder."""
    rows: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record["task"] == task and record.get("label_fraction", 1.0) == 1.0:
            for tag, value in (record.get("per_tag_average_precision") or {}).items():
                if value is not None:
                    rows[(record["method"], record["encoder"])][tag].append(value)
    tags = sorted({tag for by_tag in rows.values() for tag in by_tag})
    figure, axes = plt.subplots(figsize=(max(6, 0.45 * len(tags) + 2), 4))
    width = 0.8 / max(1, len(rows))
    for i, ((method, encoder), by_tag) in enumerate(sorted(rows.items())):
        heights = [statistics.mean(by_tag[t]) if by_tag.get(t) else 0.0 for t in tags]
        axes.bar([x + i * width for x in range(len(tags))], heights, width, label=f"{method} + {encoder}")
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(tags))], tags, rotation=75, fontsize=7)
    axes.set_ylabel("average precision")
    axes.set_title(f"{task}: per-tag average precision")
    if rows:
        axes.legend(fontsize=7)
    return _save(figure, path)


def along_pretraining_points(records: list[dict[str, Any]], task: str, metric: str
                             ) -> dict[tuple[str, str], list[tuple[int, float, int]]]:
    """(method, encoder) -> [(step, mean over seeds of ``metric`` in %, seeds), ...] by step,
    from the records of ``task`` (full labels) that probed along pretraining."""
    points: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record["task"] != task or record.get("label_fraction", 1.0) != 1.0:
            continue
        for point in record.get("along_pretraining") or []:
            if metric in point.get("metrics", {}):
                points[(record["method"], record["encoder"])][int(point["step"])].append(100 * point["metrics"][metric])
    return {row: [(step, statistics.mean(values), len(values)) for step, values in sorted(by_step.items())]
            for row, by_step in sorted(points.items())}


def along_pretraining_curves(records: list[dict[str, Any]], task: str, metric: str, path: Path) -> Path:
    """The test ``metric`` against pretraining steps, one line per method + encoder (mean over seeds)."""
    curves = {row: [(step, mean) for step, mean, _ in points]
              for row, points in along_pretraining_points(records, task, metric).items()}
    return _lines(curves, "pretraining step", f"{metric} (%)", f"{task}: {metric} along pretraining", path)
