"""An example plugin method: contrast two time-shifted crops of the same song.

Run it with the built-in encoders and tasks, without installing anything:

    bench run --plugin examples/time_shift_contrast.py --method time-shift \
        --encoder effnet --task synth-genre --protocol cpu

The positive pair is two random crops of one excerpt (no other augmentation); the other
songs in the batch are the negatives. This is the idea of COLA (Saeed et al., ICASSP 2021)
with SimCLR's cosine-similarity NT-Xent loss (Chen et al., ICML 2020) from lightly.

The decorator is the one place the method is described (its name and paper; a baseline would
also give ``baseline="floor"`` or ``"ceiling"``); what the code relies on (``accepts``,
``config_class``) is a class attribute.
"""

from __future__ import annotations

from dataclasses import dataclass

from lightly.loss import NTXentLoss
from torch import Tensor, nn

from ssl_music_bench import Encoder, Method, register_method
from ssl_music_bench.augment import random_crop  # the batched crop the built-in methods use


@dataclass
class TimeShiftConfig:
    projection_dim: int = 128
    temperature: float = 0.2  # COLA's cosine ablation
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    excerpt_crops: float = 3.0  # crops are drawn from an excerpt this many crops long


@register_method("time-shift", paper="example plugin; after COLA (Saeed et al. 2021)")
class TimeShiftContrast(Method):
    """Two random crops of one excerpt are a positive pair; NT-Xent over the batch (example plugin)."""

    accepts = frozenset({"wave", "mel"})
    config_class = TimeShiftConfig

    def __init__(self, encoder: Encoder, config: TimeShiftConfig | None = None) -> None:
        super().__init__(encoder, config)
        self.projection = nn.Sequential(
            nn.Linear(encoder.embed_dim, 512), nn.ReLU(), nn.Linear(512, self.config.projection_dim)
        )
        self.criterion = NTXentLoss(temperature=self.config.temperature, gather_distributed=True)

    def segment_seconds(self) -> float:
        return self.config.excerpt_crops * self.encoder.crop_seconds

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        audio = batch["audio"]
        first = self.projection(self.encoder(random_crop(audio, self.encoder.crop_samples)))
        second = self.projection(self.encoder(random_crop(audio, self.encoder.crop_samples)))
        return self.criterion(first, second)
