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
