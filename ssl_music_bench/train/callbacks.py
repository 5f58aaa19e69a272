"""Lightning callbacks of pretraining: the loss curve and the training time for the record, and
resume checkpoints.

Interrupted runs resume. Every ``checkpoint_interval(steps)`` steps the full training state
(weights, optimiser, schedule, step, loss history) is saved to ``resume_dir/last.ckpt`` (under a
temporary name, then renamed). With the per-step seeding of the device draws (train/module.py)
and samplers that deliver their fixed seeded sequence of batches from any step on
(``StepSequence``), a run restarted from that file ends with the same weights as one that never
stopped (tests/train/test_resume.py).

A loss that is not finite (NaN, inf) ends training at the step where it appears
(:class:`FiniteLoss`): the weights after it are garbage, and every later step would only spend
time on them.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from ssl_music_bench.data.sampler import StepSequence

RESUME_FILE = "last.ckpt"


class NonFiniteLoss(Exception):
    """The training loss (of the global batch) is not finite at ``step``; raised in every process."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(f"the training loss is {loss} at step {step}")
        self.step, self.loss = step, loss


class FiniteLoss(Callback):
    """Stops training with :class:`NonFiniteLoss` at the first step whose loss is NaN or inf.

    The loss checked is the mean over processes (one small all-reduce per step with DDP), so
    that every process stops at the same step instead of the others waiting for it forever."""

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:  # type: ignore[no-untyped-def]
        loss = float(trainer.strategy.reduce(outputs["loss"].detach(), reduce_op="mean"))
        if not math.isfinite(loss):
            raise NonFiniteLoss(trainer.global_step, loss)


class InterruptSeen(Callback):
    """Notes that training stopped on a Ctrl-C. Lightning answers a KeyboardInterrupt inside
    ``fit`` by ignoring SIGINT from then on and calling ``sys.exit(1)`` (pytorch_lightning/
    trainer/call.py), so the caller would see an exit status of 1, as for a crash, instead of
    the 130 of an interruption; with this note :func:`~ssl_music_bench.train.pretrain.pretrain`
    turns that exit back into the KeyboardInterrupt it was."""

    def __init__(self) -> None:
        self.seen = False

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, exception: BaseException) -> None:
        self.seen = self.seen or isinstance(exception, KeyboardInterrupt)


class LossHistory(Callback):
    """Keeps (step, loss) every few steps for the run record and the loss-curve plot; with several
    processes the loss is the mean over processes, i.e. the loss of the global batch."""

    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self.points: list[tuple[int, float]] = []

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:  # type: ignore[no-untyped-def]
        step = trainer.global_step
        if step % self.every == 0 or step == trainer.max_steps:
            loss = trainer.strategy.reduce(outputs["loss"].detach(), reduce_op="mean")
            self.points.append((step, float(loss)))

    def state_dict(self) -> dict[str, Any]:  # saved in the resume checkpoint
        return {"points": [list(point) for point in self.points]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.points = [(int(step), float(loss)) for step, loss in state_dict["points"]]


class TrainingClock(Callback):
    """Seconds spent training, those of the runs it resumed included: the seconds before an
    interruption travel in the resume checkpoint (Lightning saves a callback's ``state_dict``),
    so a resumed run's record counts the whole training and not only its last part."""

    def __init__(self) -> None:
        self.before = 0.0  # seconds of the interrupted runs this one resumed (from the checkpoint)
        self.started = time.perf_counter()

    def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.started

    def state_dict(self) -> dict[str, Any]:  # saved in the resume checkpoint
        return {"seconds": self.seconds()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.before = float(state_dict["seconds"])


def checkpoint_interval(steps: int) -> int:
    """Steps between resume checkpoints: about twenty per run (one per step for tiny budgets)."""
    return max(1, math.ceil(steps / 20))


class ResumeCheckpoint(Callback):
    """Every ``every`` steps (not after the last), the whole training state to
    ``directory/last.ckpt``, atomically (temporary name, then rename), so that a kill at any
    moment leaves the previous one; and, when training starts, the sampler set to the step the
    trainer starts from (0, or the restored checkpoint's step)."""

    def __init__(self, directory: Path, every: int, sampler: StepSequence) -> None:
        self.path, self.every, self.sampler = directory / RESUME_FILE, every, sampler
        self.start_step = 0  # the step training started from: the restored checkpoint's, or 0

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.start_step = trainer.global_step
        self.sampler.start_at(self.start_step)

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:  # type: ignore[no-untyped-def]
        step = trainer.global_step
        if step % self.every or step >= trainer.max_steps:
            return  # at the end the caller saves the final weights and removes the resume folder
        partial = self.path.with_name(self.path.name + ".partial")
        trainer.save_checkpoint(partial)  # every rank calls it; rank 0 writes
        if trainer.is_global_zero:
            os.replace(partial, self.path)
        trainer.strategy.barrier()
