"""`bench grid --launcher slurm`: the grid's pretraining groups as one SLURM job array, through
submitit (facebookincubator/submitit, a maintained launcher: no hand-written sbatch scripts).

Each array task runs worker.run_group on one group: the same `bench run` subprocesses as the
local launcher, on the node SLURM gave it (its GPUs are the ones SLURM put in
CUDA_VISIBLE_DEVICES). The grid waits for the jobs and reports each cell as its job ends; a
Ctrl-C while waiting leaves the jobs running on the cluster (the same `bench grid` later skips
what they finished; `bench status` shows it). ``cluster = "local"`` or ``"debug"`` runs the same
array on this machine with submitit's own executors, to check a grid before submitting it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape

from ssl_music_bench.errors import BenchError
from ssl_music_bench.grid.cells import GridCell
from ssl_music_bench.grid.progress import GridDisplay
from ssl_music_bench.grid.worker import FAILED, CellResult, one_line, run_group

CLUSTERS = ("slurm", "local", "debug")
# the parameters `bench grid` takes (TOML [slurm] table, CLI options) -> submitit's AutoExecutor names
PARAMETERS = {
    "partition": "slurm_partition",         # str
    "time": "timeout_min",                  # minutes per job (one pretraining group)
    "gpus": "gpus_per_node",                # GPUs per job
    "cpus": "cpus_per_task",                # CPU cores per job; also the job's torch threads
    "mem_gb": "mem_gb",
    "array_parallelism": "slurm_array_parallelism",  # jobs of the array running at once
    "account": "slurm_account",
    "qos": "slurm_qos",
}
DEFAULT_CPUS = 4
POLL_S = 2.0


def executor_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """submitit's names for the options given (unknown ones refused, naming the known)."""
    unknown = sorted(set(parameters) - set(PARAMETERS) - {"cluster"})
    if unknown:
        raise BenchError(f"Unknown SLURM option {', '.join(unknown)}: `bench grid --launcher slurm` takes "
                         f"{', '.join(PARAMETERS)} (and cluster: slurm, local or debug).")
    chosen = {PARAMETERS[name]: value for name, value in parameters.items() if name != "cluster" and value is not None}
    chosen.setdefault("cpus_per_task", DEFAULT_CPUS)
    return {"name": "bench-grid", **chosen}


def make_executor(home: Path, parameters: Mapping[str, Any]):
    """submitit's AutoExecutor for the array, its folder HOME/grid/slurm/<UTC timestamp>."""
    import submitit

    from ssl_music_bench.home import grid_slurm_dir

    cluster = parameters.get("cluster", "slurm")
    if cluster not in CLUSTERS:
        raise BenchError(f"The SLURM cluster option is {cluster!r}: use slurm (submit to this cluster), local or "
                         "debug (submitit's executors on this machine, to check a grid before submitting it).")
    folder = grid_slurm_dir(home, datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ"))
    if cluster == "slurm" and submitit.SlurmExecutor.affinity() < 0:
        raise BenchError("--launcher slurm found no SLURM here (no `sbatch` on the PATH): run `bench grid` on a "
                         "cluster's login node, or leave out --launcher to run the grid on this machine "
                         "(--slurm-cluster local checks the job array here).")
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    executor.update_parameters(**executor_parameters(parameters))
    return executor


def run_on_slurm(groups: list[list[GridCell]], home: Path, plugins: Sequence[str], parameters: dict[str, Any],
                 display: GridDisplay, results: list[CellResult]) -> None:
    """Submit one array task per pretraining group, then report each group's cells as its job ends."""
    if not groups:
        return
    executor = make_executor(home, parameters)
    threads = int(parameters.get("cpus") or DEFAULT_CPUS)
    count = len(groups)
    jobs = executor.map_array(run_group, groups, [home] * count, [tuple(plugins)] * count, [threads] * count)
    display.console.print(f"submitted {count} jobs (array {escape(str(jobs[0].job_id).split('_')[0])}); "
                          f"submitit's files: {escape(str(executor.folder))}", highlight=False)
    pending = dict(zip(jobs, groups))
    while pending:
        for job in [job for job in pending if job.done()]:
            group = pending.pop(job)
            for result in _job_results(job, group):
                results.append(result)
                display.finished(result)
        if pending:
            time.sleep(POLL_S)


def _job_results(job, group: list[GridCell]) -> list[CellResult]:
    """The job's results, or every cell of its group failed with the job's error (a job SLURM
    killed, a node lost: the cells' `bench run` resume checkpoints make the rerun continue)."""
    try:
        return list(job.result())
    except Exception as error:  # anything submitit raises for a failed job is that job's failure
        reason = one_line(f"the SLURM job {job.job_id} failed: {error}; its logs: {job.paths.stderr}")
        return [CellResult(cell, FAILED, reason) for cell in group]
