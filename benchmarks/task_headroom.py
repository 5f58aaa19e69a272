"""Floor, ceiling, headroom and resolution of the synthetic tasks: can a task rank methods?

Issue 12 asks every built-in task, for each encoder, under the protocol that publishes the table:

- **floor**: ``random-init`` with the protocol's probe; **ceiling**: ``supervised`` trained to
  convergence on the task's train labels (its own budget, the protocol's ``[ceiling]`` table:
  early-stopped on the valid split); **headroom** = ceiling - floor on the headline metric
  (accuracy; PR-AUC for tagging), target >= 15 points;
- **resolution**: the 95 % half-width of the headline metric that the test split alone allows
  (percentile bootstrap over test clips with the predictions fixed, the run record's
  ``resolution``, ssl_music_bench/evaluate/resolution.py); the larger of the floor's and the
  ceiling's, each the median over its seeds (as `bench table`'s footer); target <= headroom / 5 (five distinguishable levels between floor and ceiling).

Each cell is a real ``run_benchmark`` call (the same code as ``bench run``), so the numbers are
those a leaderboard of that protocol would show; checkpoints, embeddings and records are reused
from the home. Older records without a ``resolution`` field get the binomial approximation for
accuracy, 1.96 sqrt(p (1 - p) / n), marked ``~``.

    python benchmarks/task_headroom.py --protocol cpu --encoders effnet --home /tmp/headroom
    python benchmarks/task_headroom.py --tasks synth-genre synth-pitch --seeds 0 1 2 --markdown
    python benchmarks/task_headroom.py --home /tmp/headroom --from-records   # the table of what is there

Prints one row per (task, encoder); with several seeds, floor and ceiling are means over seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.evaluate.metrics import JUDGED_METRIC as HEADLINE  # accuracy; PR-AUC for tagging
from ssl_music_bench.run import run_benchmark
from ssl_music_bench.run_spec import RunOptions, RunSpec

SYNTHETIC_TASKS = ("synth-genre", "synth-tags", "synth-instrument", "synth-pitch")
MIN_HEADROOM = 15.0  # points (issue 12)
LEVELS = 5  # resolution <= headroom / LEVELS


def headline_and_resolution(record: dict[str, Any]) -> tuple[float, float, bool]:
    """(headline metric, its test half-width, whether the half-width is approximate), in points."""
    metric = HEADLINE[record["task_kind"]]
    value = float(record["metrics"][metric])
    value = value * 100 if value <= 1 else value  # records store fractions; tolerate percentages
    resolution = record.get("resolution") or {}
    if metric in resolution:
        width = float(resolution[metric])
        return value, width * 100 if width <= 1 else width, False
    if metric == "accuracy":  # older records: the binomial approximation
        n, p = record["dataset"]["clips"]["test"], value / 100
        return value, 196 * math.sqrt(p * (1 - p) / n), True
    return value, float("nan"), True


def stored_record(home: Path, protocol: str, method: str, encoder: str, task: str, seed: int) -> dict[str, Any] | None:
    """The newest record of that cell in ``home`` (``--from-records``), or None."""
    found = []
    for path in (home / "records" / protocol).glob("*.json"):
        record = json.loads(path.read_text())
        if (record.get("method"), record.get("encoder"), record.get("task"), record.get("seed")) == (
                method, encoder, task, seed):
            found.append(record)
    return max(found, key=lambda r: r.get("created", "")) if found else None


def cell(method: str, encoder: str, task: str, seed: int, args: argparse.Namespace, options: RunOptions) -> dict | None:
    if args.from_records:
        return stored_record(args.home, args.protocol, method, encoder, task, seed)
    spec = RunSpec(method, encoder, load_protocol(args.protocol), task=task, seed=seed)
    return run_benchmark(spec, args.home, options)[0]


def measure(task: str, encoder: str, args: argparse.Namespace, options: RunOptions) -> dict:
    row: dict[str, Any] = {"task": task, "encoder": encoder, "test_clips": "?", "corpus_version": None}
    for role, method in (("floor", "random-init"), ("ceiling", "supervised")):
        values, widths, approximate, extra = [], [], False, {}
        for seed in args.seeds:
            record = cell(method, encoder, task, seed, args, options)
            if record is None:  # --from-records and the cell was never run
                continue
            value, width, approx = headline_and_resolution(record)
            values.append(value)
            widths.append(width)
            approximate |= approx
            stopping = record["pretraining"].get("early_stopping")
            if stopping:
                extra = {"steps": stopping["steps_trained"], "best_step": stopping["best_step"],
                         "early_stopped": stopping["early_stopped"]}
            row["test_clips"] = record["dataset"]["clips"]["test"]
            row["corpus_version"] = (record.get("dataset") or {}).get("corpus_version")
        row[role] = statistics.fmean(values) if values else float("nan")
        row[f"{role}_seeds"] = values
        row[f"{role}_resolution"] = statistics.median(widths) if widths else float("nan")
        row[f"{role}_approximate"] = approximate
        row.update({f"ceiling_{k}": v for k, v in extra.items()})
    row["headroom"] = row["ceiling"] - row["floor"]
    row["resolution"] = max(row["floor_resolution"], row["ceiling_resolution"])
    if math.isnan(row["resolution"]):  # a missing side: the other's width
        floor_width, ceiling_width = row["floor_resolution"], row["ceiling_resolution"]
        row["resolution"] = floor_width if math.isnan(ceiling_width) else ceiling_width
    row["approximate"] = row["floor_approximate"] or row["ceiling_approximate"]
    row["met"] = row["headroom"] >= MIN_HEADROOM and row["resolution"] <= row["headroom"] / LEVELS
    return row


def render(rows: list[dict[str, Any]], markdown: bool) -> str:
    header = ["task", "encoder", "metric", "test clips", "floor", "ceiling", "headroom", "resolution ±",
              "ceiling steps", "target met"]
    lines = []
    for row in rows:
        kind = TASKS.get(row["task"]).obj().kind
        mark = "~" if row["approximate"] else ""
        steps = f"{row.get('ceiling_steps', '?')} (best {row.get('ceiling_best_step', '?')})"
        met = "not measured" if math.isnan(row["headroom"]) else "yes" if row["met"] else "no"
        lines.append([row["task"], row["encoder"], HEADLINE[kind], str(row["test_clips"]), f"{row['floor']:.2f}",
                      f"{row['ceiling']:.2f}", f"{row['headroom']:+.2f}", f"{mark}{row['resolution']:.2f}", steps, met])
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                         + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in [header, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", default="cpu")
    parser.add_argument("--tasks", nargs="+", default=list(SYNTHETIC_TASKS))
    parser.add_argument("--encoders", nargs="+", default=["effnet"])
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the protocol's seeds")
    parser.add_argument("--home", type=Path, required=True, help="a bench home (a fresh one measures from scratch)")
    parser.add_argument("--markdown", action="store_true", help="a markdown table (for docs/TASKS.md)")
    parser.add_argument("--from-records", action="store_true",
                        help="read the cells' records already in the home instead of running them (missing: nan)")
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = list(load_protocol(args.protocol).seeds)
    options = RunOptions(progress=False)
    rows = []
    for task in args.tasks:
        for encoder in args.encoders:
            rows.append(measure(task, encoder, args, options))
            print(f"measured {task} x {encoder}", file=sys.stderr, flush=True)
    print(f"protocol {args.protocol}, seeds {args.seeds}; metric in points; resolution = 95 % bootstrap half-width "
          f"over test clips (max of floor and ceiling); target: headroom >= {MIN_HEADROOM:g} and resolution <= "
          f"headroom / {LEVELS}")
    print(render(rows, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
