"""Weights kept at fixed steps of pretraining, so that a run can probe along pretraining.

With the protocol's ``pretrain.probe_every = N`` (or ``bench run --probe-every N``) the weights
after steps N, 2N, ... (below the budget; the final checkpoint is the last point) are saved
beside the run's checkpoint, in ``<checkpoint>.snapshots/step-<step>/``, each written like a
checkpoint (safetensors and a config holding their sha256, atomically), and run.py probes each
of them, so that a record holds the downstream metric as a function of pretraining steps: the
multi-source poster's convergence comparison of MSA with COLA + MWS (Garoufis et al., SMC 2023).

The snapshots do not change the training (they are only read from the model), so the final
weights are those of a run without them, and the checkpoint key does not include them. A
resumed pretraining keeps the snapshots saved before the interruption. Snapshots are read back
only after their weights match their stored hash (train/checkpoint.py).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from torch import nn

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.errors import BenchError
from ssl_music_bench.train.batch_norm_statistics import BatchNormCalibration
from ssl_music_bench.train.checkpoint import is_complete, load_checkpoint, save_checkpoint

if TYPE_CHECKING:
    from ssl_music_bench.run_spec import RunSpec


def snapshot_steps(total_steps: int, every: int) -> list[int]:
    """The steps whose weights are kept: every ``every`` steps, below ``total_steps`` (whose
    weights are the checkpoint itself); none when ``every`` is 0."""
    return list(range(every, total_steps, every)) if every > 0 else []


def snapshots_directory(checkpoint: Path) -> Path:
    """The folder of the snapshots of one checkpoint, beside it (like its ``.resume`` folder)."""
    return checkpoint.with_name(checkpoint.name + ".snapshots")


def snapshot_path(checkpoint: Path, step: int) -> Path:
    return snapshots_directory(checkpoint) / f"step-{step:09d}"


def missing_snapshots(checkpoint: Path, steps: list[int]) -> list[int]:
    """The steps among ``steps`` whose snapshot is not (completely) stored."""
    return [step for step in steps if not is_complete(snapshot_path(checkpoint, step))]


def load_snapshot(checkpoint: Path, step: int, model: nn.Module) -> str:
    """Load the snapshot of ``step`` into ``model`` after verifying it; its weights' sha256.

    Raises :class:`~ssl_music_bench.train.checkpoint.CorruptCheckpoint` when it was altered."""
    return load_checkpoint(snapshot_path(checkpoint, step), model)["weights_sha256"]


class Snapshots(Callback):
    """Saves ``model``'s weights after each of ``steps`` (first process only), skipping those a
    resumed run saved before its interruption."""

    def __init__(self, model: Method, checkpoint: Path, steps: list[int],
                 calibration: BatchNormCalibration | None = None) -> None:
        self.model, self.checkpoint, self.steps = model, checkpoint, set(steps)
        self.calibration = calibration  # the snapshot gets its own batch-norm statistics, as the final weights

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:  # type: ignore[no-untyped-def]
        step = trainer.global_step  # optimiser steps taken: the weights after `step` updates
        if step in self.steps and trainer.is_global_zero and not is_complete(snapshot_path(self.checkpoint, step)):
            model = self.model
            if self.calibration is not None:  # on a copy: the training's running statistics stay its own
                model = copy.deepcopy(self.model)
                self.calibration.apply(model.encoder)
            save_checkpoint(snapshot_path(self.checkpoint, step), model, {"step": step})


def kept_steps(spec: RunSpec) -> list[int]:
    """The snapshot steps of a run: the protocol's ``probe_every`` for a self-supervised method
    (the supervised ceiling stops early on its own validation split; random-init never trains)."""
    method = spec.method_class
    if not method.needs_pretraining or method.uses_task_labels or getattr(spec, "weights", None) is not None:
        return []
    return snapshot_steps(spec.protocol.pretrain.steps, spec.protocol.pretrain.probe_every)


def probing_every(protocol: Protocol, every: int | None) -> Protocol:
    """``protocol`` with ``pretrain.probe_every`` set (``bench run --probe-every N``); unchanged
    for None. Its name and hash stay those of its file: the option adds probes, it changes
    neither the weights (the run shares its checkpoint with a run without it) nor the final metrics."""
    if every is None:
        return protocol
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise BenchError(f"--probe-every {every!r} is not a number of steps: give a whole number of at least 1 "
                         "(probe the weights every N pretraining steps) or 0 (only the final weights).")
    return dataclasses.replace(protocol, pretrain=dataclasses.replace(protocol.pretrain, probe_every=every))
