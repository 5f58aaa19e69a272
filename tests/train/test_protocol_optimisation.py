"""A protocol's own optimiser and schedule (train/optimisation.py protocol_optimisation): the
method's when the protocol names none, CLMR 2.0's LARS with warm-up and cosine, MSCOL's halving."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from timm.optim import Lars

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.run_spec import build_method
from ssl_music_bench.train.optimisation import protocol_optimisation, schedule_factor


def rates(optimisation, steps: int) -> list[float]:
    (scheduler,) = [s["scheduler"] for s in optimisation.schedulers]
    seen = []
    for _ in range(steps):
        seen.append(optimisation.optimizer.param_groups[0]["lr"])
        optimisation.optimizer.step()
        scheduler.step()
    return seen


def test_comparison_protocols_keep_the_methods_optimiser() -> None:
    method = build_method("msa", "effnet")
    optimisation = protocol_optimisation(method, load_protocol("v1").pretrain, 100)
    assert type(optimisation.optimizer) is torch.optim.Adam and optimisation.optimizer.param_groups[0]["lr"] == 1e-3
    assert len(optimisation.schedulers) == 1  # msa's own halving stays


def test_clmr_repro_trains_with_lars_warm_up_and_clmrs_cosine() -> None:
    settings = replace(load_protocol("clmr-repro").pretrain, steps=100, warmup_steps=10, cosine_steps=100)
    method = build_method("clmr", "samplecnn", {"projection_dim": "128"})
    optimisation = protocol_optimisation(method, settings, settings.steps)
    assert isinstance(optimisation.optimizer, Lars)
    group = optimisation.optimizer.param_groups[0]
    assert (group["weight_decay"], group["momentum"], group["trust_coeff"], group["always_adapt"]) == (
        1e-6, 0.9, 0.001, True)
    peak = 0.075 * math.sqrt(96)
    seen = rates(optimisation, 100)
    assert math.isclose(seen[0], peak / 10) and math.isclose(seen[9], peak)  # linear warm-up, per step
    # CLMR 2.0: CosineAnnealingLR(T_max = all epochs) started after the warm-up: it ends above 0
    assert math.isclose(seen[99], peak * 0.5 * (1 + math.cos(math.pi * 89 / 100)))
    assert all(a >= b for a, b in zip(seen[9:], seen[10:]))


def test_lars_step_matches_clmr_2_0s_update_to_first_order() -> None:
    """CLMR 2.0 modules/lars.py: g' = g + wd w; trust = 0.001 |w| / |g'|; v = m v + lr trust g'; w -= v."""
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(64, 32))
    gradient = torch.randn(64, 32) * 0.1
    lr, wd = 0.73, 1e-6
    decayed = gradient + wd * weight.detach()
    weight0 = weight.detach().clone()
    expected = weight.detach() - lr * 0.001 * weight.detach().norm() / decayed.norm() * decayed
    optimizer = Lars([weight], lr=lr, momentum=0.9, weight_decay=wd, trust_coeff=0.001, always_adapt=True)
    weight.grad = gradient.clone()
    optimizer.step()
    # the updates agree to float32 rounding of w - update (|w| ~ 1, |update| ~ 3e-3)
    assert torch.allclose(weight.detach(), expected, rtol=0, atol=1e-6)
    assert not torch.allclose(weight.detach(), expected - 0.1 * (expected - weight0), rtol=0, atol=1e-6)


def test_mscol_halves_at_half_as_msas_own_schedule_does() -> None:
    settings = replace(load_protocol("mscol-repro").pretrain, steps=10)
    method = build_method("cola", "effnet")
    seen = rates(protocol_optimisation(method, settings, 10), 10)
    assert seen == [1e-3] * 5 + [5e-4] * 5
    own = build_method("msa", "effnet").configure_optimizer(10)
    reference = []
    for _ in range(10):
        reference.append(own["optimizer"].param_groups[0]["lr"])
        own["optimizer"].step()
        own["lr_scheduler"]["scheduler"].step()
    assert reference == seen


def test_schedule_factor_without_warm_up_decays_to_zero() -> None:
    factor = schedule_factor("cosine", 0, 0, 50)
    assert factor(0) == 1.0 and abs(factor(50)) < 1e-12 and math.isclose(factor(25), 0.5)
    assert schedule_factor("constant", 4, 0, 50)(1) == 0.5 and schedule_factor("constant", 4, 0, 50)(30) == 1.0
