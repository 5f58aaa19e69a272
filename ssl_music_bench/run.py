"""One benchmark run: pretrain (or reuse), embed, probe, record.

    bench run --method clmr --encoder samplecnn --task synth-tags --protocol cpu --seed 0

The run is described by a :class:`~ssl_music_bench.run_spec.RunSpec` (checked when it is made)
and executed with :class:`~ssl_music_bench.run_spec.RunOptions`. :func:`run_benchmark` goes
through the stages in order: the task's data; the pretrained method (train/pretrained.py: the
checkpoint is reused by every downstream task, since pretraining depends on method, config,
encoder, pretraining data, protocol and seed only); the chunk embeddings of every split (from
the embedding cache when possible); a probe trained on the (possibly subsampled) train split;
the test metrics; and the run record with everything needed to trust and repeat it.

Each stage is announced on the console ("phase: pretraining", ...), so a user (and the tests
that kill a run at each stage) can see where it is. A stage that is interrupted leaves nothing
half-written, and results that are not finite numbers never become a record.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.registry import METHODS, TASKS
from ssl_music_bench.contracts.task import TaskData, TaskKind
from ssl_music_bench.devices import default_device
from ssl_music_bench.environment import lock_state
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate.cache import embedding_key, embedding_lock, load_embeddings, save_embeddings
from ssl_music_bench.evaluate.embed import embed_clips
from ssl_music_bench.evaluate.label_fractions import label_subset
from ssl_music_bench.evaluate.metrics import per_tag_average_precision, task_metrics
from ssl_music_bench.evaluate.probe import ProbeData, train_probe
from ssl_music_bench.evaluate.resolution import test_resolution
from ssl_music_bench.report.records import (
    SCHEMA_VERSION,
    git_state,
    hardware,
    package_versions,
    peak_memory,
    write_record,
)
from ssl_music_bench.run_spec import RunOptions, RunSpec
from ssl_music_bench.train.convergence import convergence
from ssl_music_bench.train.distributed import per_process_batch
from ssl_music_bench.train.pretrained import load_pretrained
from ssl_music_bench.train.snapshots import kept_steps, load_snapshot


def run_benchmark(spec: RunSpec, home: Path, options: RunOptions | None = None) -> tuple[dict[str, Any], Path]:
    """Run one (method, encoder, task, protocol, seed) cell and write its record.

    ``spec.label_fraction`` < 1 trains the probe on a stratified, seeded subset of the train
    clips (nested: the 1 % subset lies inside the 10 % one); validation and test stay whole.
    Returns the record and the path it was written to.
    """
    options = options or RunOptions()
    per_process_batch(spec.protocol.pretrain.batch_size, options.devices, options.nodes)  # before any work
    task = TASKS.get(spec.task).obj()
    started = time.perf_counter()
    # Loaded once, before pretraining: the supervised baseline trains on it, and a method that
    # pretrains on the evaluated task (synth-tags under the cpu protocol) reuses it.
    _phase(options, "data")
    data = task.load(home, spec.protocol)
    _phase(options, "pretraining")
    method, pretraining = load_pretrained(spec, home, options, task_data=data)
    embed_started = time.perf_counter()
    _phase(options, "embedding")
    # keyed by the hash of the weights as verified when loaded (or as just written), never a stored claim
    splits, reused_embeddings = embed_task(method, data, pretraining["weights_sha256"], spec, home, options)
    probe_started = time.perf_counter()
    _phase(options, "probe")
    probed = probe_task(task.kind, splits, spec)
    check_finite_results(probed, spec)
    along = probe_along_pretraining(spec, home, options, data, task.kind, probed)
    finished = time.perf_counter()
    _phase(options, "record")
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "protocol": {"name": spec.protocol.name, "version": spec.protocol.version, "sha256": spec.protocol.sha256},
        "method": spec.label,
        "method_name": spec.method,
        "method_overrides": spec.overrides,
        "baseline": METHODS.get(spec.method).baseline,  # "floor", "ceiling" or None: how the table places the row
        "method_config": dataclasses.asdict(method.config),
        "encoder": spec.encoder,
        "encoder_parameters": method.encoder.parameter_count(),
        "encoder_parameters_used": method.encoder_parameters_used(),
        "task": spec.task,
        "task_kind": task.kind,
        "label_fraction": spec.label_fraction,
        "train_clips_labelled": probed.train_clips_labelled,
        "seed": spec.seed,
        "metrics": probed.metrics,
        # the test split's own 95 % half-width of each headline metric (bootstrap over test clips)
        "resolution": probed.resolution,
        "valid_metrics": probed.valid_metrics,
        "probe": probed.probe,
        "pretraining": {**pretraining, "convergence": pretraining_convergence(spec, pretraining)},
        # --weights: the external file that replaced pretraining (sha256, layout, label); None otherwise
        "weights": spec.weights.describe() if spec.weights is not None else None,
        "reused_embeddings": reused_embeddings,
        "timings": {
            "pretrain_s": round(embed_started - started, 2),
            "embed_s": round(probe_started - embed_started, 2),
            "probe_s": round(finished - probe_started, 2),
            "total_s": round(finished - started, 2),
        },
        "dataset": {"manifest_sha256": data.manifest_sha256,
                    # the synthetic corpus's generator version (None for real data): tables never mix versions
                    "corpus_version": data.store.header.get("synth_version"),
                    "clips": {split: len(data.indices[split]) for split in data.indices}},
        "versions": package_versions(),
        "lock": lock_state(),
        "git": git_state(),
        "hardware": hardware(),
        "memory": peak_memory(),
    }
    if along:  # pretrain.probe_every / --probe-every: the test metrics after each kept step
        record["along_pretraining"] = along
    if probed.per_tag_average_precision is not None:
        record["per_tag_average_precision"] = dict(zip(data.label_names, probed.per_tag_average_precision))
    return record, write_record(home, record)


def pretraining_convergence(spec: RunSpec, pretraining: dict[str, Any]) -> dict[str, Any] | None:
    """The record's ``pretraining.convergence`` (train/convergence.py); None for a method that does
    not pretrain. The supervised ceiling trains until its validation loss stops improving
    (train/early_stopping.py): when it stopped early it had converged by that criterion; when it
    ran out of ``max_steps`` first, the validation curve that the stopping watches is judged: the
    loss, or the headline metric turned into a loss (its negative: rising is falling)."""
    if not spec.method_class.needs_pretraining:
        return None
    tolerance = spec.protocol.pretrain.convergence_tolerance
    stopping = pretraining.get("early_stopping") or {}
    watched = ([[step, -value] for step, value in stopping["valid_metric_curve"]]
               if stopping.get("valid_metric_curve") else stopping.get("valid_loss_curve"))
    if stopping.get("early_stopped"):
        figure = convergence(watched or [], tolerance)
        return {**(figure or {"relative_change": 0.0, "tolerance": tolerance}), "converged": True,
                "early_stopped": True}
    return convergence(watched or pretraining.get("loss_curve") or [], tolerance)


def probe_along_pretraining(spec: RunSpec, home: Path, options: RunOptions, data: TaskData, kind: TaskKind,
                            final: Probed) -> list[dict[str, Any]]:
    """``[{"step": s, "metrics": {...}}, ...]``: the same embedding and probe on the weights kept
    at each snapshot step (train/snapshots.py), then the final weights' metrics; [] when the
    protocol keeps none. Each snapshot's embeddings are cached under its weights' hash."""
    steps = kept_steps(spec)
    if not steps:
        return []
    _phase(options, "probing along pretraining")
    directory = spec.checkpoint_directory(home)
    points = []
    for step in steps:
        method = spec.new_method()
        sha = load_snapshot(directory, step, method)
        splits, _ = embed_task(method, data, sha, spec, home, options)
        probed = probe_task(kind, splits, spec)
        check_finite_results(probed, spec)
        points.append({"step": step, "metrics": probed.metrics})
    return [*points, {"step": spec.protocol.pretrain.steps, "metrics": final.metrics}]


def _phase(options: RunOptions, name: str) -> None:
    """One line per stage of the run, on the console (stderr for `bench`)."""
    options.console.print(f"phase: {name}", highlight=False)


def check_finite_results(probed: Probed, spec: RunSpec) -> None:
    """A BenchError when a metric or the probe's loss is not a finite number: such a result
    must never become a record (the table would rank it, or a plot would silently drop it)."""
    values = {**{f"test {k}": v for k, v in probed.metrics.items()},
              **{f"valid {k}": v for k, v in probed.valid_metrics.items()},
              "the probe's best validation loss": probed.probe.get("best_valid_loss", 0.0),
              **{f"test average precision of tag {i}": v
                 for i, v in enumerate(probed.per_tag_average_precision or []) if v is not None}}
    bad = {name: value for name, value in values.items() if not math.isfinite(float(value))}
    if bad:
        found = ", ".join(f"{name} = {value}" for name, value in bad.items())
        raise BenchError(
            f"The run of {spec.label} + {spec.encoder} on {spec.task} (seed {spec.seed}) gave results that are not "
            f"finite numbers ({found}), so no record was written. The embeddings or the probe diverged: check "
            f"the method's settings (--set) and the protocol's [probe] settings (learning rate), then run again."
        )


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, disable=not enabled, transient=True)


def embed_task(
    method: Method, data: TaskData, weights_sha256: str, spec: RunSpec, home: Path, options: RunOptions
) -> tuple[dict[str, ProbeData], list[str]]:
    """Chunk embeddings of every split, from the embedding cache when possible; also which were reused."""
    device = default_device()
    encoder = method.encoder
    about = {"method": spec.method, "encoder": spec.encoder, "task": spec.task}
    splits, reused = {}, []
    with _progress(options.console, options.progress) as bar:
        for split in ("train", "valid", "test"):
            ids = [data.store.items[i].id for i in data.indices[split]]
            key = embedding_key(weights_sha256, data.manifest_sha256, ids, encoder.sample_rate, encoder.crop_samples)
            with embedding_lock(home, key):  # a second run of the same embedding waits, then reuses it
                cached = load_embeddings(home, key)
                if cached is None:
                    method.to(device).eval()
                    cached = embed_clips(
                        method.features, data.store, data.indices[split], encoder.sample_rate, encoder.crop_samples,
                        spec.protocol.probe.embed_batch_size, device, bar, f"embedding {data.name} {split}",
                    )
                    save_embeddings(home, key, *cached, {**about, "split": split})
                else:
                    reused.append(split)
            splits[split] = ProbeData(cached[0], cached[1], data.targets[split])
    method.cpu()
    if reused:
        options.console.print(f"[green]reusing[/] cached embeddings of {escape(data.name)} ({', '.join(reused)})")
    return splits, reused


@dataclass(frozen=True)
class Probed:
    """What the probe of one run found: the evaluation fields of the run record."""

    train_clips_labelled: int
    metrics: dict[str, float]
    valid_metrics: dict[str, float]
    probe: dict[str, Any]  # kind, epochs trained, best validation loss
    per_tag_average_precision: list[float] | None  # multilabel tasks: test AP of each tag
    # 95 % bootstrap half-width of each headline test metric (0..1); empty when not measured
    resolution: dict[str, float] = dataclasses.field(default_factory=dict)


def probe_task(kind: TaskKind, splits: dict[str, ProbeData], spec: RunSpec) -> Probed:
    """Train the probe on the spec's label fraction of the train split; score valid and test."""
    train_positions = label_subset(splits["train"].targets, kind, spec.label_fraction, spec.seed)
    train = splits["train"].clips(train_positions)
    settings = spec.protocol.probe_for(spec.task or "")  # a [task_probe.<task>] table, else [probe]
    probe = train_probe(kind, train, splits["valid"], settings, spec.seed)
    test_scores = probe.clip_scores(kind, splits["test"])
    metrics = task_metrics(kind, test_scores, splits["test"].targets)
    valid_metrics = task_metrics(kind, probe.clip_scores(kind, splits["valid"]), splits["valid"].targets)
    per_tag = per_tag_average_precision(test_scores, splits["test"].targets) if kind == "multilabel" else None
    resolution = test_resolution(kind, test_scores, splits["test"].targets, seed=spec.seed)
    return Probed(len(train_positions), metrics, valid_metrics,
                  {"kind": settings.kind, "epochs": probe.epochs, "best_valid_loss": probe.best_valid_loss},
                  per_tag, resolution)
