"""A method's optimiser and schedule, read once from any of Lightning's formats.

``Method.configure_optimizer`` answers in the formats Lightning's ``configure_optimizers``
accepts (an optimiser; a dict with "optimizer" and "lr_scheduler"; lists of those; two lists).
Pretraining hands Lightning what :class:`Optimisation` read, and ``bench speed``, which runs the
step without a Trainer, steps the same optimiser and per-step schedulers itself, so the two
agree on what a method's answer means. Lightning's own parser is private API
(``pytorch_lightning.core.optimizer._configure_optimizers``), hence this reading.

Lightning's automatic optimisation trains exactly one optimiser (it refuses several), so one
optimiser is what a method may return; it may come with any number of schedulers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ssl_music_bench.errors import BenchError


@dataclass(frozen=True)
class Optimisation:
    """One optimiser, its schedulers as Lightning takes them (each an LR scheduler, or a dict
    ``{"scheduler": ..., "interval": "step" | "epoch", ...}``), and the metric a plateau
    scheduler monitors."""

    optimizer: torch.optim.Optimizer
    schedulers: tuple[Any, ...] = ()
    monitor: str | None = None

    @classmethod
    def read(cls, configured: Any, method_name: str = "the method") -> Optimisation:
        """``configured`` (what ``configure_optimizer`` returned) in any of Lightning's formats."""
        if isinstance(configured, torch.optim.Optimizer):
            return cls(configured)
        if isinstance(configured, dict) and "optimizer" in configured:
            schedulers = (configured["lr_scheduler"],) if "lr_scheduler" in configured else ()
            return cls._one(configured["optimizer"], schedulers, configured.get("monitor"), method_name)
        if isinstance(configured, list | tuple):
            if len(configured) == 2 and isinstance(configured[0], list):  # ([optimizers], [schedulers])
                schedulers = configured[1] if isinstance(configured[1], list) else [configured[1]]
                return cls._one(_single(configured[0], method_name), tuple(schedulers), None, method_name)
            return cls.read(_single(configured, method_name), method_name)  # [optimizer] or [dict]
        raise BenchError(
            f"{method_name}'s configure_optimizer returned {type(configured).__name__}, which holds no "
            "optimiser. Return a torch optimiser, or {\"optimizer\": ..., \"lr_scheduler\": ...}."
        )

    @classmethod
    def _one(cls, optimizer: Any, schedulers: tuple[Any, ...], monitor: str | None, method_name: str) -> Optimisation:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise BenchError(f"{method_name}'s configure_optimizer gave {type(optimizer).__name__} as its "
                             "optimiser, which is not a torch optimiser.")
        return cls(optimizer, schedulers, monitor)

    def for_lightning(self) -> Any:
        """The same optimiser and schedulers in the Lightning format that holds them all."""
        if len(self.schedulers) > 1:
            return [self.optimizer], list(self.schedulers)
        lightning: dict[str, Any] = {"optimizer": self.optimizer}
        if self.schedulers:
            lightning["lr_scheduler"] = self.schedulers[0]
        if self.monitor is not None:
            lightning["monitor"] = self.monitor
        return lightning

    def step_schedulers(self) -> list[Any]:
        """The schedulers that step after every optimiser step: those with ``"interval": "step"``
        (Lightning's default interval is the epoch, and pretraining is one epoch)."""
        return [s["scheduler"] for s in self.schedulers if isinstance(s, dict) and s.get("interval", "epoch") == "step"]


def _single(items: list[Any] | tuple[Any, ...], method_name: str) -> Any:
    """The one item of a list of optimisers (or of optimiser dicts), or a BenchError."""
    if len(items) != 1:
        raise BenchError(
            f"{method_name}'s configure_optimizer returned {len(items)} optimisers; pretraining uses "
            "Lightning's automatic optimisation, which steps exactly one. Return one optimiser (over "
            "all parameters, with parameter groups for different rates)."
        )
    return items[0]


def protocol_optimisation(method: Any, settings: Any, total_steps: int) -> Optimisation:
    """The optimisation pretraining uses: the method's own (``configure_optimizer``) unless the
    protocol's [pretrain] names an optimiser or a schedule (contracts/protocol.py), which then
    replace the method's for every method run under that protocol (a paper's recipe).

    - ``optimizer = "adam"``: Adam with the protocol's rate and weight decay;
    - ``optimizer = "lars"``: LARS (You, Gitman & Ginsburg 2017) as CLMR 2.0 ran it
      (Spijkervet/CLMR tag 2.0 modules/lars.py, model.py): momentum 0.9, trust coefficient 0.001,
      weight decay and layer adaptation on EVERY parameter (its exclusion of biases and batch norm
      is commented out there). timm's ``Lars`` with ``always_adapt``; one difference: timm divides
      by ``|g| + wd |w|``, CLMR by ``|g + wd w|`` (equal to first order at wd 1e-6);
    - ``schedule``: per step, a linear warm-up over ``warmup_steps`` (step s at (s + 1) / W of
      the peak; CLMR 2.0 ramps per epoch, (e + 1) / 30), then constant, a cosine over
      ``cosine_steps`` (0: the rest of the budget, ending at 0; CLMR 2.0's CosineAnnealingLR has
      T_max = all epochs and starts after the warm-up, so it ends above 0), or halved at half
      the budget (MSCOL_SMC23 pretraining.py: outer step 5,000 of 10,000).
    """
    name = type(method).__name__
    if settings.optimizer == "method" and settings.schedule == "method":
        return Optimisation.read(method.configure_optimizer(total_steps), name)
    if settings.optimizer == "method":  # the method's optimiser, the protocol's schedule in place of its own
        optimizer = Optimisation.read(method.configure_optimizer(total_steps), name).optimizer
    elif settings.optimizer == "adam":
        optimizer = torch.optim.Adam(method.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    elif settings.optimizer == "lars":
        from timm.optim import Lars

        optimizer = Lars(method.parameters(), lr=settings.learning_rate, momentum=settings.momentum,
                         weight_decay=settings.weight_decay, trust_coeff=0.001, always_adapt=True)
    else:  # the protocol's checks refuse other names first
        raise BenchError(f'Unknown pretrain.optimizer "{settings.optimizer}": use "method", "adam" or "lars".')
    if settings.schedule in ("method", "constant") and not settings.warmup_steps:
        return Optimisation(optimizer)
    factor = schedule_factor(settings.schedule, settings.warmup_steps, settings.cosine_steps, total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return Optimisation(optimizer, ({"scheduler": scheduler, "interval": "step"},))


def schedule_factor(schedule: str, warmup_steps: int, cosine_steps: int, total_steps: int) -> Any:
    """step -> the fraction of the peak rate that step trains with (see :func:`protocol_optimisation`)."""
    period = cosine_steps or max(1, total_steps - warmup_steps)
    half = max(1, total_steps // 2)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(step - warmup_steps, period) / period))
        if schedule == "halve-at-half":
            return 0.5 if step >= half else 1.0
        return 1.0

    return factor
