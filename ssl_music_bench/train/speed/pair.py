"""One (method, encoder) pair measured: pipeline vs model-only steps/s, FLOPs, embedding
throughput and peak memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.task import TaskData
from ssl_music_bench.data.sampler import Example
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.evaluate.embed import embed_clips
from ssl_music_bench.report.records import peak_rss_mb
from ssl_music_bench.run_spec import RunSpec
from ssl_music_bench.train.acceleration import accelerate
from ssl_music_bench.train.speed.flops import bf16_peak_tflops, flops_per_step
from ssl_music_bench.train.speed.settings import SpeedPlan
from ssl_music_bench.train.speed.step import TrainingStep
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
    # Warm-up of the model-only path (allocator, kernels, FFT plans), FLOPs counted on the way.
    flops = flops_per_step(step, cached)
    if settings.compile:  # after counting: the FLOP counter sees the eager step; compilation happens in the warm-up
        method.encoder.compile()
        applied["compiled"] = True
    for _ in range(settings.warmup - 1):
        step(to_device(next(batches), device))
    times = pipeline_vs_model_only(step, batches, cached, settings.steps, device)
    del batches, loader

    embed = _embed_rate(method, data.store, data.indices, settings.embed_clip_count,
                        plan.protocol.probe.embed_batch_size, device)
    memory_mb, memory_kind = peak_memory_mb(device)
    peak = bf16_peak_tflops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    method.cpu()
    return {"method": spec.method, "encoder": spec.encoder, **applied, "batch_size": plan.batch_size,
            **_rates(times, plan.batch_size, flops, peak), **embed,
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


def _embed_rate(
    method: Method, store: ClipStore, indices: dict[str, list[int]], count: int, batch_size: int, device: torch.device
) -> dict[str, float]:
    """Clips/s and audio seconds/s of ``embed_clips`` (fp32, as ``bench run`` embeds)."""
    clips = (indices.get("test") or indices["train"])[:count]
    encoder = method.encoder
    method.eval()
    embed_clips(method.features, store, clips[:1], encoder.sample_rate, encoder.crop_samples, batch_size, device)
    seconds = timed(lambda: embed_clips(method.features, store, clips, encoder.sample_rate,
                                        encoder.crop_samples, batch_size, device), device)
    method.train()
    audio = sum(store.items[i].length for i in clips) / store.sample_rate
    return {"embed_clips": len(clips), "embed_clips_per_s": len(clips) / seconds,
            "embed_audio_s_per_s": audio / seconds}


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """GPU: peak allocated by torch since the last reset; CPU: the process's peak RSS so far."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda max_memory_allocated"
    return peak_rss_mb(), "process peak RSS (ru_maxrss)"
