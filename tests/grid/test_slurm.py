"""`--launcher slurm`: the same cells as a submitit job array, checked on CPU with submitit's own
local executor (each array task a process of its own, as on a cluster node) and its debug
executor (in this process); without SLURM on the machine, one paragraph says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from ssl_music_bench.errors import BenchError
from ssl_music_bench.grid import expand_grid, run_grid
from ssl_music_bench.grid.runner import cell_record_path
from ssl_music_bench.grid.slurm import executor_parameters


def test_the_job_array_runs_the_cells_with_submitits_local_and_debug_executors(tmp_path: Path,
                                                                                 tiny_protocol_file: Path) -> None:
    home = tmp_path / "home"
    quiet = Console(stderr=True, quiet=True)
    local = expand_grid(str(tiny_protocol_file), methods=["random-init"], encoders=["effnet"], tasks=["synth-genre"])
    outcome = run_grid(local, home, launcher="slurm", slurm={"cluster": "local", "cpus": 1, "time": 20},
                       progress=False, console=quiet)
    assert [cell for cell, _ in outcome.done] == local and not outcome.failed, outcome.failed
    folders = list((home / "grid" / "slurm").iterdir())
    assert len(folders) == 1 and any(folders[0].glob("*_submitted.pkl"))  # submitit's job files, in the home

    debug = expand_grid(str(tiny_protocol_file), methods=["random-init"], encoders=["effnet"],
                        tasks=["synth-genre", "synth-tags"])
    outcome = run_grid(debug, home, launcher="slurm", slurm={"cluster": "debug", "cpus": 1}, progress=False,
                       console=quiet)
    assert [cell for cell, _ in outcome.skipped] == local  # done by the local array: not submitted again
    assert [cell for cell, _ in outcome.done] == debug[1:] and all(cell_record_path(c, home) for c in debug)


def test_slurm_without_sbatch_is_one_paragraph(tmp_path: Path, tiny_protocol_file: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch on this PATH
    cells = expand_grid(str(tiny_protocol_file), methods=["random-init"], encoders=["effnet"], tasks=["synth-genre"])
    with pytest.raises(BenchError, match="found no SLURM here"):
        run_grid(cells, tmp_path / "home", launcher="slurm", progress=False, console=Console(quiet=True))


def test_slurm_options_become_submitits_parameters() -> None:
    assert executor_parameters({"partition": "gpu", "time": 90, "gpus": 1, "cluster": "slurm"}) == {
        "name": "bench-grid", "slurm_partition": "gpu", "timeout_min": 90, "gpus_per_node": 1, "cpus_per_task": 4}
    with pytest.raises(BenchError, match="Unknown SLURM option nodes"):
        executor_parameters({"nodes": 2})
