"""One benchmark run: pretrain (or reuse), embed, probe, record.

    bench run --method clmr --encoder samplecnn --task synth-tags --protocol cpu --seed 0

Pretraining depends on (method, method config, encoder, pretraining data, protocol, seed) only,
so its checkpoint is reused by every downstream task.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ssl_music_bench.contracts.compatibility import check_compatible
from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.contracts.registry import ENCODERS, METHODS, TASKS
from ssl_music_bench.contracts.settings import config_from_overrides, method_label
from ssl_music_bench.contracts.task import TaskData
from ssl_music_bench.devices import default_device
from ssl_music_bench.environment import lock_state
from ssl_music_bench.evaluate.cache import embedding_key, load_embeddings, save_embeddings
from ssl_music_bench.evaluate.embed import embed_clips
from ssl_music_bench.evaluate.label_fractions import check_fraction, label_subset
from ssl_music_bench.evaluate.metrics import per_tag_average_precision, task_metrics
from ssl_music_bench.evaluate.probe import ProbeData, train_probe
from ssl_music_bench.home import checkpoints_dir
from ssl_music_bench.io import write_json_atomic
from ssl_music_bench.report.records import (
    SCHEMA_VERSION,
    git_state,
    hardware,
    package_versions,
    peak_memory,
    write_record,
)
from ssl_music_bench.train.checkpoint import (
    checkpoint_key,
    is_complete,
    load_checkpoint,
    resume_directory,
    save_checkpoint,
)
from ssl_music_bench.train.pretrain import RESUME_FILE, pretrain


def build_method(method_name: str, encoder_name: str, overrides: dict[str, str] | None = None) -> Method:
    check_compatible(method_name, encoder_name)
    config = config_from_overrides(method_name, overrides or {})
    encoder = ENCODERS.get(encoder_name).obj()
    return METHODS.get(method_name).obj(encoder, config)


class SecondaryRank(Exception):
    """Raised in every training process but the first once pretraining is done (DDP)."""


def pretraining_data(method_class: type[Method], protocol: Protocol, task_name: str | None) -> str | None:
    """The task whose train split a method trains on: the protocol's pretraining data, or the
    evaluated task's own labelled split for a method that ``uses_task_labels`` (supervised)."""
    return task_name if method_class.uses_task_labels else protocol.pretrain.data


def checkpoint_for(
    method_name: str, encoder_name: str, protocol: Protocol, seed: int, home: Path,
    overrides: dict[str, str] | None = None, task_name: str | None = None,
) -> tuple[Method, dict[str, Any], Path]:
    """A freshly initialised method, the spec that determines its pretrained weights, and the
    checkpoint directory those weights are (or will be) stored in."""
    torch.manual_seed(seed)  # initial weights depend on the seed only
    method = build_method(method_name, encoder_name, overrides)
    method_class = type(method)
    data_name = pretraining_data(method_class, protocol, task_name)
    spec = {
        "method": method_name,
        "method_config": dataclasses.asdict(method.config),
        "encoder": encoder_name,
        "pretrain_data": data_name if method_class.needs_pretraining else None,
        "synth_size": protocol.synth_size,
        "protocol": protocol.name,
        "protocol_sha256": protocol.sha256,
        "seed": seed,
    }
    return method, spec, checkpoints_dir(home) / f"{method_name}-{encoder_name}-{checkpoint_key(spec)}"


def pretrained_method(
    method_name: str, encoder_name: str, protocol: Protocol, seed: int, home: Path, console: Console,
    progress: bool, overrides: dict[str, str] | None = None, task_name: str | None = None,
    devices: int = 1, nodes: int = 1, compile: bool = False, task_data: TaskData | None = None,
) -> tuple[Method, dict[str, Any]]:
    """The method after the protocol's pretraining, from the checkpoint cache when it is there.

    Self-supervised methods pretrain on the protocol's data, so one checkpoint serves every task;
    a method that ``uses_task_labels`` (the supervised baseline) trains on ``task_name``'s
    train split instead, and its checkpoint belongs to that task.

    ``task_data``: ``task_name``'s data when the caller has loaded it already; used instead of
    loading it again when the method trains on that task.
    """
    method, spec, directory = checkpoint_for(method_name, encoder_name, protocol, seed, home, overrides, task_name)
    method_class = type(method)
    data_name = pretraining_data(method_class, protocol, task_name)
    data = task_data if task_data is not None and data_name == task_name else None
    if method_class.uses_task_labels:
        data = data or TASKS.get(data_name).obj().load(home, protocol)
        method.attach_task(data)
    if is_complete(directory):
        stored = load_checkpoint(directory, method)
        console.print(f"[green]reusing[/] pretrained checkpoint {directory.name}")
        return method, {**stored["pretraining"], "checkpoint": directory.name, "reused": True,
                        "weights_sha256": stored["weights_sha256"]}
    summary: dict[str, Any] = {"seconds": 0.0, "steps": 0, "loss_curve": [], "data": None}
    if method_class.needs_pretraining:
        data = data or TASKS.get(data_name).obj().load(home, protocol)
        console.print(
            f"pretraining [bold]{method_name}[/] + [bold]{encoder_name}[/] for {protocol.pretrain.steps} steps "
            f"of batch {protocol.pretrain.batch_size} on the train split of {data_name}"
        )
        resume_dir = resume_directory(directory)
        resume_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(resume_dir / "spec.json", spec)  # for `bench cache ls`
        if (resume_dir / RESUME_FILE).is_file():
            console.print(f"[green]resuming[/] the interrupted pretraining from {resume_dir.name}/{RESUME_FILE}")
        result = pretrain(method, data.store, data.indices["train"], protocol, seed, progress=progress,
                          devices=devices, num_nodes=nodes, resume_dir=resume_dir, compile=compile)
        if result.global_rank != 0:
            raise SecondaryRank  # with several processes, only the first saves, embeds, probes and records
        summary = {"seconds": round(result.seconds, 2), "steps": result.steps, "loss_curve": result.loss_curve,
                   "data": data_name, "data_manifest_sha256": data.manifest_sha256,
                   "devices": devices, "nodes": nodes, "world_size": result.world_size,
                   "resumed_from_step": result.resumed_from_step, "acceleration": result.acceleration}
    sha = save_checkpoint(directory, method, {"spec": spec, "pretraining": summary})
    if method_class.needs_pretraining:
        shutil.rmtree(resume_directory(directory), ignore_errors=True)
    return method, {**summary, "checkpoint": directory.name, "reused": False, "weights_sha256": sha}


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, disable=not enabled, transient=True)


def embed_task(
    method: Method, data: TaskData, protocol: Protocol, console: Console, progress: bool, weights_sha256: str, home: Path,
    about: dict[str, str],
) -> tuple[dict[str, ProbeData], list[str]]:
    """Chunk embeddings of every split, from the embedding cache when possible; also which were reused."""
    device = default_device()
    encoder = method.encoder
    splits, reused = {}, []
    with _progress(console, progress) as bar:
        for split in ("train", "valid", "test"):
            ids = [data.store.items[i].id for i in data.indices[split]]
            key = embedding_key(weights_sha256, data.manifest_sha256, ids, encoder.sample_rate, encoder.crop_samples)
            cached = load_embeddings(home, key)
            if cached is None:
                method.to(device).eval()
                cached = embed_clips(
                    method.features, data.store, data.indices[split], encoder.sample_rate, encoder.crop_samples,
                    protocol.probe.embed_batch_size, device, bar, f"embedding {data.name} {split}",
                )
                save_embeddings(home, key, *cached, {**about, "split": split})
            else:
                reused.append(split)
            splits[split] = ProbeData(cached[0], cached[1], data.targets[split])
    method.cpu()
    if reused:
        console.print(f"[green]reusing[/] cached embeddings of {data.name} ({', '.join(reused)})")
    return splits, reused


def run_benchmark(
    method_name: str, encoder_name: str, task_name: str, protocol: Protocol, seed: int, home: Path,
    console: Console | None = None, progress: bool = True, overrides: dict[str, str] | None = None,
    label_fraction: float = 1.0, devices: int = 1, nodes: int = 1, compile: bool = False,
) -> tuple[dict[str, Any], Path]:
    """Run one (method, encoder, task, protocol, seed) cell and write its record.

    ``label_fraction`` < 1 trains the probe on a stratified, seeded subset of the train clips
    (nested: the 1 % subset lies inside the 10 % one); validation and test stay whole.
    """
    console = console or Console()
    overrides = overrides or {}
    check_compatible(method_name, encoder_name)
    config_from_overrides(method_name, overrides)  # refuse bad settings before any work
    check_fraction(label_fraction)  # refuse a bad fraction before any work
    task = TASKS.get(task_name).obj()
    started = time.perf_counter()
    # Loaded once, before pretraining: the supervised baseline trains on it, and a method that
    # pretrains on the evaluated task (synth-tags under the cpu protocol) reuses it.
    data = task.load(home, protocol)
    method, pretraining = pretrained_method(
        method_name, encoder_name, protocol, seed, home, console, progress, overrides, task_name, devices, nodes,
        compile, task_data=data,
    )
    embed_started = time.perf_counter()
    about = {"method": method_name, "encoder": encoder_name, "task": task_name}
    splits, reused_embeddings = embed_task(
        method, data, protocol, console, progress, pretraining["weights_sha256"], home, about
    )
    probe_started = time.perf_counter()
    train_positions = label_subset(data.targets["train"], task.kind, label_fraction, seed)
    splits["train"] = splits["train"].clips(train_positions)
    probe = train_probe(task.kind, splits["train"], splits["valid"], protocol.probe, seed)
    test_scores = probe.clip_scores(task.kind, splits["test"])
    metrics = task_metrics(task.kind, test_scores, splits["test"].targets)
    valid_metrics = task_metrics(task.kind, probe.clip_scores(task.kind, splits["valid"]), splits["valid"].targets)
    finished = time.perf_counter()
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "protocol": {"name": protocol.name, "version": protocol.version, "sha256": protocol.sha256},
        "method": method_label(method_name, overrides),
        "method_name": method_name,
        "method_overrides": overrides,
        "method_config": dataclasses.asdict(method.config),
        "encoder": encoder_name,
        "encoder_parameters": method.encoder.parameter_count(),
        "encoder_parameters_used": method.encoder_parameters_used(),
        "task": task_name,
        "task_kind": task.kind,
        "label_fraction": label_fraction,
        "train_clips_labelled": len(train_positions),
        "seed": seed,
        "metrics": metrics,
        "valid_metrics": valid_metrics,
        "probe": {"kind": protocol.probe.kind, "epochs": probe.epochs, "best_valid_loss": probe.best_valid_loss},
        "pretraining": pretraining,
        "reused_embeddings": reused_embeddings,
        "timings": {
            "pretrain_s": round(embed_started - started, 2),
            "embed_s": round(probe_started - embed_started, 2),
            "probe_s": round(finished - probe_started, 2),
            "total_s": round(finished - started, 2),
        },
        "dataset": {"manifest_sha256": data.manifest_sha256,
                    "clips": {split: len(data.indices[split]) for split in data.indices}},
        "versions": package_versions(),
        "lock": lock_state(),
        "git": git_state(),
        "hardware": hardware(),
        "memory": peak_memory(),
    }
    if task.kind == "multilabel":
        per_tag = per_tag_average_precision(test_scores, splits["test"].targets)
        record["per_tag_average_precision"] = dict(zip(data.label_names, per_tag))
    return record, write_record(home, record)
