"""The pretext-method contract.

A method receives a batch of audio segments already on the training device and resampled to its
encoder's rate, builds its training views, runs the encoder and its own heads, and returns the
loss. It declares which encoder inputs it can use ("wave", "mel"), so an incompatible pairing is
refused before any data is touched. Methods hold no data loading, CLI or logging code.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.task import TaskData
from ssl_music_bench.data.sampler import Example, ExcerptDataset, pretrain_loader
from ssl_music_bench.data.store import ClipStore


class Method(nn.Module):
    """Base class of every registered pretext method."""

    accepts: ClassVar[frozenset[str]] = frozenset({"wave", "mel"})
    audio_keys: ClassVar[tuple[str, ...]] = ("audio",)  # batch entries resampled on the device
    config_class: ClassVar[type]  # a dataclass whose defaults cite their source
    # Baselines bend two rules of self-supervision: "random-init" is not trained at all, and
    # "supervised" trains on the labels of the task it is evaluated on (its checkpoint is then
    # specific to that task instead of shared by all tasks). Their paper and baseline role are
    # given to @register_method, the one place a method's description is declared.
    needs_pretraining: ClassVar[bool] = True
    uses_task_labels: ClassVar[bool] = False
    # Raised by one when a change to the method's training (not to its settings, which are in the
    # config) makes its stored checkpoints stale: a revision above 1 enters the checkpoint key, so
    # the old checkpoints are no longer found and the method is pretrained again (never reused
    # silently). Say in a comment beside it what each revision changed.
    revision: ClassVar[int] = 1

    def __init__(self, encoder: Encoder, config: Any = None) -> None:
        # check_compatible refuses a pairing by name before any work; this guards direct
        # construction (tests, notebooks) against a pairing the method cannot train.
        if encoder.input_kind not in self.accepts:
            raise ValueError(
                f"{type(self).__name__} works on {' or '.join(sorted(self.accepts))} input, but "
                f"{type(encoder).__name__} takes {encoder.input_kind} input. Pair it with an encoder "
                f"that takes {' or '.join(sorted(self.accepts))} input (`bench list` shows the pairs)."
            )
        super().__init__()
        self.encoder = encoder
        self.config = config if config is not None else self.config_class()

    def segment_seconds(self) -> float:
        """Length of the excerpt the sampler must deliver for each example, in seconds."""
        return self.encoder.crop_seconds

    def pretrain_dataset(self, store: ClipStore, indices: list[int]) -> Dataset[Example]:
        """What one pretraining example is: by default {"audio": a random excerpt of a clip}.

        Methods that need more (stems, silence flags, ...) return their own dataset; it must
        only slice stored arrays, everything batchable happens in ``training_loss``.
        """
        return ExcerptDataset(store, indices, round(self.segment_seconds() * store.sample_rate))

    def pretrain_batches(
        self, store: ClipStore, indices: list[int], batch_size: int, steps: int, seed: int, num_workers: int
    ) -> DataLoader[Example]:
        """Exactly ``steps`` batches for pretraining. Override to control what goes into one
        batch (e.g. source-homogeneous batches); the default draws examples independently.

        ``batch_size`` is this process's share of the protocol's global batch (global batch /
        world size); every process draws the same global batch and keeps its own slice."""
        return pretrain_loader(self.pretrain_dataset(store, indices), batch_size, steps, seed, num_workers)

    def training_loss(self, batch: Example) -> Tensor:
        """A batch on the device, its ``audio_keys`` at the encoder's rate -> scalar loss."""
        raise NotImplementedError

    def configure_optimizer(self, total_steps: int) -> Any:
        """Optimiser (and schedule) in Lightning's ``configure_optimizers`` format.

        The default is Adam with the method's learning rate and weight decay, constant; a method
        whose paper schedules the rate over the budget uses ``total_steps`` (the protocol's).
        """
        return torch.optim.Adam(
            self.parameters(), lr=self.config.learning_rate, weight_decay=self.config.weight_decay
        )

    def attach_task(self, data: TaskData) -> None:
        """Methods with ``uses_task_labels`` receive the task before training (heads, targets)."""

    def task_outputs(self, batch: Example) -> tuple[Tensor, Tensor]:
        """Methods with ``uses_task_labels``: a batch with its ``target`` -> (its loss, its scores
        for the task's labels as probabilities, (B, labels)); what the validation checks of their
        early stopping score (train/early_stopping.py)."""
        raise NotImplementedError

    def features(self, wave: Tensor) -> Tensor:
        """Frozen features for the probe; the encoder's embedding unless the paper says otherwise."""
        return self.encoder(wave)

    def encoder_parameters_used(self) -> int:
        """Encoder parameters that pretraining trains and ``features`` reads: all of them,
        unless the method reads only part of the encoder (CPC reads ``Encoder.sequence``)."""
        return self.encoder.parameter_count()
