"""CLMR's augmentation chain, transform by transform: the subset path against static shapes, its
share of a CLMR training step, and what torch.compile makes of it (issue 14).

    python benchmarks/clmr_chain_profile.py                          # batch 96, this CPU
    python benchmarks/clmr_chain_profile.py --device cuda --profiler # on a GPU, with torch.profiler's table
    python benchmarks/clmr_chain_profile.py --share --step-batch 16  # the chain's share of a step
    python benchmarks/clmr_chain_profile.py --compile --batch 8      # compile time and steady-state ratio

Every comparison runs both ways in the same process, interleaved repeat by repeat, and reports
the fastest repeat of each (as timeit: load from other processes only ever slows a call down),
and their ratio. ``subset`` is the chain as it ran before issue 14 (each transform on the rows
its coin chose, shapes following the draws; still the default); ``static`` runs every
transform on every row with shapes fixed by the configured ranges (``static_shapes=True``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ssl_music_bench.augment import CLMRAugment, CLMRAugmentConfig, static_shapes
from ssl_music_bench.run_spec import build_method
from ssl_music_bench.train.speed.step import TrainingStep
from ssl_music_bench.train.speed.timing import timed

RATE, CROP = 22_050, 59_049  # CLMR's SampleCNN input: 2.68 s at 22,050 Hz


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=96, help="views per chain call (v1's batch: 96)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--always", action="store_true", help="every transform with p = 1")
    parser.add_argument("--profiler", action="store_true", help="torch.profiler's top operators of each path")
    parser.add_argument("--share", action="store_true", help="the chain's share of a CLMR step, both encoders")
    parser.add_argument("--step-batch", type=int, default=None, help="batch of the --share step (default --batch)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the static chain and an encoder")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def music_like(batch: int, device: torch.device) -> Tensor:
    """Decaying partials plus a little noise (cost does not depend on content; levels do for NaNs)."""
    t = torch.arange(CROP, device=device) / RATE
    freqs = 110 * 2 ** (torch.randint(0, 36, (batch, 4), device=device) / 12)
    wave = (torch.sin(2 * torch.pi * freqs[:, :, None] * t).sum(1) * torch.exp(-t)) * 0.1
    return wave + 0.01 * torch.randn_like(wave)


def fastest_pair(first: Callable[[], Any], second: Callable[[], Any], repeats: int,
                 device: torch.device) -> tuple[float, float]:
    """Seconds of the fastest call of each, after one untimed call each, interleaved."""
    first(), second()
    a, b = [], []
    for _ in range(repeats):
        a.append(timed(first, device))
        b.append(timed(second, device))
    return min(a), min(b)


def in_mode(fn: Callable[[], Any], static: bool) -> Callable[[], Any]:
    def run() -> Any:
        with static_shapes(static):
            return fn()
    return run


def per_transform(chain: CLMRAugment, wave: Tensor, repeats: int) -> None:
    print(f"{'transform':<12} {'subset ms':>10} {'static ms':>10} {'static/subset':>14}  "
          f"(whole batch of {wave.shape[0]})")
    total = [0.0, 0.0]
    for name, transform in chain.transforms().items():
        call = lambda t=transform: t(wave, RATE)
        subset, static = fastest_pair(in_mode(call, False), in_mode(call, True), repeats, wave.device)
        total[0] += subset
        total[1] += static
        print(f"{name:<12} {1e3 * subset:10.1f} {1e3 * static:10.1f} {static / subset:13.2f}x")
    print(f"{'sum':<12} {1e3 * total[0]:10.1f} {1e3 * total[1]:10.1f} {total[1] / total[0]:13.2f}x")
    subset, static = fastest_pair(lambda: CLMRAugment(chain.config, static_shapes=False)(wave, RATE),
                                  lambda: CLMRAugment(chain.config, static_shapes=True)(wave, RATE), repeats,
                                  wave.device)
    print(f"{'whole chain':<12} {1e3 * subset:10.1f} {1e3 * static:10.1f} {static / subset:13.2f}x   "
          f"({wave.shape[0] / subset:.0f} vs {wave.shape[0] / static:.0f} views/s)")


def profile(chain: CLMRAugment, wave: Tensor) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if wave.is_cuda else [])
    sort = "self_cuda_time_total" if wave.is_cuda else "self_cpu_time_total"
    for static in (False, True):
        run = CLMRAugment(chain.config, static_shapes=static)
        run(wave, RATE)
        with torch_profile(activities=activities) as prof:
            run(wave, RATE)
        print(f"\ntorch.profiler, {'static' if static else 'subset'} chain, top operators by {sort}:")
        print(prof.key_averages().table(sort_by=sort, row_limit=12))


def share_of_step(config: CLMRAugmentConfig, batch: int, repeats: int, device: torch.device) -> None:
    """The model-only CLMR step (two views through the chain, encoder, loss, backward, Adam) and the
    chain alone on the same two views, in the default (subset) chain mode, fastest of ``repeats``."""
    from ssl_music_bench.data.audio import resample

    for encoder in ("samplecnn", "effnet"):
        torch.manual_seed(0)
        method = build_method("clmr", encoder).to(device).train()
        method.augment.config = config
        store_rate = method.encoder.sample_rate  # the batch is already at the encoder's rate: no resampling
        crop = method.encoder.crop_samples
        wave = music_like(batch, device)
        wave = resample(wave, RATE, store_rate) if store_rate != RATE else wave
        views = {key: wave[:, :crop].contiguous() for key in method.audio_keys}
        step = TrainingStep(method, store_rate, device, total_steps=10_000)

        def chain_alone() -> None:
            with torch.no_grad():
                for view in views.values():
                    method.augment(view, method.encoder.sample_rate)

        chain_s, step_s = fastest_pair(chain_alone, lambda: step(views), repeats, device)
        print(f"clmr + {encoder:<9} batch {batch}: step {1e3 * step_s:8.1f} ms, chain {1e3 * chain_s:8.1f} ms "
              f"(both views): chain share {100 * chain_s / step_s:5.1f} % of the step")


def compile_chain(config: CLMRAugmentConfig, wave: Tensor, repeats: int) -> None:
    eager = CLMRAugment(config, static_shapes=True)
    compiled = torch.compile(CLMRAugment(config, static_shapes=True))
    start = time.perf_counter()
    try:
        compiled(wave, RATE)
    except Exception as error:  # report what inductor refuses instead of hiding it
        print(f"torch.compile of the static chain failed after {time.perf_counter() - start:.0f} s: {error!r}")
        return
    first = time.perf_counter() - start
    eager_s, compiled_s = fastest_pair(lambda: eager(wave, RATE), lambda: compiled(wave, RATE), repeats, wave.device)
    print(f"torch.compile, static chain, batch {wave.shape[0]}: first call (compilation) {first:.1f} s; steady state "
          f"eager {1e3 * eager_s:.1f} ms vs compiled {1e3 * compiled_s:.1f} ms: {eager_s / compiled_s:.2f}x")


def compile_step(batch: int, repeats: int, device: torch.device) -> None:
    """A CLMR + SampleCNN model step with the encoder compiled (what ``--compile`` does) vs eager."""
    steps = {}
    for name in ("eager", "compiled"):
        torch.manual_seed(0)
        method = build_method("clmr", "samplecnn").to(device).train()
        if name == "compiled":
            method.encoder.compile()
        steps[name] = TrainingStep(method, RATE, device, total_steps=10_000)
    views = {key: music_like(batch, device) for key in ("audio", "second_view")}
    start = time.perf_counter()
    steps["compiled"](views)
    first = time.perf_counter() - start
    eager_s, compiled_s = fastest_pair(lambda: steps["eager"](views), lambda: steps["compiled"](views), repeats, device)
    print(f"torch.compile, clmr + samplecnn encoder, batch {batch}: first step {first:.1f} s; steady state eager "
          f"{1e3 * eager_s:.0f} ms vs compiled {1e3 * compiled_s:.0f} ms: {eager_s / compiled_s:.2f}x")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    config = CLMRAugmentConfig.always() if args.always else CLMRAugmentConfig()
    chain = CLMRAugment(config)
    wave = music_like(args.batch, device)
    print(f"device {device} ({torch.get_num_threads()} CPU threads), batch {args.batch} x {CROP} samples at {RATE} Hz, "
          f"{'p = 1 for every transform' if args.always else 'CLMR probabilities'}, fastest of {args.repeats}")
    per_transform(chain, wave, args.repeats)
    if args.profiler:
        profile(chain, wave)
    if args.share:
        share_of_step(config, args.step_batch or args.batch, args.repeats, device)
    if args.compile:
        compile_chain(config, wave, args.repeats)
        compile_step(args.batch, args.repeats, device)


if __name__ == "__main__":
    main()
