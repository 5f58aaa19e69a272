"""CLMR's augmentation chain batched on the device against one call per clip, on the same batch."""

from __future__ import annotations

from typing import Any

import torch

from ssl_music_bench.augment import CLMRAugment, augment_one_at_a_time
from ssl_music_bench.data.audio import resample
from ssl_music_bench.data.sampler import ExcerptDataset
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.train.speed.timing import batched_vs_looped

CLMR_RATE, CLMR_CROP = 22_050, 59_049  # CLMR's SampleCNN input: 2.68 s at 22,050 Hz


def measure_augment(store: ClipStore, indices: list[int], batch_size: int, repeats: int, device: torch.device,
                    seed: int) -> dict[str, Any]:
    """CLMR's chain (CLMR probabilities) on one batch of 2.68 s crops at 22,050 Hz: one batched
    call vs one call per clip, interleaved repeat by repeat, fastest of the repeats (as timeit)."""
    torch.manual_seed(seed)
    samples = -(-CLMR_CROP * store.sample_rate // CLMR_RATE)
    dataset = ExcerptDataset(store, indices, samples)
    rows = [dataset[k % len(dataset)]["audio"] for k in range(batch_size)]
    wave = resample(torch.stack(rows).to(device), store.sample_rate, CLMR_RATE)[:, :CLMR_CROP].contiguous()
    chain = CLMRAugment()
    batched, looped = batched_vs_looped(
        lambda: chain(wave, CLMR_RATE), lambda: augment_one_at_a_time(chain, wave, CLMR_RATE), batch_size, repeats, device
    )
    return {"batch_size": batch_size, "samples": CLMR_CROP, "sample_rate": CLMR_RATE, "repeats": repeats,
            "batched_clips_per_s": batched, "one_at_a_time_clips_per_s": looped, "ratio": batched / looped}
