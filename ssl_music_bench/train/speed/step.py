"""The training step ``bench speed`` times: the one pretraining runs, without Lightning around it.

The forward is pretraining's own (:func:`ssl_music_bench.train.module.step_loss`); the
optimiser and its per-step schedulers are read from the method as pretraining reads them for
Lightning (:class:`ssl_music_bench.train.optimisation.Optimisation`), and stepped as Lightning's
loop steps them: zero the gradients, backward, optimiser step, then the per-step schedulers.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.data.sampler import Example
from ssl_music_bench.train.module import step_loss
from ssl_music_bench.train.optimisation import Optimisation


def autocast(device: torch.device) -> AbstractContextManager[Any]:
    """bf16 autocast on a GPU (as ``precision = "bf16-mixed"`` trains); fp32 on the CPU (the cpu protocol's)."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


class TrainingStep:
    """One training step of ``method`` on a batch already on ``device``; returns the loss."""

    def __init__(self, method: Method, store_rate: int, device: torch.device, total_steps: int) -> None:
        self.method, self.store_rate, self.device = method, store_rate, device
        optimisation = Optimisation.read(method.configure_optimizer(total_steps), type(method).__name__)
        self.optimizer = optimisation.optimizer
        # Epoch schedulers (Lightning's default interval) never step within the few timed steps.
        self.schedulers = optimisation.step_schedulers()

    def __call__(self, batch: Example) -> Tensor:
        with autocast(self.device):  # step_loss leaves ``batch`` (maybe the cached one) as it was
            loss = step_loss(self.method, batch, self.store_rate)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        for scheduler in self.schedulers:
            scheduler.step()
        return loss.detach()
