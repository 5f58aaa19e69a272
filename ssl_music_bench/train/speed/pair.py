"""One (method, encoder) pair measured: pipeline vs model-only steps/s, FLOPs and the roofline,
CLMR's chain's share of a step, embedding throughput and peak memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from ssl_music_bench.augment import CLMRAugment
from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.task import TaskData
from ssl_music_bench.data.sampler import Example
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.evaluate.embed import embed_clips
from ssl_music_bench.report.records import peak_rss_mb
from ssl_music_bench.run_spec import RunSpec
from ssl_music_bench.train.acceleration import accelerate
from ssl_music_bench.train.module import to_encoder_rate
from ssl_music_bench.train.speed.flops import bf16_peak_tflops
from ssl_music_bench.train.speed.roofline import count_step, roofline, roofline_device
from ssl_music_bench.train.speed.settings import SpeedPlan
from ssl_music_bench.train.speed.step import TrainingStep, autocast
from ssl_music_bench.train.speed.timing import StepTimes, pipeline_vs_model_only, timed, to_device


def measure_pair(spec: RunSpec, data: TaskData, plan: SpeedPlan) -> dict[str, Any]:
    """The speed figures of ``spec``'s method and encoder, trained from their seeded initial
    weights on the train split of ``data``: one entry of speed.json's "pairs"."""
    device, settings = plan.device, plan.settings
    method = spec.new_method()
    if spec.method_class.uses_task_labels:
        method.attach_task(data)
    applied = accelerate(method, device, compile=False, channels_last=settings.channels_last)
    method.to(device).train()
    step = TrainingStep(method, data.store.sample_rate, device, plan.protocol.pretrain.steps)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    loader = method.pretrain_batches(data.store, data.indices["train"], plan.batch_size,
                                     settings.warmup + settings.steps, settings.seed, plan.num_workers)
    batches: Iterator[Example] = iter(loader)
    cached = to_device(next(batches), device)
    # Warm-up of the model-only path (allocator, kernels, FFT plans), FLOPs and saved bytes counted on the way.
    counts = count_step(step, cached, method.parameters())
    flops = counts.flops
    if settings.compile:  # after counting: the FLOP counter sees the eager step; compilation happens in the warm-up
        method.encoder.compile()
        applied["compiled"] = True
    for _ in range(settings.warmup - 1):
        step(to_device(next(batches), device))
    times = pipeline_vs_model_only(step, batches, cached, settings.steps, device)
    del batches, loader
    chain = _chain_share(method, cached, data.store.sample_rate, settings.steps, min(times.model_only), device)

    embed = _embed_rate(method, data.store, data.indices, settings.embed_clip_count,
                        plan.protocol.probe.embed_batch_size, device)
    memory_mb, memory_kind = peak_memory_mb(device)
    peak = bf16_peak_tflops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    method.cpu()
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    bound = roofline(counts, roofline_device(device_name))
    # measured / bound only against the device that measured: a CPU step over an H200 bound says nothing
    bound["measured_s"] = min(times.model_only)
    bound["measured_over_bound"] = bound["measured_s"] / bound["bound_s"] if device.type == "cuda" else None
    return {"method": spec.method, "encoder": spec.encoder, **applied, "batch_size": plan.batch_size,
            **_rates(times, plan.batch_size, flops, peak), "roofline": bound, **chain, **embed,
            "peak_memory_mb": memory_mb, "peak_memory_kind": memory_kind,
            "final_loss": times.losses[-1] if times.losses else None}


def _rates(times: StepTimes, batch_size: int, flops: float, peak: float | None) -> dict[str, Any]:
    """Steps/s of both paths, their ratio (the pipeline efficiency) and the achieved TFLOP/s.

    Fastest step of each path, as timeit reports: load from other processes only ever slows a
    step down, and with a few steps on a shared machine the mean mostly measures that load (the
    means are reported too)."""
    steps = len(times.pipeline)
    pipeline_rate, model_rate = 1 / min(times.pipeline), 1 / min(times.model_only)
    pipeline_mean, model_mean = steps / sum(times.pipeline), steps / sum(times.model_only)
    achieved = flops * model_rate / 1e12
    return {
        "steps_timed": steps,
        "pipeline_steps_per_s": pipeline_rate,
        "model_steps_per_s": model_rate,
        "pipeline_efficiency": pipeline_rate / model_rate,
        "pipeline_steps_per_s_mean": pipeline_mean,
        "model_steps_per_s_mean": model_mean,
        "pipeline_efficiency_mean": pipeline_mean / model_mean,
        "pipeline_examples_per_s": pipeline_rate * batch_size,
        "data_wait_fraction": times.data_wait_s / sum(times.pipeline),
        "step_seconds": {"pipeline": times.pipeline, "model_only": times.model_only},
        "flops_per_step": flops,
        "model_tflops_per_s": achieved,
        "bf16_peak_tflops": peak,
        "fraction_of_peak": achieved / peak if peak else None,
    }


def _chain_share(method: Method, cached: Example, store_rate: int, repeats: int, step_s: float,
                 device: torch.device) -> dict[str, Any]:
    """CLMR's chain on the cached batch's views (both of them, as one step runs it), fastest of
    ``repeats``, and its share of the fastest model-only step; {} for methods without the chain."""
    augment = getattr(method, "augment", None)
    if not isinstance(augment, CLMRAugment):
        return {}
    rate, crop = method.encoder.sample_rate, method.encoder.crop_samples
    views = [view[:, :crop] for key, view in to_encoder_rate(method, cached, store_rate).items()
             if key in method.audio_keys]

    def run_chain() -> None:
        with autocast(device), torch.no_grad():
            for view in views:
                augment(view, rate)

    run_chain()
    seconds = min(timed(run_chain, device) for _ in range(repeats))
    return {"augment_s_per_step": seconds, "augment_share_of_step": seconds / step_s}


EMBED_REPEATS = 3
"""Timed embedding passes after the untimed one; the fastest gives the rate (as timeit)."""


def _embed_rate(
    method: Method, store: ClipStore, indices: dict[str, list[int]], count: int, batch_size: int, device: torch.device
) -> dict[str, float]:
    """Clips/s and audio seconds/s of ``embed_clips`` (fp32, as ``bench run`` embeds).

    The warm-up is the timed call itself (same clips, so the same batch shapes), then the
    fastest of ``EMBED_REPEATS`` calls. Why (the H100 rows where clmr + effnet embedded 3.8 or
    61 clips/s and cola + effnet 600): the rate used to be one call of 8 clips (about 13 ms of
    GPU work) after a warm-up on one clip, whose batch had other shapes. The first fp32,
    evaluation-mode pass of a process (after bf16 training) loads and selects kernels for each
    new shape (CUDA's lazy module loading, cuDNN's algorithm choice), a one-off cost of up to
    seconds, and clmr + effnet, the first pair of a run, paid it inside its single timed call.
    The first call's seconds are kept (``embed_first_call_s``) so that cost stays visible.
    """
    clips = (indices.get("test") or indices["train"])[:count]
    encoder = method.encoder
    method.eval()

    def embed() -> None:
        embed_clips(method.features, store, clips, encoder.sample_rate, encoder.crop_samples, batch_size, device)

    first = timed(embed, device)
    seconds = min(timed(embed, device) for _ in range(EMBED_REPEATS))
    method.train()
    audio = sum(store.items[i].length for i in clips) / store.sample_rate
    return {"embed_clips": len(clips), "embed_clips_per_s": len(clips) / seconds,
            "embed_audio_s_per_s": audio / seconds, "embed_first_call_s": first, "embed_repeats": EMBED_REPEATS}


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """GPU: peak allocated by torch since the last reset; CPU: the process's peak RSS so far."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda max_memory_allocated"
    return peak_rss_mb(), "process peak RSS (ru_maxrss)"
