"""The training step of pretraining, and the LightningModule that gives it to Lightning.

The data loader delivers excerpts at the store's rate; everything per-example that can be
batched (resampling to the encoder's rate, augmentation, the mel frontend) runs in the step, on
the training device. :func:`step_loss` is that step's forward: pretraining runs it inside
Lightning (:class:`PretrainModule`) and ``bench speed`` times it (train/speed/step.py), so both
measure the same computation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.data.audio import resample
from ssl_music_bench.data.sampler import Example
from ssl_music_bench.train.distributed import sharded_draws
from ssl_music_bench.train.optimisation import Optimisation, protocol_optimisation


def to_encoder_rate(method: Method, batch: Example, store_rate: int) -> Example:
    """The batch with the method's ``audio_keys`` resampled from the store's rate to its encoder's.

    A new dict, so that a batch kept for reuse (``bench speed``'s model-only step) stays as it was."""
    rate = method.encoder.sample_rate
    return {**batch, **{key: resample(batch[key], store_rate, rate) for key in method.audio_keys}}


def step_loss(method: Method, batch: Example, store_rate: int, rank: int = 0, world_size: int = 1) -> Tensor:
    """One training step's loss: the batch at the encoder's rate, then the method's loss, its
    random draws those of this process's rows of the global batch (train/distributed.py)."""
    batch = to_encoder_rate(method, batch, store_rate)
    with sharded_draws(rank, world_size):
        return method.training_loss(batch)


class PretrainModule(pl.LightningModule):
    """Wraps a method for Lightning: per-step seeding, :func:`step_loss`, the method's optimiser."""

    def __init__(self, method: Method, store_rate: int, seed: int = 0, settings: Any = None) -> None:
        super().__init__()
        self.method = method
        self.store_rate = store_rate
        self.seed = seed
        self.settings = settings  # the protocol's PretrainSettings: its optimiser and schedule, if it names them

    def on_train_batch_start(self, batch: Example, batch_idx: int) -> None:
        """Seed the draws on the device (crops, augmentation, noise) from (seed, step).

        Per step, so that a run resumed from a checkpoint draws what an uninterrupted run draws
        (no generator state to save); the same in every process, which draws for the whole
        global batch and keeps its own rows (ssl_music_bench/train/distributed.py)."""
        state = np.random.SeedSequence([self.seed, self.trainer.global_step])
        torch.manual_seed(int(state.generate_state(1)[0]))

    def training_step(self, batch: Example, batch_idx: int) -> Tensor:
        loss = step_loss(self.method, batch, self.store_rate, self.trainer.global_rank, self.trainer.world_size)
        self.log("loss", loss, prog_bar=True, batch_size=len(next(iter(batch.values()))), sync_dist=True)
        return loss

    def configure_optimizers(self) -> Any:
        if self.settings is not None:
            return protocol_optimisation(self.method, self.settings, self.trainer.max_steps).for_lightning()
        configured = self.method.configure_optimizer(self.trainer.max_steps)
        return Optimisation.read(configured, type(self.method).__name__).for_lightning()
