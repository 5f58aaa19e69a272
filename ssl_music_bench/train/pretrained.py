"""A run's method after pretraining: from the checkpoint cache when it is there, else trained now.

Pretraining depends on the :class:`~ssl_music_bench.run_spec.RunSpec`'s checkpoint spec only
(method and config, encoder, pretraining data, protocol, seed), so one checkpoint serves every
task of a self-supervised method; a method that ``uses_task_labels`` (the supervised baseline)
trains on the evaluated task's train split instead, and its checkpoint belongs to that task.
``bench run`` and ``bench embed`` get their method here.

What is stored is trusted only after it is checked: a checkpoint whose weights no longer match
the hash written with them (or whose files are unreadable) is reported, moved to
HOME/quarantine/checkpoints/ and pretrained again. Two runs of the same spec at once do not
both pretrain: the second waits on the checkpoint's lock and then reuses the first one's
weights. A loss that stops being finite ends pretraining there, with nothing saved.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, ContextManager

from rich.markup import escape

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.contracts.task import TaskData
from ssl_music_bench.devices import default_device
from ssl_music_bench.errors import BenchError
from ssl_music_bench.home import quarantine_dir
from ssl_music_bench.io import exclusive_lock, quarantine, write_json_atomic
from ssl_music_bench.run_spec import RunOptions, RunSpec
from ssl_music_bench.train.batch_norm_statistics import BatchNormCalibration
from ssl_music_bench.train.callbacks import RESUME_FILE, NonFiniteLoss
from ssl_music_bench.train.checkpoint import (
    CONFIG,
    CorruptCheckpoint,
    is_complete,
    load_checkpoint,
    lock_path,
    resume_directory,
    save_checkpoint,
)
from ssl_music_bench.train.distributed import per_process_batch
from ssl_music_bench.train.early_stopping import ValidationEarlyStopping, validation_batches
from ssl_music_bench.train.pretrain import pretrain
from ssl_music_bench.train.snapshots import Snapshots, kept_steps, missing_snapshots, snapshots_directory


class SecondaryRank(Exception):
    """Raised in every training process but the first once pretraining is done (DDP)."""


def load_pretrained(
    spec: RunSpec, home: Path, options: RunOptions | None = None, task_data: TaskData | None = None
) -> tuple[Method, dict[str, Any]]:
    """The spec's method after the protocol's pretraining, and the record's pretraining summary.

    A complete, intact checkpoint of the spec is loaded; otherwise the method pretrains
    (resuming an interrupted pretraining of the same spec) and its weights are saved for the
    next run. ``task_data``: the spec's task's data when the caller has loaded it already; used
    instead of loading it again when the method trains on that task.
    """
    options = options or RunOptions()
    if spec.weights is not None:  # --weights: a released checkpoint instead of pretraining
        return _external_weights(spec, options)
    directory = spec.checkpoint_directory(home)
    with _pretraining_lock(directory, options):
        method, data = _new_method(spec, home, task_data)
        if is_complete(directory):
            stored = _verified_checkpoint(method, directory, home, options)
            if stored is not None and missing_snapshots(directory, kept_steps(spec)):
                # probing along pretraining needs weights of earlier steps that this checkpoint's
                # run did not keep; the same seeded pretraining ends with the same weights
                options.console.print(f"pretraining {escape(directory.name)} again to keep its weights every "
                                      f"{spec.protocol.pretrain.probe_every} steps (probe_every)", highlight=False)
                stored = None
            if stored is not None:
                options.console.print(f"[green]reusing[/] pretrained checkpoint {escape(directory.name)}")
                return method, {**stored["pretraining"], "checkpoint": directory.name, "reused": True,
                                "weights_sha256": stored["weights_sha256"]}
            method, data = _new_method(spec, home, data)  # the refused load may have overwritten part of it
        summary: dict[str, Any] = {"seconds": 0.0, "steps": 0, "loss_curve": [], "data": None}
        calibration = None
        if spec.method_class.needs_pretraining or spec.protocol.pretrain.batch_norm_crops:
            data = data or TASKS.get(spec.pretraining_data).obj().load(home, spec.protocol)
            calibration = batch_norm_calibration(spec, method, data)
        if spec.method_class.needs_pretraining:
            summary = _pretrain(spec, method, data, directory, options, calibration)
        if calibration is not None:  # the statistics of the weights that are saved and evaluated
            # on the device the run embeds with (pretraining hands the method back on the CPU)
            method.encoder.to(default_device())
            calibration.apply(method.encoder)
            method.encoder.cpu()
            summary["batch_norm_statistics"] = {**calibration.summary(), "data": spec.pretraining_data}
        sha = save_checkpoint(directory, method, {"spec": spec.checkpoint_spec, "pretraining": summary})
        if spec.method_class.needs_pretraining:
            shutil.rmtree(resume_directory(directory), ignore_errors=True)
    return method, {**summary, "checkpoint": directory.name, "reused": False, "weights_sha256": sha}


def _external_weights(spec: RunSpec, options: RunOptions) -> tuple[Method, dict[str, Any]]:
    """The spec's method with the --weights file's encoder (checked when the spec was made; the
    method's own heads stay as initialised, the probe never reads them). Nothing is stored: the
    file is the checkpoint, and its sha256 keys the embedding cache."""
    weights = spec.weights
    assert weights is not None
    method = spec.new_method()
    method.encoder.load_state_dict(weights.encoder_state, strict=True)
    options.console.print(f"[green]using[/] the {escape(weights.layout)} weights of {escape(weights.path)} "
                          "(no pretraining)", highlight=False)
    return method, {"seconds": 0.0, "steps": 0, "loss_curve": [], "data": None, "checkpoint": None,
                    "reused": False, "weights_sha256": weights.sha256}


def _pretraining_lock(directory: Path, options: RunOptions) -> ContextManager[None]:
    """The checkpoint's lock, so that a second run of the same spec waits and reuses the weights.

    Not with several training processes (DDP): they must all enter pretraining together, and a
    lock held by one of them would keep the others, and so the whole run, waiting forever."""
    if options.devices * options.nodes > 1:
        return contextlib.nullcontext()
    return exclusive_lock(lock_path(directory), f"waiting for another run that is pretraining {directory.name} ...")


def _new_method(spec: RunSpec, home: Path, task_data: TaskData | None) -> tuple[Method, TaskData | None]:
    """The spec's untrained method (a supervised one with its task attached) and the pretraining
    data when it was loaded for that (else None; ``task_data`` serves when it is that data)."""
    method = spec.new_method()
    data = task_data if task_data is not None and spec.pretraining_data == spec.task else None
    if spec.method_class.uses_task_labels:
        data = data or TASKS.get(spec.pretraining_data).obj().load(home, spec.protocol)
        method.attach_task(data)
    return method, data


def _verified_checkpoint(method: Method, directory: Path, home: Path, options: RunOptions) -> dict[str, Any] | None:
    """The stored config after the weights were verified and loaded into ``method``; None when
    the checkpoint is corrupt (then it is moved to the quarantine, and the caller pretrains)."""
    try:
        stored = load_checkpoint(directory, method)
    except CorruptCheckpoint as error:
        problem = str(error)
    else:
        if isinstance(stored.get("pretraining"), dict):
            return stored
        problem = f"its {CONFIG} lacks the pretraining summary"
    moved = quarantine(directory, quarantine_dir(home, "checkpoints"))
    options.console.print(f"[yellow]warning:[/] the pretrained checkpoint {escape(directory.name)} was not used: "
                          f"{escape(problem)}; moved to {escape(str(moved))}, pretraining again", highlight=False)
    return None


def batch_norm_calibration(spec: RunSpec, method: Method, data: TaskData) -> BatchNormCalibration | None:
    """The recomputation of the encoder's batch-norm statistics on crops of the pretraining
    data's train split, when the protocol asks for it (``pretrain.batch_norm_crops``); in batches
    of the batch the method trains with (the ceiling's for the supervised baseline)."""
    crops = spec.protocol.pretrain.batch_norm_crops
    if not crops:
        return None
    batch = _ceiling_batch_size(spec) if spec.method_class.uses_task_labels else spec.protocol.pretrain.batch_size
    return BatchNormCalibration(data.store, data.indices["train"], crops, batch, spec.seed, method.encoder)


def _ceiling_batch_size(spec: RunSpec) -> int:
    """The supervised ceiling's batch: its ``[ceiling]`` table's, or the pretraining's when that is 0."""
    return spec.protocol.ceiling.batch_size or spec.protocol.pretrain.batch_size


def _pretrain(spec: RunSpec, method: Method, data: TaskData, directory: Path, options: RunOptions,
              calibration: BatchNormCalibration | None = None) -> dict[str, Any]:
    """Pretrain ``method`` on the train split of ``data`` (from the resume checkpoint of
    ``directory`` when an interrupted run left one); the record's pretraining summary.

    Raises :class:`SecondaryRank` in every DDP process but the first: only the first saves,
    embeds, probes and records. A loss that is not finite is a BenchError, and the resume state
    of this pretraining is removed with it (it holds the diverged weights)."""
    protocol, stopping = _budget(spec, method, data, calibration)
    settings = protocol.pretrain
    per_process_batch(settings.batch_size, options.devices, options.nodes)  # refused before anything is written
    watched = "loss" if stopping is None or not stopping.by_metric else stopping.metric_name
    budget = (f"until its validation {watched} stops improving (at most {settings.steps} steps)"
              if stopping is not None else f"for {settings.steps} steps")
    options.console.print(
        f"pretraining [bold]{escape(spec.method)}[/] + [bold]{escape(spec.encoder)}[/] {budget} "
        f"of batch {settings.batch_size} on the train split of {escape(str(spec.pretraining_data))}"
    )
    resume_dir = resume_directory(directory)
    resume_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(resume_dir / "spec.json", spec.checkpoint_spec)  # for `bench cache ls`
    if (resume_dir / RESUME_FILE).is_file():
        options.console.print(f"[green]resuming[/] the interrupted pretraining from {resume_dir.name}/{RESUME_FILE}")
    snapshots = kept_steps(spec)  # probing along pretraining (train/snapshots.py)
    if snapshots:  # for `bench cache ls` and `bench cache clear --method`
        write_json_atomic(snapshots_directory(directory) / "spec.json", spec.checkpoint_spec)
    extra = (*([stopping] if stopping is not None else []),
             *([Snapshots(method, directory, snapshots, calibration)] if snapshots else []))
    try:
        result = pretrain(method, data.store, data.indices["train"], protocol, spec.seed, options, resume_dir,
                          extra_callbacks=extra)
    except NonFiniteLoss as diverged:
        shutil.rmtree(resume_dir, ignore_errors=True)
        raise BenchError(divergence_message(spec, diverged)) from None
    if result.global_rank != 0:
        raise SecondaryRank
    return {"seconds": round(result.seconds, 2), "steps": result.steps, "loss_curve": result.loss_curve,
            "data": spec.pretraining_data, "data_manifest_sha256": data.manifest_sha256,
            "devices": options.devices, "nodes": options.nodes, "world_size": result.world_size,
            "resumed_from_step": result.resumed_from_step, "acceleration": result.acceleration,
            **({"early_stopping": stopping.summary(result.steps)} if stopping is not None else {})}


def _budget(spec: RunSpec, method: Method, data: TaskData, calibration: BatchNormCalibration | None = None
            ) -> tuple[Protocol, ValidationEarlyStopping | None]:
    """The protocol to train with, and the early stopping that ends the training when it is one.

    A method trained on the task's labels (the supervised ceiling) gets the protocol's
    ``[ceiling]`` budget: at most ``max_steps`` of its batch size, stopped early on the task's
    valid split (train/early_stopping.py), each check with the batch-norm statistics of its
    weights when the protocol recomputes them. Every other method trains for ``[pretrain]``'s steps."""
    if not spec.method_class.uses_task_labels:
        return spec.protocol, None
    ceiling = spec.protocol.ceiling
    batch_size = _ceiling_batch_size(spec)
    protocol = replace(spec.protocol, pretrain=replace(spec.protocol.pretrain, steps=ceiling.max_steps,
                                                       batch_size=batch_size))
    batches = validation_batches(data.store, data.indices["valid"], data.targets["valid"],
                                 round(method.segment_seconds() * data.store.sample_rate), batch_size)
    config = method.config
    return protocol, ValidationEarlyStopping(batches, data.store.sample_rate, ceiling,
                                             lr_reduce_factor=getattr(config, "lr_reduce_factor", 1.0),
                                             lr_reduce_patience=getattr(config, "lr_reduce_patience", 0),
                                             calibration=calibration, kind=data.kind,
                                             clip_targets=data.targets["valid"])


def divergence_message(spec: RunSpec, diverged: NonFiniteLoss) -> str:
    """One paragraph: where the loss stopped being finite, what was (not) kept, what to change."""
    likely = [f"{name} = {getattr(spec.config, name)} (--set {name}=...)"
              for name in ("learning_rate", "temperature") if hasattr(spec.config, name)]
    likely.append(f'the protocol\'s precision = "{spec.protocol.pretrain.precision}" ("32-true" is the safest)')
    return (
        f"Pretraining {spec.label} + {spec.encoder} diverged: the training loss is {diverged.loss} at step "
        f"{diverged.step} of {spec.protocol.pretrain.steps} (protocol {spec.protocol.name}, seed {spec.seed}). "
        f"Nothing was kept: no checkpoint, no resume state, no record. The settings that usually cause this "
        f"are {', '.join(likely)}; a smaller learning rate or a larger temperature usually helps. Change one "
        f"and run again."
    )
