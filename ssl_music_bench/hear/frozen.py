"""The ``frozen`` method: an encoder trained elsewhere, evaluated as given (HEAR modules).

A HEAR 2021 module (``--encoder hear:MODULE``) arrives trained by its authors, with its own
weights; the benchmark can only probe it. Calling that row ``random-init`` would be wrong (it
is not a floor: it is someone's trained model), and a pretext method would need to train a
network it does not own. So such an encoder pairs with this one method, which trains nothing
and whose probe features are the module's scene embeddings; its rows read ``frozen + hear-<module>``
and compete like any self-supervised row (they are representations, not baselines).

Registered when the first ``hear:`` encoder is resolved, so that `bench list` and the grids of
the built-in encoders stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.settings import setting

NAME = "frozen"
PAPER = "HEAR 2021 common API (Turian et al., PMLR 176, 2022): a published encoder probed as given"


@dataclass
class FrozenConfig:
    learning_rate: float = setting(0.0, ">= 0")  # never trained
    weight_decay: float = setting(0.0, ">= 0")


class Frozen(Method):
    """An encoder trained elsewhere (a HEAR module), never trained here, probed like every row."""

    accepts = frozenset({"wave"})
    frozen_only = True  # pairs only with encoders that are frozen_only (contracts/compatibility.py)
    config_class = FrozenConfig
    needs_pretraining = False

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        raise RuntimeError("the frozen method is never trained")


def ensure_registered() -> None:
    from ssl_music_bench.contracts.registry import METHODS, register_method

    if NAME not in METHODS:
        register_method(NAME, paper=PAPER)(Frozen)
