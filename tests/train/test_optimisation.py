"""A method's optimiser answer, read once (train/optimisation.py) for Lightning and `bench speed`."""

from __future__ import annotations

import pytest
import torch

from ssl_music_bench.errors import BenchError
from ssl_music_bench.train.optimisation import Optimisation


def optimiser() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)


def test_every_lightning_format_with_one_optimiser_is_read() -> None:
    opt = optimiser()
    step = torch.optim.lr_scheduler.StepLR(opt, 1)
    epoch = torch.optim.lr_scheduler.StepLR(opt, 1)
    assert Optimisation.read(opt) == Optimisation(opt)
    assert Optimisation.read([opt]) == Optimisation(opt)
    read = Optimisation.read({"optimizer": opt, "lr_scheduler": {"scheduler": step, "interval": "step"}})
    assert read.optimizer is opt and read.step_schedulers() == [step]
    assert Optimisation.read([{"optimizer": opt, "lr_scheduler": epoch}]).step_schedulers() == []  # epoch: default
    two = Optimisation.read(([opt], [epoch, {"scheduler": step, "interval": "step"}]))
    assert two.step_schedulers() == [step]


def test_lightning_gets_what_was_read() -> None:
    opt = optimiser()
    scheduler = {"scheduler": torch.optim.lr_scheduler.StepLR(opt, 1), "interval": "step"}
    assert Optimisation.read(opt).for_lightning() == {"optimizer": opt}
    configured = {"optimizer": opt, "lr_scheduler": scheduler, "monitor": "loss"}
    assert Optimisation.read(configured).for_lightning() == configured
    assert Optimisation.read(([opt], [scheduler, scheduler])).for_lightning() == ([opt], [scheduler, scheduler])


def test_anything_but_one_optimiser_is_refused() -> None:
    with pytest.raises(BenchError, match="2 optimisers"):
        Optimisation.read([optimiser(), optimiser()])
    with pytest.raises(BenchError, match="holds no optimiser"):
        Optimisation.read(None)
    with pytest.raises(BenchError, match="not a torch optimiser"):
        Optimisation.read({"optimizer": "adam"})
