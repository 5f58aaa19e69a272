"""Draws under DDP: a process's rows get exactly the draws they get in one process with the
whole global batch (ssl_music_bench/train/distributed.py), for every random step a method takes on the device."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ssl_music_bench.augment import CLMRAugment, random_crop
from ssl_music_bench.augment.mws import MWSConfig, mask_warp_shift
from ssl_music_bench.methods.cola_randmask import random_soft_mask
from ssl_music_bench.run_spec import build_method
from ssl_music_bench.train.distributed import draw, sharded_draws

WORLD, LOCAL = 2, 3  # a global batch of 6 on two processes


def as_processes(fn: Callable[[Tensor], Tensor], batch: Tensor, seed: int = 3) -> tuple[Tensor, Tensor]:
    """``fn`` on the whole batch in one process, and on each process's slice with the same seed."""
    torch.manual_seed(seed)
    whole = fn(batch)
    parts = []
    for rank in range(WORLD):
        torch.manual_seed(seed)  # every process seeds its device generator alike (train/module.py)
        with sharded_draws(rank, WORLD):
            parts.append(fn(batch[rank * LOCAL : (rank + 1) * LOCAL]))
    return whole, torch.cat(parts)


def test_draw_returns_this_process_rows_of_the_global_draw() -> None:
    torch.manual_seed(0)
    expected = torch.rand(WORLD * LOCAL, 4)
    for rank in range(WORLD):
        torch.manual_seed(0)
        with sharded_draws(rank, WORLD):
            got = draw(LOCAL, lambda n: torch.rand(n, 4))
        assert torch.equal(got, expected[rank * LOCAL : (rank + 1) * LOCAL])
    assert draw(LOCAL, lambda n: torch.zeros(n)).shape == (LOCAL,)  # outside: just this batch


def test_clmr_chain_and_crops_draw_per_global_example() -> None:
    torch.manual_seed(1)
    wave = torch.randn(WORLD * LOCAL, 8000) * 0.3
    always = CLMRAugment()
    for name in ("polarity_p", "noise_p", "gain_p", "filter_p", "delay_p", "pitch_p", "reverb_p"):
        setattr(always.config, name, 0.5)  # every transform in play, chosen for some rows only

    def view(batch: Tensor) -> Tensor:
        return always(random_crop(batch, 6000), 16000)

    whole, parts = as_processes(view, wave)
    torch.testing.assert_close(parts, whole, rtol=1e-4, atol=1e-5)


def test_cola_views_and_random_masks_draw_per_global_example() -> None:
    torch.manual_seed(2)
    audio = torch.randn(WORLD * LOCAL, 40_000) * 0.3
    cola = build_method("cola", "effnet")  # crops of 1 s from each excerpt, noise on the positive
    whole, parts = as_processes(lambda batch: torch.cat(cola.views(batch), dim=1), audio)
    torch.testing.assert_close(parts, whole)
    whole, parts = as_processes(lambda batch: random_soft_mask(batch, (8, 4), n_fft=256, hop_length=64), audio)
    torch.testing.assert_close(parts, whole, rtol=1e-4, atol=1e-5)


def test_mws_draws_per_global_example() -> None:
    torch.manual_seed(4)
    spectrogram = torch.randn(WORLD * LOCAL, 1, 64, 98)
    config = MWSConfig()
    whole, parts = as_processes(lambda batch: mask_warp_shift(batch, config), spectrogram)
    torch.testing.assert_close(parts, whole)
