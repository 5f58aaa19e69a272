"""What ``bench speed`` measures with: the command's settings, and the same resolved on this machine.

:class:`SpeedSettings` holds the options as given (None: the default); :func:`plan_speed`
checks them and resolves the protocol, the device (``--device auto`` is
:func:`ssl_music_bench.devices.default_device`), the batch and the loader workers into a
:class:`SpeedPlan`, which the measurements read and the JSON's "settings" block describes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ssl_music_bench.contracts.protocol import Protocol, load_protocol
from ssl_music_bench.devices import default_device
from ssl_music_bench.errors import BenchError

DEFAULT_STEPS = 2  # timed steps per path and pair, after one warm-up step
CPU_DEFAULT_BATCH = 8
SPEED_DATA = "synth-tags"  # the train split of the synthetic songs


@dataclass(frozen=True)
class SpeedSettings:
    """``bench speed``'s options.

    ``batch_size`` None: the protocol's pretraining batch (at most 8 on a CPU, see
    :func:`default_batch_size`). ``steps``: timed steps per path after ``warmup`` untimed ones.
    ``device``: "auto", "cpu" or "cuda". ``synth_size``: the synthetic corpus (default: the
    protocol's), generated if missing. ``num_workers`` None: the protocol's loader workers.
    ``compile``: compile each encoder (``torch.compile``; the warm-up pays it, so give it a few
    steps). ``channels_last``: None for each encoder's preference on a GPU, or force it on/off
    (ssl_music_bench/train/acceleration.py).
    """

    batch_size: int | None = None
    steps: int = DEFAULT_STEPS
    warmup: int = 1
    device: str = "auto"
    protocol: str | Protocol = "cpu"
    synth_size: str | None = None
    num_workers: int | None = None
    augment_repeats: int = 3
    embed_clip_count: int = 8
    seed: int = 0
    compile: bool = False
    channels_last: bool | None = None


@dataclass(frozen=True)
class SpeedPlan:
    """The settings resolved on this machine: protocol, device, batch and loader workers."""

    settings: SpeedSettings
    protocol: Protocol
    device: torch.device
    batch_size: int
    num_workers: int

    @property
    def kind(self) -> str:
        """"cuda" or "cpu": which targets and precision apply."""
        return "cuda" if self.device.type == "cuda" else "cpu"

    def describe(self) -> dict[str, Any]:
        """The "settings" block of speed.json."""
        s = self.settings
        return {"protocol": self.protocol.name, "synth_size": self.protocol.synth_size, "batch_size": self.batch_size,
                "steps": s.steps, "warmup": s.warmup, "num_workers": self.num_workers, "seed": s.seed,
                "precision": "bf16 autocast" if self.kind == "cuda" else "fp32",
                "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                "compile": s.compile, "channels_last": "encoder default" if s.channels_last is None else s.channels_last}


def plan_speed(settings: SpeedSettings) -> SpeedPlan:
    """Check ``settings`` and resolve them on this machine, or a BenchError that says what to change."""
    if settings.steps < 1 or settings.warmup < 1:
        raise BenchError(f"--steps ({settings.steps}) and the warm-up ({settings.warmup}) must each be at least 1.")
    protocol = load_protocol(settings.protocol) if isinstance(settings.protocol, str) else settings.protocol
    if settings.synth_size is not None:
        protocol = dataclasses.replace(protocol, synth_size=settings.synth_size)
    device = resolve_device(settings.device)
    batch = settings.batch_size or default_batch_size(protocol, device)
    if batch < 2:
        raise BenchError(f"--batch-size {batch}: contrastive methods need a batch of at least 2.")
    workers = protocol.pretrain.num_workers if settings.num_workers is None else settings.num_workers
    return SpeedPlan(settings, protocol, device, batch, workers)


def default_batch_size(protocol: Protocol, device: torch.device) -> int:
    """The protocol's pretraining batch; on a CPU at most ``CPU_DEFAULT_BATCH``, so that every
    pair of a default run finishes in minutes on two cores."""
    batch = protocol.pretrain.batch_size
    return batch if device.type == "cuda" else min(batch, CPU_DEFAULT_BATCH)


def resolve_device(device: str) -> torch.device:
    """"auto" -> the default device (cuda when available, else cpu); "cuda" without a GPU is refused plainly."""
    if device == "auto":
        return default_device()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError("--device cuda was asked for, but torch sees no CUDA device. Use --device cpu or auto.")
    if device != "cpu" and not device.startswith("cuda"):
        raise BenchError(f'Unknown device "{device}": use auto, cpu or cuda.')
    return torch.device(device)
