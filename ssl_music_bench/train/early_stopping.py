"""Early stopping on the validation split, for a method that trains on the task's labels.

The supervised baseline is the ceiling of a leaderboard column only when it is trained to
convergence on the task: a fixed step count (the pretraining's) leaves it wherever its learning
curve happened to be, below the random-init floor on most tasks of the first published table
(issue 12). :class:`ValidationEarlyStopping` gives it the protocol's ``[ceiling]`` budget
instead: every ``validate_every_steps`` it computes the loss on fixed crops of the task's valid
clips (the crops at evenly spaced offsets, the same at every check, so two checks differ only by
the weights), keeps the weights of the best check, lowers the learning rate when the loss has
not improved for a while (ReduceLROnPlateau, as CLMR's supervised_learning.py schedules its SGD
on "Valid/loss"), stops after ``early_stop_patience`` checks without improvement, and loads the
best weights back when training ends. With ``early_stop_metric = "headline"`` the checks judge
the weights by the task's headline metric instead (accuracy, or PR-AUC for tagging; a clip's
score is the mean of its crops' probabilities), and the schedule and the patience follow that
metric; the loss is still recorded. Before ``min_steps`` it only keeps the best weights: the
patience does not count and the learning rate is not lowered while a network trained from
scratch may still sit at the chance-level loss (Keras's EarlyStopping ``start_from_epoch``). Its
state (best weights included) is saved in the resume checkpoint, so an interrupted ceiling
resumes with its best check.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from torch import Tensor

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.protocol import CeilingSettings
from ssl_music_bench.contracts.task import TaskKind
from ssl_music_bench.data.sampler import padded_read
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate.metrics import JUDGED_METRIC, mean_over_chunks, task_metrics
from ssl_music_bench.train.batch_norm_statistics import BatchNormCalibration
from ssl_music_bench.train.module import to_encoder_rate

CROPS_PER_CLIP = 3  # evenly spaced crops per valid clip: the whole clip counts, at a third of the cost


def validation_batches(
    store: ClipStore, indices: list[int], targets: Tensor, samples: int, batch_size: int
) -> list[dict[str, Tensor]]:
    """Fixed batches of crops of ``samples`` from each clip (at evenly spaced offsets), with the
    clip's target and its position in ``indices`` (``clip``): what every validation check of one
    training scores."""
    audio, labels, clips = [], [], []
    for position, index in enumerate(indices):
        length = store.items[index].length
        for start in np.linspace(0, max(length - samples, 0), CROPS_PER_CLIP).round().astype(int):
            audio.append(torch.from_numpy(padded_read(store, index, int(start), samples)))
            labels.append(targets[position])
            clips.append(position)
    return [{"audio": torch.stack(audio[k:k + batch_size]), "target": torch.stack(labels[k:k + batch_size]),
             "clip": torch.tensor(clips[k:k + batch_size])}
            for k in range(0, len(audio), batch_size)]


class ValidationEarlyStopping(Callback):
    """A validation check every ``settings.validate_every_steps``; best weights kept; early stop.

    ``kind`` and ``clip_targets`` (the valid clips' targets, in the order of the batches' ``clip``)
    are what the headline metric needs. ``lr_reduce_factor`` / ``lr_reduce_patience``: the plateau
    schedule of the method's optimiser, in validation checks (0 patience or factor 1: no schedule).
    ``calibration``: recomputes the encoder's batch-norm statistics before each check
    (train/batch_norm_statistics.py)."""

    def __init__(
        self, batches: list[dict[str, Tensor]], store_rate: int, settings: CeilingSettings,
        lr_reduce_factor: float = 0.2, lr_reduce_patience: int = 2,
        calibration: BatchNormCalibration | None = None, kind: TaskKind = "multiclass",
        clip_targets: Tensor | None = None,
    ) -> None:
        self.batches, self.store_rate, self.settings = batches, store_rate, settings
        self.kind, self.clip_targets = kind, clip_targets
        self.by_metric = settings.early_stop_metric == "headline"
        self.metric_name = JUDGED_METRIC[kind] if self.by_metric else "loss"
        self.calibration = calibration  # batch-norm statistics recomputed before each check
        self.lr_reduce_factor, self.lr_reduce_patience = lr_reduce_factor, lr_reduce_patience
        self.history: list[tuple[int, float]] = []  # (step, validation loss) of every check
        self.metric_history: list[tuple[int, float]] = []  # (step, headline metric), when it judges
        self.best_loss = float("inf")  # the validation loss of the best check
        self.best_metric: float | None = None  # and its headline metric, when it judges
        self.best_step = 0
        self.checks_without_improvement = 0
        self.best_weights: dict[str, Tensor] | None = None
        self.stopped_at_step: int | None = None  # set when the patience ran out before max_steps
        self._plateau: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None
        self._restored_plateau: dict[str, Any] | None = None

    @torch.no_grad()
    def validation_check(self, method: Method) -> tuple[float, float | None]:
        """The mean loss over the fixed validation crops and, when it judges, the headline metric
        of the clips (each clip's score the mean of its crops'), the method in eval mode (no
        dropout, batch-norm running statistics), on the method's device."""
        was_training = method.training
        method.eval()
        device = next(method.parameters()).device
        total, count, scores, owners = 0.0, 0, [], []
        try:
            for batch in self.batches:
                on_device = to_encoder_rate(method, {key: value.to(device) for key, value in batch.items()},
                                            self.store_rate)
                loss, probabilities = method.task_outputs(on_device)
                size = len(batch["target"])
                total += float(loss) * size
                count += size
                if self.by_metric:  # the scores leave the device only when they judge
                    scores.append(probabilities.float().cpu())
                    owners.append(batch["clip"])
        finally:
            method.train(was_training)
        if not self.by_metric:
            return total / max(count, 1), None
        return total / max(count, 1), self.headline(torch.cat(scores), torch.cat(owners))

    def headline(self, crop_scores: Tensor, owner: Tensor) -> float:
        """The headline metric of the valid clips from their crops' scores."""
        if self.clip_targets is None:
            raise ValueError("early stopping on the headline metric needs the valid clips' targets")
        clip_scores = mean_over_chunks(crop_scores, owner, len(self.clip_targets))
        try:
            return task_metrics(self.kind, clip_scores, self.clip_targets)[self.metric_name]
        except ValueError as error:  # no tag with both positive and negative valid clips
            raise BenchError(
                f"The ceiling's early stopping judges {self.metric_name} on the task's valid split, but it "
                f"cannot be computed there ({error}). Use a larger corpus size, or set "
                f"early_stop_metric = \"loss\" in the protocol's [ceiling] table.") from None

    def improved(self, loss: float, metric: float | None) -> bool:
        """Whether a check beats the best so far, by the metric that judges."""
        if metric is not None:
            return self.best_metric is None or metric > self.best_metric
        return loss < self.best_loss

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.lr_reduce_patience > 0 and 0 < self.lr_reduce_factor < 1 and trainer.optimizers:
            self._plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                trainer.optimizers[0], mode="max" if self.by_metric else "min", factor=self.lr_reduce_factor,
                patience=self.lr_reduce_patience)
            if self._restored_plateau is not None:  # a resumed training continues its schedule
                self._plateau.load_state_dict(self._restored_plateau)

    def on_train_batch_end(  # type: ignore[no-untyped-def]
        self, trainer: pl.Trainer, module: pl.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if step % self.settings.validate_every_steps != 0 and step != trainer.max_steps:
            return
        method: Method = module.method  # type: ignore[assignment]
        if self.calibration is not None:
            # the check scores (and the best check keeps) the weights with their own statistics;
            # the training is unchanged: in train mode batch norm uses the batch's statistics
            self.calibration.apply(method.encoder)
        loss, metric = self.validation_check(method)
        self.history.append((step, loss))
        if metric is not None:
            self.metric_history.append((step, metric))
        if self.improved(loss, metric):
            self.best_loss, self.best_metric, self.best_step = loss, metric, step
            self.checks_without_improvement = 0
            self.best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in method.state_dict().items()})
        elif step > self.settings.min_steps:  # the warm-up's checks do not count against it
            self.checks_without_improvement += 1
        if self._plateau is not None and step > self.settings.min_steps:
            self._plateau.step(metric if metric is not None else loss)
        if self.checks_without_improvement >= self.settings.early_stop_patience and step < trainer.max_steps:
            self.stopped_at_step = step
            trainer.should_stop = True

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.best_weights is not None:
            module.method.load_state_dict(self.best_weights)  # type: ignore[union-attr]

    def summary(self, steps_trained: int) -> dict[str, Any]:
        """What the run record keeps of the ceiling's training."""
        return {"max_steps": self.settings.max_steps, "validate_every_steps": self.settings.validate_every_steps,
                "early_stop_patience": self.settings.early_stop_patience, "min_steps": self.settings.min_steps,
                "steps_trained": steps_trained,
                "best_valid_loss": round(self.best_loss, 6) if self.history else None,
                "best_step": self.best_step if self.history else None, "stopped_at_step": self.stopped_at_step,
                "early_stopped": self.stopped_at_step is not None,
                "valid_loss_curve": [[step, round(loss, 6)] for step, loss in self.history],
                **({"early_stop_metric": self.metric_name,
                    "best_valid_metric": round(self.best_metric, 6) if self.best_metric is not None else None,
                    "valid_metric_curve": [[step, round(value, 6)] for step, value in self.metric_history]}
                   if self.by_metric else {})}

    def state_dict(self) -> dict[str, Any]:  # saved in the resume checkpoint
        return {"history": [list(point) for point in self.history], "best_loss": self.best_loss,
                "metric_history": [list(point) for point in self.metric_history], "best_metric": self.best_metric,
                "best_step": self.best_step, "checks_without_improvement": self.checks_without_improvement,
                "best_weights": self.best_weights, "stopped_at_step": self.stopped_at_step,
                "plateau": self._plateau.state_dict() if self._plateau is not None else None}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = [(int(step), float(loss)) for step, loss in state_dict["history"]]
        self.best_loss, self.best_step = float(state_dict["best_loss"]), int(state_dict["best_step"])
        self.metric_history = [(int(step), float(value)) for step, value in state_dict.get("metric_history", [])]
        self.best_metric = state_dict.get("best_metric")
        self.checks_without_improvement = int(state_dict["checks_without_improvement"])
        self.best_weights = state_dict["best_weights"]
        self.stopped_at_step = state_dict.get("stopped_at_step")
        self._restored_plateau = state_dict.get("plateau")
