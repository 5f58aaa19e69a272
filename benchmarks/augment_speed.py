"""Clips per second of CLMR's augmentation chain: one batched call vs one call per clip.

CLMR's reference pipeline augments each clip separately in data-loader workers (SoX through
WavAugment, docs/FACTS-ADDENDA.md: 19 ms per clip for two views on one core). ssl-music-bench runs
the chain on the training device over the whole batch (docs/PERFORMANCE.md). This script
measures both ways of calling the SAME transforms in the same run, interleaved repeat by
repeat, and prints the fastest of the repeats (as timeit does: background load only ever
slows a run down) and their ratio.

    python benchmarks/augment_speed.py                       # CLMR's batch 48, 2.68 s clips
    python benchmarks/augment_speed.py --device cuda --repeats 10
    python benchmarks/augment_speed.py --always --per-transform --threads 1
"""

from __future__ import annotations

import argparse
from typing import Callable

import torch
from torch import Tensor

from ssl_music_bench.augment import CLMRAugment, CLMRAugmentConfig, augment_one_at_a_time
from ssl_music_bench.train.speed.timing import batched_vs_looped


def parse_args() -> argparse.Namespace:
    """The command line; defaults are CLMR's training batch (48 crops of 59,049 samples)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=48, help="clips per batch (CLMR: 48)")
    parser.add_argument("--seconds", type=float, default=2.68, help="clip length (59,049 samples at 22,050 Hz)")
    parser.add_argument("--rate", type=int, default=22050, help="sample rate in Hz")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each way (fastest reported)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--always", action="store_true", help="every transform with p = 1 (worst case)")
    parser.add_argument("--per-transform", action="store_true", help="also time each transform alone")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def compare(
    name: str, batched: Callable[[], Tensor], looped: Callable[[], Tensor], wave: Tensor, repeats: int
) -> None:
    """Time the batched and the clip-by-clip call, interleaved, and print both and their ratio."""
    fast_rate, slow_rate = batched_vs_looped(batched, looped, wave.shape[0], repeats, wave.device)
    print(
        f"{name:<14} batched {fast_rate:9.1f} clips/s ({1000 / fast_rate:7.2f} ms/clip)   "
        f"one at a time {slow_rate:9.1f} clips/s ({1000 / slow_rate:7.2f} ms/clip)   "
        f"ratio {fast_rate / slow_rate:6.1f}x"
    )


def main() -> None:
    """Build a music-like batch, then time each way of augmenting it."""
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device")
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    samples = round(args.seconds * args.rate)
    # Music-like test signal: a few decaying partials plus a little noise (the transforms'
    # cost does not depend on content, but NaN-free, realistic levels keep the timing honest).
    t = torch.arange(samples, device=device) / args.rate
    freqs = 110 * 2 ** (torch.randint(0, 36, (args.batch, 4), device=device) / 12)
    wave = (torch.sin(2 * torch.pi * freqs[:, :, None] * t).sum(1) * torch.exp(-t)) * 0.1
    wave = wave + 0.01 * torch.randn_like(wave)

    config = CLMRAugmentConfig.always() if args.always else CLMRAugmentConfig()
    chain = CLMRAugment(config)
    print(
        f"device {device} ({torch.get_num_threads()} CPU threads), batch {args.batch} x {samples} samples "
        f"at {args.rate} Hz, {'p = 1 for every transform' if args.always else 'CLMR probabilities'}, "
        f"fastest of {args.repeats}"
    )
    rate = args.rate
    if args.per_transform:
        for name, transform in chain.transforms().items():
            compare(
                name,
                lambda t=transform: t(wave, rate),
                lambda t=transform: augment_one_at_a_time(t, wave, rate),
                wave,
                args.repeats,
            )
    compare(
        "whole chain",
        lambda: chain(wave, rate),
        lambda: augment_one_at_a_time(chain, wave, rate),
        wave,
        args.repeats,
    )


if __name__ == "__main__":
    main()
