"""Aggregate throughput of `bench grid` with N = 1, 2, 4, 8 concurrent workers (issue 12).

One small grid (by default clmr and random-init x samplecnn x synth-genre x 4 seeds: 8 cells in
8 pretraining groups, so that 8 workers all have work) under a small CPU protocol on the
built-in "tiny" corpus, run in a fresh home for each N; the corpus is generated once and copied
into each home, so that only the cells are timed. Prints cells/minute per N and the ratio to
N = 1 as a markdown table (docs/PERFORMANCE.md, "Concurrent jobs (bench grid)").

    python benchmarks/grid_throughput.py [--jobs 1,2,4,8] [--seeds 4] [--steps 4] [--devices 0]

Wall-clock figures on a shared machine move with its load: the load average before each N is
printed beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console

from ssl_music_bench.grid import expand_grid, run_grid

PROTOCOL = """
name = "grid-bench"
version = 1
description = "a small CPU budget for timing bench grid (tiny corpus)"
synth_size = "tiny"
seeds = [0]

[pretrain]
data = "synth-tags"
batch_size = 8
steps = {steps}
log_every_steps = 1

[probe]
max_epochs = 20
early_stop_patience = 5
embed_batch_size = 16
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="1,2,4,8", help="comma-separated worker counts")
    parser.add_argument("--methods", default="clmr,random-init")
    parser.add_argument("--encoders", default="samplecnn")
    parser.add_argument("--tasks", default="synth-genre")
    parser.add_argument("--seeds", type=int, default=4, help="seeds 0..S-1 (each a pretraining group per method)")
    parser.add_argument("--steps", type=int, default=4, help="pretraining steps of the small protocol")
    parser.add_argument("--devices", help="comma-separated GPUs (each gets N workers); default: none given")
    args = parser.parse_args()
    quiet = Console(stderr=True, quiet=True)
    with tempfile.TemporaryDirectory(prefix="grid-throughput-") as scratch:
        root = Path(scratch)
        protocol = root / "grid-bench.toml"
        protocol.write_text(PROTOCOL.format(steps=args.steps))
        cells = expand_grid(str(protocol), args.methods.split(","), args.encoders.split(","), args.tasks.split(","),
                            list(range(args.seeds)))
        # the corpus once, untimed: a random-init cell of another seed generates it
        warm = expand_grid(str(protocol), ["random-init"], args.encoders.split(",")[:1], args.tasks.split(",")[:1],
                           [10_000])
        run_grid(warm, root / "base", progress=False, console=quiet)
        devices = args.devices.split(",") if args.devices else None
        print(f"{len(cells)} cells ({args.methods} x {args.encoders} x {args.tasks} x {args.seeds} seeds, "
              f"{args.steps} pretraining steps), {len(os.sched_getaffinity(0))} cores"
              + (f", devices {args.devices}" if devices else ""))
        print("\n| N | wall s | cells/min | ratio to N=1 | failed | load before |\n|---|---|---|---|---|---|")
        first = None
        for jobs in [int(n) for n in args.jobs.split(",")]:
            home = root / f"jobs-{jobs}"
            shutil.copytree(root / "base" / "data", home / "data")
            load = os.getloadavg()[0]
            start = time.perf_counter()
            outcome = run_grid(cells, home, jobs=jobs, devices=devices, progress=False, console=quiet)
            wall = time.perf_counter() - start
            rate = len(outcome.done) / wall * 60
            first = first or rate
            print(f"| {jobs} | {wall:.0f} | {rate:.2f} | {rate / first:.2f} | {len(outcome.failed)} | {load:.1f} |",
                  flush=True)
            for cell, reason in outcome.failed:
                print(f"  failed {cell.describe()}: {reason}")


if __name__ == "__main__":
    main()
