"""Pretraining with Lightning: the loop, devices, precision; the method supplies the loss.

The data loader delivers excerpts at the store's rate; everything per-example that can be
batched (resampling to the encoder's rate, augmentation, the mel frontend) runs here on the
training device.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, RichProgressBar
from torch import Tensor

from ssl_music_bench.audio import resample
from ssl_music_bench.method import Method
from ssl_music_bench.protocol import Protocol
from ssl_music_bench.sampler import Example
from ssl_music_bench.store import ClipStore


class PretrainModule(pl.LightningModule):
    """Wraps a method for Lightning: resample on the device, then the method's loss."""

    def __init__(self, method: Method, store_rate: int) -> None:
        super().__init__()
        self.method = method
        self.store_rate = store_rate

    def training_step(self, batch: Example, batch_idx: int) -> Tensor:
        rate = self.method.encoder.sample_rate
        for key in self.method.audio_keys:
            batch[key] = resample(batch[key], self.store_rate, rate)
        loss = self.method.training_loss(batch)
        self.log("loss", loss, prog_bar=True, batch_size=len(next(iter(batch.values()))))
        return loss

    def configure_optimizers(self) -> Any:
        return self.method.configure_optimizer(self.trainer.max_steps)


class LossHistory(Callback):
    """Keeps (step, loss) every few steps for the run record and the loss-curve plot."""

    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self.points: list[tuple[int, float]] = []

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:  # type: ignore[no-untyped-def]
        step = trainer.global_step
        if step % self.every == 0 or step == trainer.max_steps:
            self.points.append((step, float(outputs["loss"].detach())))


@dataclass
class PretrainResult:
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def quiet_lightning() -> None:
    """Lightning's banner lines and advice about worker counts are noise for a CLI user."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")


def pretrain(
    method: Method,
    store: ClipStore,
    indices: list[int],
    protocol: Protocol,
    seed: int,
    progress: bool = True,
) -> PretrainResult:
    """Train ``method`` for the protocol's budget on random excerpts of ``indices``."""
    quiet_lightning()
    pl.seed_everything(seed, workers=True, verbose=False)
    settings = protocol.pretrain
    loader = method.pretrain_batches(
        store, indices, settings.batch_size, settings.steps, seed, settings.num_workers
    )
    history = LossHistory(settings.log_every_steps)
    callbacks: list[Callback] = [history]
    if progress:
        callbacks.append(RichProgressBar(leave=True))
    trainer = pl.Trainer(
        max_steps=settings.steps,
        max_epochs=1,  # the loader delivers exactly `steps` batches in one pass
        accelerator="auto",
        devices=1,
        precision=settings.precision,  # type: ignore[arg-type]
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress,
        callbacks=callbacks,
        num_sanity_val_steps=0,
        deterministic=False,
    )
    module = PretrainModule(method, store.sample_rate)
    started = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    method.cpu()
    return PretrainResult(history.points, time.perf_counter() - started, trainer.global_step)
