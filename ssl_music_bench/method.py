"""The pretext-method contract.

A method receives a batch of audio segments already on the training device and resampled to its
encoder's rate, builds its training views, runs the encoder and its own heads, and returns the
loss. It declares which encoder inputs it can use ("wave", "mel"), so an incompatible pairing is
refused before any data is touched. Methods hold no data loading, CLI or logging code.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from ssl_music_bench.encoder import Encoder
from ssl_music_bench.errors import BenchError
from ssl_music_bench.registry import ENCODERS, METHODS
from ssl_music_bench.sampler import Example, ExcerptDataset, pretrain_loader
from ssl_music_bench.store import ClipStore
from ssl_music_bench.task import TaskData


class Method(nn.Module):
    """Base class of every registered pretext method."""

    accepts: ClassVar[frozenset[str]] = frozenset({"wave", "mel"})
    audio_keys: ClassVar[tuple[str, ...]] = ("audio",)  # batch entries resampled on the device
    config_class: ClassVar[type]  # a dataclass whose defaults cite their source
    paper: ClassVar[str] = ""
    # Baselines bend two rules of self-supervision: "random-init" is not trained at all, and
    # "supervised" trains on the labels of the task it is evaluated on (its checkpoint is then
    # specific to that task instead of shared by all tasks).
    needs_pretraining: ClassVar[bool] = True
    uses_task_labels: ClassVar[bool] = False

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

    def features(self, wave: Tensor) -> Tensor:
        """Frozen features for the probe; the encoder's embedding unless the paper says otherwise."""
        return self.encoder(wave)

    def encoder_parameters_used(self) -> int:
        """Encoder parameters that pretraining trains and ``features`` reads: all of them,
        unless the method reads only part of the encoder (CPC reads ``Encoder.sequence``)."""
        return self.encoder.parameter_count()


def config_from_overrides(method_name: str, overrides: dict[str, str]) -> Any:
    """A method's config with ``--set key=value`` overrides applied, values parsed by field type.

    Numbers and booleans are parsed from text; tuple and list fields take comma-separated values
    (``--set sources=drums,bass``). Unknown keys and unparsable values are refused with a hint.
    """
    config_class = METHODS.get(method_name).obj.config_class
    default = config_class()
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise BenchError(
            f'The method "{method_name}" has no setting {", ".join(unknown)}. Its settings are: '
            f"{', '.join(fields)}. Use --set NAME=VALUE with one of those names."
        )
    values = {}
    for name, text in overrides.items():
        current = getattr(default, name)
        try:
            values[name] = _parse_like(current, text)
        except ValueError as error:
            raise BenchError(
                f'--set {name}={text}: the setting {name} of "{method_name}" holds a '
                f"{type(current).__name__} (default {current!r}) and {text!r} is not one ({error})."
            ) from error
    return dataclasses.replace(default, **values)


def _parse_like(current: Any, text: str) -> Any:
    if isinstance(current, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("expected true or false")
        return text.lower() in ("true", "1", "yes")
    if isinstance(current, int | float | str):
        return type(current)(text)
    if isinstance(current, tuple | list):
        items = [item.strip() for item in text.split(",") if item.strip()]
        kind = type(current[0]) if current else str
        return type(current)(kind(item) for item in items)
    raise ValueError(f"settings of type {type(current).__name__} cannot be set from the command line")


def method_label(method_name: str, overrides: dict[str, str]) -> str:
    """Row name of a run: the method, with any non-default settings, e.g. ``msa[sources=drums]``."""
    if not overrides:
        return method_name
    return f"{method_name}[{','.join(f'{k}={v}' for k, v in sorted(overrides.items()))}]"


def compatible_encoders(method_name: str) -> list[str]:
    """Names of the registered encoders whose input kind the method accepts."""
    accepts = METHODS.get(method_name).obj.accepts
    return [e.name for e in ENCODERS.entries() if e.obj.input_kind in accepts]


def check_compatible(method_name: str, encoder_name: str) -> None:
    """Refuse an incompatible pairing at the start, naming the encoders that would work."""
    method_cls = METHODS.get(method_name).obj
    encoder_cls = ENCODERS.get(encoder_name).obj
    if encoder_cls.input_kind not in method_cls.accepts:
        raise BenchError(
            f'The method "{method_name}" works on {" or ".join(sorted(method_cls.accepts))} input, '
            f'but the encoder "{encoder_name}" takes {encoder_cls.input_kind} input. Compatible '
            f"encoders for {method_name}: {', '.join(compatible_encoders(method_name)) or '(none)'}."
        )
