"""Pretraining with Lightning: the loop, devices, precision; the method supplies the loss.

The data loader delivers excerpts at the store's rate; everything per-example that can be
batched (resampling to the encoder's rate, augmentation, the mel frontend) runs here on the
training device.

Several devices or nodes train with DDP. The protocol's ``batch_size`` is the GLOBAL batch: each
of the N processes gets its slice of the same seeded global batch (ssl_music_bench/data/sampler.py),
the contrastive losses gather their negatives from every process (with gradients that sum over
processes, so that DDP's averaging gives the gradient of the whole batch's loss), and batch norm
computes its statistics over the global batch (``pretrain.sync_batchnorm``), so that N processes
do the computation of one process with the whole batch. Lightning detects torchrun and SLURM;
without them it starts the other local processes itself by re-running the command.

Interrupted runs resume. Every ``checkpoint_interval(steps)`` steps the full training state
(weights, optimiser, schedule, step, loss history) is saved to ``resume_dir/last.ckpt`` (under a
temporary name, then renamed). The random draws on the device are seeded per step from (seed,
step), the same in every process (ssl_music_bench/train/draws.py), and the samplers deliver their fixed seeded sequence of batches from any step on
(``StepSequence``), so a run restarted from that file ends with the same weights as one that
never stopped.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MethodType
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning.callbacks import Callback, RichProgressBar
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.data.audio import resample
from ssl_music_bench.data.sampler import Example, StepSequence
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.devices import default_device
from ssl_music_bench.errors import BenchError
from ssl_music_bench.train.acceleration import accelerate
from ssl_music_bench.train.draws import sharded_draws


def to_encoder_rate(method: Method, batch: Example, store_rate: int) -> Example:
    """The batch with the method's ``audio_keys`` resampled from the store's rate to its encoder's.

    A new dict, so that a batch kept for reuse (``bench speed``'s model-only step) stays as it was."""
    rate = method.encoder.sample_rate
    return {**batch, **{key: resample(batch[key], store_rate, rate) for key in method.audio_keys}}


class PretrainModule(pl.LightningModule):
    """Wraps a method for Lightning: resample on the device, then the method's loss."""

    def __init__(self, method: Method, store_rate: int, seed: int = 0) -> None:
        super().__init__()
        self.method = method
        self.store_rate = store_rate
        self.seed = seed

    def on_train_batch_start(self, batch: Example, batch_idx: int) -> None:
        """Seed the draws on the device (crops, augmentation, noise) from (seed, step).

        Per step, so that a run resumed from a checkpoint draws what an uninterrupted run draws
        (no generator state to save); the same in every process, which draws for the whole
        global batch and keeps its own rows (ssl_music_bench/train/draws.py)."""
        state = np.random.SeedSequence([self.seed, self.trainer.global_step])
        torch.manual_seed(int(state.generate_state(1)[0]))

    def training_step(self, batch: Example, batch_idx: int) -> Tensor:
        batch = to_encoder_rate(self.method, batch, self.store_rate)
        with sharded_draws(self.trainer.global_rank, self.trainer.world_size):
            loss = self.method.training_loss(batch)
        self.log("loss", loss, prog_bar=True, batch_size=len(next(iter(batch.values()))), sync_dist=True)
        return loss

    def configure_optimizers(self) -> Any:
        return self.method.configure_optimizer(self.trainer.max_steps)


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


RESUME_FILE = "last.ckpt"


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


@dataclass
class PretrainResult:
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    global_rank: int = 0  # with several processes each one returns; only rank 0 should go on
    world_size: int = 1
    resumed_from_step: int | None = None  # the step of the resume checkpoint it started from
    acceleration: dict[str, bool] = field(default_factory=dict)  # what accelerate() applied


def quiet_lightning() -> None:
    """Lightning's banner lines and advice about worker counts are noise for a CLI user."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")


def global_batch_norm(self: _BatchNorm, x: Tensor) -> Tensor:
    """A batch-norm layer's forward with mean and variance over the batch of every process.

    Installed on a layer's instance by :func:`synchronise_batch_norm`. Unlike torch's
    SyncBatchNorm it works on every device (CPU and gloo too, so the equivalence test runs in
    CI) and keeps the activation of timm's BatchNormAct2d. The sums go through an all-reduce
    with gradients, so each process's backward sums every process's loss, as the contrastive
    gathers do. Statistics in float32, also under mixed precision.
    """
    if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return type(self).forward(self, x)
    from torch.distributed.nn.functional import all_reduce

    dims = [0, *range(2, x.dim())]
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    values = x.float()
    sums = all_reduce(torch.cat([values.sum(dims), values.new_tensor([values.numel() / x.shape[1]])]))
    count = sums[-1].detach()
    mean = sums[:-1] / count
    centred = values - mean.view(shape)
    variance = all_reduce(centred.square().sum(dims)) / count
    out = centred * torch.rsqrt(variance + self.eps).view(shape)
    if self.weight is not None:
        out = out * self.weight.view(shape) + self.bias.view(shape)
    if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)  # type: ignore[union-attr,operator]
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            unbiased = variance.detach() * count / max(float(count) - 1, 1.0)
            self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), factor)
            self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
    out = out.to(x.dtype)
    if hasattr(self, "act"):  # timm's BatchNormAct2d: norm, then dropout and activation
        out = self.act(self.drop(out))
    return out


def synchronise_batch_norm(module: nn.Module) -> list[_BatchNorm]:
    """Make every batch-norm layer of ``module`` use global-batch statistics; returns the layers
    for :func:`restore_batch_norm`. Weights, buffers and the module tree stay as they are."""
    layers = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    for layer in layers:
        layer.forward = MethodType(global_batch_norm, layer)  # type: ignore[method-assign]
    return layers


def restore_batch_norm(layers: list[_BatchNorm]) -> None:
    for layer in layers:
        del layer.forward


def per_process_batch(batch_size: int, devices: int, num_nodes: int) -> int:
    """The protocol's global batch split over ``devices x num_nodes`` processes, or a BenchError."""
    world = devices * num_nodes
    if devices < 1 or num_nodes < 1:
        raise BenchError(f"devices ({devices}) and nodes ({num_nodes}) must be at least 1.")
    if batch_size % world:
        raise BenchError(
            f"The protocol's pretraining batch of {batch_size} examples is the global batch, split "
            f"evenly over {devices} device(s) x {num_nodes} node(s) = {world} processes, but "
            f"{batch_size} is not divisible by {world}. Use a number of devices that divides "
            f"{batch_size}, or a protocol whose batch_size is a multiple of {world}."
        )
    return batch_size // world


def pretrain(
    method: Method,
    store: ClipStore,
    indices: list[int],
    protocol: Protocol,
    seed: int,
    progress: bool = True,
    devices: int = 1,
    num_nodes: int = 1,
    accelerator: str = "auto",
    resume_dir: Path | None = None,
    compile: bool = False,
) -> PretrainResult:
    """Train ``method`` for the protocol's budget on random excerpts of ``indices``.

    With ``devices x num_nodes`` > 1 this runs DDP: call it in every process (torchrun, SLURM),
    or once, and Lightning starts the other local processes by re-running the command. Every
    process returns; ``global_rank`` says which one this is, and only rank 0 should write.

    ``resume_dir``: where the resume checkpoint is saved every few steps and, when one is there
    (an interrupted run of the same spec), where training restarts from. The caller removes it
    once the final weights are saved. Needs a sampler built on ``StepSequence``.

    ``compile``: torch.compile the encoder; on a GPU, encoders that prefer it train in
    channels-last layout (ssl_music_bench/train/acceleration.py; the result says what was applied).
    """
    quiet_lightning()
    pl.seed_everything(seed, workers=True, verbose=False)
    settings = protocol.pretrain
    world = devices * num_nodes
    batch = per_process_batch(settings.batch_size, devices, num_nodes)
    loader = method.pretrain_batches(store, indices, batch, settings.steps, seed, settings.num_workers)
    history = LossHistory(settings.log_every_steps)
    callbacks: list[Callback] = [history]
    resume_from = None
    resume: ResumeCheckpoint | None = None
    sampler = loader.batch_sampler
    if resume_dir is not None and isinstance(sampler, StepSequence):
        resume = ResumeCheckpoint(resume_dir, checkpoint_interval(settings.steps), sampler)
        callbacks.append(resume)
        resume_dir.mkdir(parents=True, exist_ok=True)
        if (resume_dir / RESUME_FILE).is_file():
            resume_from = resume_dir / RESUME_FILE
    elif resume_dir is not None:
        logging.getLogger(__name__).warning(
            "%s's pretraining loader does not use a StepSequence sampler: no resume checkpoints", type(method).__name__)
    if progress:
        callbacks.append(RichProgressBar(leave=True))
    trainer = pl.Trainer(
        max_steps=settings.steps,
        max_epochs=1,  # the loader delivers the `steps` batches (from the resumed step on) in one pass
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy="ddp" if world > 1 else "auto",
        use_distributed_sampler=False,  # our batch samplers shard the global batch themselves
        precision=settings.precision,  # type: ignore[arg-type]
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress,
        callbacks=callbacks,
        num_sanity_val_steps=0,
        deterministic=False,
    )
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    applied = accelerate(method, default_device() if on_gpu else torch.device("cpu"), compile=compile)
    module = PretrainModule(method, store.sample_rate, seed)
    synced = synchronise_batch_norm(method) if world > 1 and settings.sync_batchnorm else []
    started = time.perf_counter()
    try:
        trainer.fit(module, train_dataloaders=loader, ckpt_path=resume_from)
    finally:
        restore_batch_norm(synced)
    # The step Lightning restored, as the callback saw it: no second read of the checkpoint file.
    resumed_from_step = resume.start_step if resume is not None and resume_from is not None else None
    method.cpu()
    if applied["channels_last"]:
        method.to(memory_format=torch.contiguous_format)  # embedding and saving as usual
    return PretrainResult(history.points, time.perf_counter() - started, trainer.global_step,
                          trainer.global_rank, trainer.world_size, resumed_from_step, applied)
