"""Pretraining with Lightning: the loop, devices, precision; the method supplies the loss.

:func:`pretrain` trains a method for the protocol's budget and returns what the run record
keeps (:class:`PretrainResult`). The pieces it assembles each have their own module: the step
(train/module.py), the loss curve and resume checkpoints (train/callbacks.py), the pieces that
make several processes compute what one computes (train/distributed.py), and GPU speed-ups that
keep the computation (train/acceleration.py).

Several devices or nodes train with DDP. The protocol's ``batch_size`` is the GLOBAL batch: each
of the N processes gets its slice of the same seeded global batch (ssl_music_bench/data/sampler.py),
the contrastive losses gather their negatives from every process (with gradients that sum over
processes, so that DDP's averaging gives the gradient of the whole batch's loss), and batch norm
computes its statistics over the global batch (``pretrain.sync_batchnorm``), so that N processes
do the computation of one process with the whole batch. Lightning detects torchrun and SLURM;
without them it starts the other local processes itself by re-running the command.

Interrupted runs resume from ``resume_dir/last.ckpt`` (train/callbacks.py): the random draws on
the device are seeded per step from (seed, step), the same in every process, and the samplers
deliver their fixed seeded sequence of batches from any step on (``StepSequence``), so a run
restarted from that file ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import logging
import signal
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, RichProgressBar
from pytorch_lightning.utilities.exceptions import SIGTERMException

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.data.sampler import StepSequence
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.devices import default_device
from ssl_music_bench.errors import Terminated
from ssl_music_bench.run_spec import RunOptions
from ssl_music_bench.train.acceleration import accelerate
from ssl_music_bench.train.callbacks import (
    RESUME_FILE,
    FiniteLoss,
    InterruptSeen,
    LossHistory,
    ResumeCheckpoint,
    TrainingClock,
    checkpoint_interval,
)
from ssl_music_bench.train.distributed import per_process_batch, restore_batch_norm, synchronise_batch_norm
from ssl_music_bench.train.module import PretrainModule


@dataclass
class PretrainResult:
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0  # training time, that of the interrupted runs it resumed included
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


def pretrain(
    method: Method,
    store: ClipStore,
    indices: list[int],
    protocol: Protocol,
    seed: int,
    options: RunOptions | None = None,
    resume_dir: Path | None = None,
    extra_callbacks: tuple[Callback, ...] = (),
) -> PretrainResult:  # seven parameters: the data is two (a store and the clips of it to train on)
    """Train ``method`` for the protocol's budget on random excerpts of ``indices``.

    With ``options.devices x options.nodes`` > 1 this runs DDP: call it in every process
    (torchrun, SLURM), or once, and Lightning starts the other local processes by re-running the
    command. Every process returns; ``global_rank`` says which one this is, and only rank 0
    should write.

    ``resume_dir``: where the resume checkpoint is saved every few steps and, when one is there
    (an interrupted run of the same spec), where training restarts from. The caller removes it
    once the final weights are saved. Needs a sampler built on ``StepSequence``.

    Raises :class:`~ssl_music_bench.train.callbacks.NonFiniteLoss` at the first step whose loss
    is not finite; the resume checkpoints of the steps before it stay in ``resume_dir``.

    ``extra_callbacks``: the caller's Lightning callbacks, after the built-in ones (the
    supervised ceiling's early stopping on its validation split, train/early_stopping.py).

    ``options.compile``: torch.compile the encoder; on a GPU, encoders that prefer it train in
    channels-last layout (ssl_music_bench/train/acceleration.py; the result says what was applied).
    """
    options = options or RunOptions()
    quiet_lightning()
    pl.seed_everything(seed, workers=True, verbose=False)
    settings = protocol.pretrain
    world = options.devices * options.nodes
    batch = per_process_batch(settings.batch_size, options.devices, options.nodes)
    loader = method.pretrain_batches(store, indices, batch, settings.steps, seed, settings.num_workers)
    history = LossHistory(settings.log_every_steps)
    resume = _resume_checkpoint(method, loader.batch_sampler, resume_dir, settings.steps)
    resume_from = resume_dir / RESUME_FILE if resume is not None and (resume_dir / RESUME_FILE).is_file() else None
    # the guard first: a diverged step is neither logged nor saved as a resume checkpoint
    interrupt, clock = InterruptSeen(), TrainingClock()
    callbacks: list[Callback] = [FiniteLoss(), history, interrupt, clock, *([resume] if resume is not None else []),
                                 *extra_callbacks]
    if options.progress:  # progress is a message: on stderr, like every message (stdout is for data)
        callbacks.append(RichProgressBar(leave=True, console_kwargs={"stderr": True}))
    trainer = _trainer(protocol, options, callbacks)
    on_gpu = options.accelerator in ("gpu", "cuda") or (options.accelerator == "auto" and torch.cuda.is_available())
    applied = accelerate(method, default_device() if on_gpu else torch.device("cpu"), compile=options.compile)
    module = PretrainModule(method, store.sample_rate, seed, settings)
    synced = synchronise_batch_norm(method) if world > 1 and settings.sync_batchnorm else []
    sigint = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(module, train_dataloaders=loader, ckpt_path=resume_from)
    except SIGTERMException:  # Lightning's answer to a SIGTERM inside fit(): a SystemExit of status 0
        raise Terminated from None  # the resume checkpoint stays for next time
    except SystemExit:
        if not interrupt.seen:
            raise
        # Lightning's sys.exit(1) after a Ctrl-C (InterruptSeen): SIGINT back as it was, and the
        # interruption it was, so `bench run` exits 130 and the resume checkpoint stays for next time
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint)
        raise KeyboardInterrupt from None
    finally:
        restore_batch_norm(synced)
    # The step Lightning restored, as the callback saw it: no second read of the checkpoint file.
    resumed_from_step = resume.start_step if resume is not None and resume_from is not None else None
    method.cpu()
    if applied["channels_last"]:
        method.to(memory_format=torch.contiguous_format)  # embedding and saving as usual
    return PretrainResult(history.points, clock.seconds(), trainer.global_step,
                          trainer.global_rank, trainer.world_size, resumed_from_step, applied)


def _resume_checkpoint(method: Method, sampler: object, resume_dir: Path | None, steps: int) -> ResumeCheckpoint | None:
    """The callback that saves (and restarts from) ``resume_dir/last.ckpt``, when there is a
    ``resume_dir`` and the method's sampler can start part-way (``StepSequence``)."""
    if resume_dir is None:
        return None
    if not isinstance(sampler, StepSequence):
        logging.getLogger(__name__).warning(
            "%s's pretraining loader does not use a StepSequence sampler: no resume checkpoints", type(method).__name__)
        return None
    resume_dir.mkdir(parents=True, exist_ok=True)
    return ResumeCheckpoint(resume_dir, checkpoint_interval(steps), sampler)


def _trainer(protocol: Protocol, options: RunOptions, callbacks: list[Callback]) -> pl.Trainer:
    """Lightning's Trainer for the protocol's budget and precision on the options' devices."""
    world = options.devices * options.nodes
    return pl.Trainer(
        max_steps=protocol.pretrain.steps,
        max_epochs=1,  # the loader delivers the `steps` batches (from the resumed step on) in one pass
        accelerator=options.accelerator,
        devices=options.devices,
        num_nodes=options.nodes,
        strategy="ddp" if world > 1 else "auto",
        use_distributed_sampler=False,  # our batch samplers shard the global batch themselves
        precision=protocol.pretrain.precision,  # type: ignore[arg-type]
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=options.progress,
        callbacks=callbacks,
        num_sanity_val_steps=0,
        deterministic=False,
    )
