"""Random-init baseline: the encoder as initialised, never trained.

The floor of the leaderboard: a frozen, randomly initialised encoder under the same probe.
Random convolutional features are a surprisingly strong baseline for audio (e.g. COLA reports
20.8 % on NSynth from random init, against 63.4 % frozen COLA features; Saeed et al. 2021), so
every self-supervised row should be read against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.registry import register_method
from ssl_music_bench.contracts.settings import setting


@dataclass
class RandomInitConfig:
    learning_rate: float = setting(0.0, ">= 0")  # never trained
    weight_decay: float = setting(0.0, ">= 0")


@register_method("random-init", baseline="floor")
class RandomInit(Method):
    """Baseline: the untrained encoder (seeded initialisation), probed like every other row."""

    accepts = frozenset({"wave", "mel"})
    config_class = RandomInitConfig
    needs_pretraining = False

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        raise RuntimeError("random-init is never trained")
