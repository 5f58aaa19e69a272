"""A run's method after pretraining: from the checkpoint cache when it is there, else trained now.

Pretraining depends on the :class:`~ssl_music_bench.run_spec.RunSpec`'s checkpoint spec only
(method and config, encoder, pretraining data, protocol, seed), so one checkpoint serves every
task of a self-supervised method; a method that ``uses_task_labels`` (the supervised baseline)
trains on the evaluated task's train split instead, and its checkpoint belongs to that task.
``bench run`` and ``bench embed`` get their method here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.contracts.task import TaskData
from ssl_music_bench.io import write_json_atomic
from ssl_music_bench.run_spec import RunOptions, RunSpec
from ssl_music_bench.train.callbacks import RESUME_FILE
from ssl_music_bench.train.checkpoint import is_complete, load_checkpoint, resume_directory, save_checkpoint
from ssl_music_bench.train.pretrain import pretrain


class SecondaryRank(Exception):
    """Raised in every training process but the first once pretraining is done (DDP)."""


def load_pretrained(
    spec: RunSpec, home: Path, options: RunOptions | None = None, task_data: TaskData | None = None
) -> tuple[Method, dict[str, Any]]:
    """The spec's method after the protocol's pretraining, and the record's pretraining summary.

    A complete checkpoint of the spec is loaded; otherwise the method pretrains (resuming an
    interrupted pretraining of the same spec) and its weights are saved for the next run.
    ``task_data``: the spec's task's data when the caller has loaded it already; used instead
    of loading it again when the method trains on that task.
    """
    options = options or RunOptions()
    method = spec.new_method()
    data = task_data if task_data is not None and spec.pretraining_data == spec.task else None
    if spec.method_class.uses_task_labels:
        data = data or TASKS.get(spec.pretraining_data).obj().load(home, spec.protocol)
        method.attach_task(data)
    directory = spec.checkpoint_directory(home)
    if is_complete(directory):
        stored = load_checkpoint(directory, method)
        options.console.print(f"[green]reusing[/] pretrained checkpoint {directory.name}")
        return method, {**stored["pretraining"], "checkpoint": directory.name, "reused": True,
                        "weights_sha256": stored["weights_sha256"]}
    summary: dict[str, Any] = {"seconds": 0.0, "steps": 0, "loss_curve": [], "data": None}
    if spec.method_class.needs_pretraining:
        data = data or TASKS.get(spec.pretraining_data).obj().load(home, spec.protocol)
        summary = _pretrain(spec, method, data, directory, options)
    sha = save_checkpoint(directory, method, {"spec": spec.checkpoint_spec, "pretraining": summary})
    if spec.method_class.needs_pretraining:
        shutil.rmtree(resume_directory(directory), ignore_errors=True)
    return method, {**summary, "checkpoint": directory.name, "reused": False, "weights_sha256": sha}


def _pretrain(spec: RunSpec, method: Method, data: TaskData, directory: Path, options: RunOptions) -> dict[str, Any]:
    """Pretrain ``method`` on the train split of ``data`` (from the resume checkpoint of
    ``directory`` when an interrupted run left one); the record's pretraining summary.

    Raises :class:`SecondaryRank` in every DDP process but the first: only the first saves,
    embeds, probes and records."""
    settings = spec.protocol.pretrain
    options.console.print(
        f"pretraining [bold]{spec.method}[/] + [bold]{spec.encoder}[/] for {settings.steps} steps "
        f"of batch {settings.batch_size} on the train split of {spec.pretraining_data}"
    )
    resume_dir = resume_directory(directory)
    resume_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(resume_dir / "spec.json", spec.checkpoint_spec)  # for `bench cache ls`
    if (resume_dir / RESUME_FILE).is_file():
        options.console.print(f"[green]resuming[/] the interrupted pretraining from {resume_dir.name}/{RESUME_FILE}")
    result = pretrain(method, data.store, data.indices["train"], spec.protocol, spec.seed, options, resume_dir)
    if result.global_rank != 0:
        raise SecondaryRank
    return {"seconds": round(result.seconds, 2), "steps": result.steps, "loss_curve": result.loss_curve,
            "data": spec.pretraining_data, "data_manifest_sha256": data.manifest_sha256,
            "devices": options.devices, "nodes": options.nodes, "world_size": result.world_size,
            "resumed_from_step": result.resumed_from_step, "acceleration": result.acceleration}
