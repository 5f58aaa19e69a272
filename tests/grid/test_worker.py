"""A worker's pieces without running a cell: its environment (its share of the threads, its GPU),
the one-paragraph reason of a failed `bench run`, the command line it starts, and the signal a cell
gets when it starts while the grid is being stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ssl_music_bench.grid import GridCell
from ssl_music_bench.grid.runner import _LocalPool, threads_per_worker
from ssl_music_bench.grid.worker import cell_command, failure_reason, worker_environment

CELL = GridCell("random-init", "effnet", "synth-genre", 0, "cpu")


def test_each_worker_gets_its_threads_and_its_gpu() -> None:
    environment = worker_environment(threads=3, device="1")
    assert environment["OMP_NUM_THREADS"] == environment["MKL_NUM_THREADS"] == "3"
    assert environment["CUDA_VISIBLE_DEVICES"] == "1"
    assert worker_environment(threads=None, device="")["CUDA_VISIBLE_DEVICES"] == ""  # "cpu": no GPU visible
    assert threads_per_worker(10_000) == 1


def test_the_cell_runs_as_bench_run_through_this_interpreter(tmp_path: Path) -> None:
    command = cell_command(CELL, tmp_path, ["plugin.py"])
    assert command[:4] == [sys.executable, "-m", "ssl_music_bench.cli", "run"]
    assert command[4:] == [*CELL.run_arguments(), "--home", str(tmp_path), "--no-progress", "--plugin",
                           str(Path("plugin.py").resolve())]


def test_the_reason_is_the_last_paragraph_of_the_output(tmp_path: Path) -> None:
    refused = "phase: data\n\nerror: The task needs its dataset: run\n`bench prepare --task x`.\n"
    assert failure_reason(CELL, tmp_path, 2, refused, 0.0) == (
        "The task needs its dataset: run `bench prepare --task x`. (exit status 2)")
    crashed = "phase: probe\n\nTraceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad value\n"
    assert failure_reason(CELL, tmp_path, 1, crashed, 0.0) == "ValueError: bad value (exit status 1)"
    assert failure_reason(CELL, tmp_path, -15, "", 0.0) == "`bench run` ended with signal 15"


def test_a_sigkill_is_explained_as_the_likely_out_of_memory_kill(tmp_path: Path) -> None:
    # clmr + samplecnn at batch 456 on a 24 GB CPU machine: about 140 MB an example, killed by the kernel
    output = "phase: data\nUsing the synthetic songs corpus\nphase: pretraining\npretraining clmr + samplecnn for 1 steps"
    reason = failure_reason(CELL, tmp_path, -9, output, 0.0)
    assert reason.startswith("killed by SIGKILL (signal 9), which the kernel's out-of-memory killer sends")
    assert "fewer --jobs, a smaller batch" in reason and reason.endswith("it was at: pretraining clmr + samplecnn for 1 steps")
    assert failure_reason(CELL, tmp_path, -9, "", 0.0).endswith("it was at: before any output")


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_cell_that_starts_while_the_grid_stops_gets_the_signal_that_stops_the_grid(number: int) -> None:
    # a SIGTERM'd grid must not leave a cell that started in that instant to finish as if Ctrl-C'd
    pool = _LocalPool()
    pool.stop(number)
    assert pool.stopping.is_set()
    process = subprocess.Popen(["sleep", "30"])
    try:
        pool.started(process)
        assert process.wait(timeout=10) == -number
    finally:
        process.kill()
