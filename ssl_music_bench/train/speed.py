"""Training-speed benchmark: how close the full pipeline comes to the model-only limit.

    bench speed                                  # every trainable method x compatible encoder
    bench speed --method cola --encoder effnet --batch-size 8 --steps 5

For each (method, encoder) pair at one batch size it measures

1. **pipeline** steps/s: the method's own DataLoader over the synthetic songs store -> device ->
   resample -> ``training_loss`` -> backward -> optimiser step (what ``bench run`` pretrains with);
2. **model-only** steps/s: the same step on one batch already on the device (resample, loss,
   backward, step), i.e. the limit a perfect input pipeline would reach;
3. their ratio, the **pipeline efficiency** (1.0: data loading costs nothing);

plus FLOPs per step (``torch.utils.flop_counter``: matmuls and convolutions, forward and backward;
FFTs and element-wise work are not counted) and the achieved TFLOP/s next to the device's bf16
peak where it is known, embedding throughput (``embed_clips``), and peak memory. Once per run it
times CLMR's augmentation chain batched against ``augment_one_at_a_time`` on the same batch.

Pipeline and model-only steps are interleaved step by step after the warm-up, so that load from
other processes (or CPU frequency changes) affects both alike; each step is timed on the wall
clock, with ``torch.cuda.synchronize`` on a GPU, and the fastest step of each path gives its
steps/s (as timeit: other load only ever slows a step down); the means are in the JSON too. The
data-wait fraction (time spent getting the next batch onto the device, over the pipeline step) is
a second view of the same efficiency that needs no comparison across steps. On a GPU the step
runs under bf16 autocast, as ``precision = "bf16-mixed"`` trains. Speed is reported, never asserted (docs/DESIGN.md).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import Tensor

from ssl_music_bench.augment import CLMRAugment, augment_one_at_a_time
from ssl_music_bench.contracts.compatibility import compatible_encoders
from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.protocol import Protocol, load_protocol
from ssl_music_bench.contracts.registry import ENCODERS, METHODS, TASKS
from ssl_music_bench.contracts.task import TaskData
from ssl_music_bench.data.audio import resample
from ssl_music_bench.data.sampler import Example, ExcerptDataset
from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.devices import default_device
from ssl_music_bench.errors import BenchError
from ssl_music_bench.evaluate.embed import embed_clips
from ssl_music_bench.io import write_json_atomic, write_text_atomic
from ssl_music_bench.report.records import hardware, peak_rss_mb
from ssl_music_bench.run import build_method
from ssl_music_bench.train.acceleration import accelerate
from ssl_music_bench.train.pretrain import quiet_lightning, to_encoder_rate

# Dense bf16 tensor-core peaks (no sparsity) from the vendors' data sheets, in TFLOP/s.
# Matched against torch.cuda.get_device_name(); first match wins.
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # SXM
    ("H200", 989.0),
    ("A100", 312.0),
)

# Targets of the speed issue: pipeline steps/s over model-only steps/s, and batched CLMR
# augmentation over the one-clip loop.
TARGET_EFFICIENCY = {"cpu": 0.9, "cuda": 0.95}
TARGET_AUGMENT_RATIO_CPU = 10.0

DEFAULT_STEPS = 2  # timed steps per path and pair, after one warm-up step
CPU_DEFAULT_BATCH = 8

SPEED_DATA = "synth-tags"  # the train split of the synthetic songs
CLMR_RATE, CLMR_CROP = 22_050, 59_049  # CLMR's SampleCNN input: 2.68 s at 22,050 Hz


def bf16_peak_tflops(device_name: str) -> float | None:
    """The device's dense bf16 peak in TFLOP/s, or None when it is not in the table."""
    for key, peak in BF16_PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return peak
    return None


def default_batch_size(protocol: Protocol, device: torch.device) -> int:
    """The protocol's pretraining batch; on a CPU at most ``CPU_DEFAULT_BATCH``, so that every
    pair of a default run finishes in minutes on two cores."""
    batch = protocol.pretrain.batch_size
    return batch if device.type == "cuda" else min(batch, CPU_DEFAULT_BATCH)


def resolve_device(device: str) -> torch.device:
    """"auto" -> cuda when available, else cpu; "cuda" without a GPU is refused plainly."""
    if device == "auto":
        return default_device()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError("--device cuda was asked for, but torch sees no CUDA device. Use --device cpu or auto.")
    if device != "cpu" and not device.startswith("cuda"):
        raise BenchError(f'Unknown device "{device}": use auto, cpu or cuda.')
    return torch.device(device)


def select_pairs(methods: list[str], encoders: list[str]) -> list[tuple[str, str]]:
    """(method, encoder) pairs to measure: names or wildcards; empty means all.

    Only methods that train are measured (random-init has no step); incompatible pairs are
    skipped, and a selection that leaves nothing is refused with the compatible encoders named.
    """
    method_names = _expand(METHODS, methods or ["*"], "method")
    encoder_names = _expand(ENCODERS, encoders or ["*"], "encoder")
    trainable = [m for m in method_names if METHODS.get(m).obj.needs_pretraining]
    if not trainable:
        raise BenchError(f"None of {', '.join(method_names)} trains, so there is no step to time; pick a "
                         f"self-supervised method or the supervised baseline.")
    pairs = [(m, e) for m in trainable for e in compatible_encoders(m) if e in encoder_names]
    if not pairs:
        hints = "; ".join(f"{m}: {', '.join(compatible_encoders(m))}" for m in trainable)
        raise BenchError(f"No selected method works with the encoders {', '.join(encoder_names)}. "
                         f"Compatible encoders: {hints}.")
    return pairs


def _expand(registry: Any, patterns: list[str], kind: str) -> list[str]:
    names: list[str] = []
    for pattern in patterns:
        found = registry.names(pattern) if any(c in pattern for c in "*?[") else [registry.get(pattern).name]
        if not found:
            raise BenchError(f'No {kind} matches "{pattern}". Known: {", ".join(registry.names())}.')
        names += [n for n in found if n not in names]
    return names


class _Optimiser:
    """Lightning's ``configure_optimizers`` formats reduced to one object with ``step()``."""

    def __init__(self, configured: Any) -> None:
        self.optimizers: list[torch.optim.Optimizer] = []
        self.step_schedulers: list[Any] = []
        self._collect(configured)
        if not self.optimizers:
            raise BenchError(f"configure_optimizer returned {type(configured).__name__}, which holds no optimiser.")

    def _collect(self, item: Any) -> None:
        if isinstance(item, torch.optim.Optimizer):
            self.optimizers.append(item)
        elif isinstance(item, dict) and "optimizer" in item:
            self.optimizers.append(item["optimizer"])
            scheduler = item.get("lr_scheduler")
            # Epoch schedulers (Lightning's default interval) never step within the few timed steps.
            if isinstance(scheduler, dict) and scheduler.get("interval", "epoch") == "step":
                self.step_schedulers.append(scheduler["scheduler"])
        elif isinstance(item, list | tuple):
            for part in item:
                self._collect(part)

    def zero_grad(self) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()
        for scheduler in self.step_schedulers:
            scheduler.step()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _to_device(batch: Example, device: torch.device) -> Example:
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


def _autocast(device: torch.device) -> AbstractContextManager[Any]:
    """bf16 autocast on a GPU (as ``bf16-mixed`` trains); fp32 on the CPU (the cpu protocol's)."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


class _Stepper:
    """One training step of a method, as ``PretrainModule.training_step`` plus Lightning's loop."""

    def __init__(self, method: Method, store_rate: int, optimiser: _Optimiser, device: torch.device) -> None:
        self.method, self.store_rate, self.optimiser, self.device = method, store_rate, optimiser, device

    def __call__(self, batch: Example) -> Tensor:
        with _autocast(self.device):  # to_encoder_rate leaves ``batch`` (maybe the cached one) as it was
            loss = self.method.training_loss(to_encoder_rate(self.method, batch, self.store_rate))
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        return loss.detach()


def _timed(fn: Callable[[], Any], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """GPU: peak allocated by torch since the last reset; CPU: the process's peak RSS so far."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda max_memory_allocated"
    return peak_rss_mb(), "process peak RSS (ru_maxrss)"


def batched_vs_looped(
    batched: Callable[[], Any], looped: Callable[[], Any], clips: int, repeats: int, device: torch.device
) -> tuple[float, float]:
    """Clips/s of a batched call over ``clips`` clips and of its one-clip-at-a-time loop.

    One warm-up call each (allocator, FFT plans, CUDA kernels), then the two timed in turn,
    repeat by repeat, so that background load hits both alike; the fastest repeat of each (as
    timeit: load only ever slows a call down).
    """
    batched(), looped()
    fast: list[float] = []
    slow: list[float] = []
    for _ in range(repeats):
        fast.append(clips / _timed(batched, device))
        slow.append(clips / _timed(looped, device))
    return max(fast), max(slow)


def measure_pair(
    method_name: str, encoder_name: str, data: TaskData, batch_size: int, steps: int, warmup: int,
    device: torch.device, seed: int, num_workers: int, total_steps: int, embed_clip_count: int,
    embed_batch_size: int, compile: bool = False, channels_last: bool | None = None,
) -> dict[str, Any]:
    """Pipeline vs model-only steps/s, FLOPs, embedding throughput and peak memory of one pair."""
    torch.manual_seed(seed)
    method = build_method(method_name, encoder_name)
    if type(method).uses_task_labels:
        method.attach_task(data)
    applied = accelerate(method, device, compile=False, channels_last=channels_last)
    method.to(device).train()
    store = data.store
    optimiser = _Optimiser(method.configure_optimizer(total_steps))
    step = _Stepper(method, store.sample_rate, optimiser, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    loader = method.pretrain_batches(store, data.indices["train"], batch_size, warmup + steps, seed, num_workers)
    batches: Iterator[Example] = iter(loader)
    cached = _to_device(next(batches), device)
    # Warm-up of the model-only path (allocator, kernels, FFT plans), FLOPs counted on the way.
    flops = _flops_per_step(step, cached)
    if compile:  # after counting: the FLOP counter sees the eager step; compilation happens in the warm-up
        method.encoder.compile()
        applied["compiled"] = True
    for _ in range(warmup - 1):
        step(_to_device(next(batches), device))

    pipeline_times: list[float] = []
    model_times: list[float] = []
    wait_s = 0.0
    losses: list[float] = []
    for _ in range(steps):  # interleaved, so background load hits both alike
        _sync(device)
        start = time.perf_counter()
        batch = _to_device(next(batches), device)
        _sync(device)
        fetched = time.perf_counter()
        losses.append(float(step(batch)))
        _sync(device)
        pipeline_times.append(time.perf_counter() - start)
        wait_s += fetched - start
        model_times.append(_timed(lambda: step(cached), device))
    del batches, loader

    # Fastest step of each path, as timeit reports: load from other processes only ever slows a
    # step down, and with a few steps on a shared machine the mean mostly measures that load.
    pipeline_rate, model_rate = 1 / min(pipeline_times), 1 / min(model_times)
    pipeline_mean, model_mean = steps / sum(pipeline_times), steps / sum(model_times)
    embed = _embed_rate(method, store, data.indices, embed_clip_count, embed_batch_size, device)
    memory_mb, memory_kind = _peak_memory_mb(device)
    peak = bf16_peak_tflops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    achieved = flops * model_rate / 1e12
    method.cpu()
    return {
        "method": method_name,
        "encoder": encoder_name,
        **applied,
        "batch_size": batch_size,
        "steps_timed": steps,
        "pipeline_steps_per_s": pipeline_rate,
        "model_steps_per_s": model_rate,
        "pipeline_efficiency": pipeline_rate / model_rate,
        "pipeline_steps_per_s_mean": pipeline_mean,
        "model_steps_per_s_mean": model_mean,
        "pipeline_efficiency_mean": pipeline_mean / model_mean,
        "pipeline_examples_per_s": pipeline_rate * batch_size,
        "data_wait_fraction": wait_s / sum(pipeline_times),
        "step_seconds": {"pipeline": pipeline_times, "model_only": model_times},
        "flops_per_step": flops,
        "model_tflops_per_s": achieved,
        "bf16_peak_tflops": peak,
        "fraction_of_peak": achieved / peak if peak else None,
        **embed,
        "peak_memory_mb": memory_mb,
        "peak_memory_kind": memory_kind,
        "final_loss": losses[-1] if losses else None,
    }


def _flops_per_step(step: _Stepper, batch: Example) -> float:
    """Matmul/convolution FLOPs of one training step (forward + backward) on ``batch``."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step(batch)
    return float(counter.get_total_flops())


def _embed_rate(
    method: Method, store: ClipStore, indices: dict[str, list[int]], count: int, batch_size: int, device: torch.device
) -> dict[str, float]:
    """Clips/s and audio seconds/s of ``embed_clips`` (fp32, as ``bench run`` embeds)."""
    clips = (indices.get("test") or indices["train"])[:count]
    encoder = method.encoder
    method.eval()
    embed_clips(method.features, store, clips[:1], encoder.sample_rate, encoder.crop_samples, batch_size, device)
    seconds = _timed(lambda: embed_clips(method.features, store, clips, encoder.sample_rate,
                                         encoder.crop_samples, batch_size, device), device)
    method.train()
    audio = sum(store.items[i].length for i in clips) / store.sample_rate
    return {"embed_clips": len(clips), "embed_clips_per_s": len(clips) / seconds,
            "embed_audio_s_per_s": audio / seconds}


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


def run_speed(
    home: Path,
    methods: list[str],
    encoders: list[str],
    batch_size: int | None,
    steps: int,
    device: str,
    out_dir: Path,
    console: Console | None = None,
    *,
    warmup: int = 1,
    protocol: str | Protocol = "cpu",
    synth_size: str | None = None,
    num_workers: int | None = None,
    augment_repeats: int = 3,
    embed_clip_count: int = 8,
    seed: int = 0,
    compile: bool = False,
    channels_last: bool | None = None,
) -> dict[str, Any]:
    """Measure every selected (method, encoder) pair; write ``speed.json`` and ``speed.md``.

    ``methods`` / ``encoders``: names or wildcards, empty for all. ``batch_size`` None: the
    protocol's pretraining batch (at most 8 on a CPU, see ``default_batch_size``). ``steps``:
    timed steps per path after ``warmup`` untimed ones.
    ``compile``: compile each encoder (``torch.compile``; the warm-up pays it, so give it a few
    steps). ``channels_last``: None for each encoder's preference on a GPU, or force it on/off
    (ssl_music_bench/train/acceleration.py).
    ``device``: "auto", "cpu" or "cuda". The data is the synthetic songs' train split (synth-tags)
    on the synthetic corpus of ``synth_size`` (default: the protocol's), generated if missing.
    Returns the JSON document. After each pair the figures so far go to ``speed.partial.json``,
    removed once ``speed.json`` is written.
    """
    console = console or Console()
    if steps < 1 or warmup < 1:
        raise BenchError(f"--steps ({steps}) and the warm-up ({warmup}) must each be at least 1.")
    quiet_lightning()
    settings = load_protocol(protocol) if isinstance(protocol, str) else protocol
    if synth_size is not None:
        settings = dataclasses.replace(settings, synth_size=synth_size)
    target = resolve_device(device)
    batch = batch_size or default_batch_size(settings, target)
    if batch < 2:
        raise BenchError(f"--batch-size {batch}: contrastive methods need a batch of at least 2.")
    workers = settings.pretrain.num_workers if num_workers is None else num_workers
    pairs = select_pairs(methods, encoders)
    # Always the synthetic songs (with stems, so msa runs too): speed is a property of the
    # pipeline and the model, and needs no real dataset prepared (v1 pretrains on MTAT).
    data = TASKS.get(SPEED_DATA).obj().load(home, settings)
    console.print(f"speed: {len(pairs)} pair(s), batch {batch}, {steps} timed step(s) after {warmup} warm-up, "
                  f"device {target}, {torch.get_num_threads()} CPU threads, synthetic corpus {settings.synth_size}")

    kind = "cuda" if target.type == "cuda" else "cpu"
    run_settings = {"protocol": settings.name, "synth_size": settings.synth_size, "batch_size": batch,
                    "steps": steps, "warmup": warmup, "num_workers": workers, "seed": seed,
                    "precision": "bf16 autocast" if kind == "cuda" else "fp32",
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "compile": compile, "channels_last": "encoder default" if channels_last is None else channels_last}
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / "speed.partial.json"  # what a run cut short leaves (e.g. slow compilation)
    results = []
    for method_name, encoder_name in pairs:
        console.print(f"  measuring {method_name} + {encoder_name} ...")
        results.append(measure_pair(
            method_name, encoder_name, data, batch, steps, warmup, target, seed, workers,
            settings.pretrain.steps, embed_clip_count, settings.probe.embed_batch_size, compile, channels_last,
        ))
        write_json_atomic(partial, {"complete": False, "settings": run_settings, "pairs": results})
    console.print("  measuring CLMR augmentation, batched vs one clip at a time ...")
    augment = measure_augment(data.store, data.indices["train"], batch, augment_repeats, target, seed)
    memory_mb, memory_kind = _peak_memory_mb(target)
    if target.type == "cuda":  # per-pair peaks were reset; the run's peak is the largest of them
        memory_mb = max(r["peak_memory_mb"] for r in results)

    efficiency_target = TARGET_EFFICIENCY[kind]
    document: dict[str, Any] = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": str(target),
        "device_name": torch.cuda.get_device_name(target) if kind == "cuda" else "cpu",
        "hardware": hardware(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "settings": run_settings,
        "pairs": results,
        "augment": augment,
        "peak_memory_mb": memory_mb,
        "peak_memory_kind": memory_kind,
        "targets": {
            "pipeline_efficiency": efficiency_target,
            "pipeline_efficiency_met": all(r["pipeline_efficiency"] >= efficiency_target for r in results),
            "augment_ratio_cpu": TARGET_AUGMENT_RATIO_CPU,
            "augment_ratio_met": augment["ratio"] >= TARGET_AUGMENT_RATIO_CPU if kind == "cpu" else None,
        },
    }
    write_json_atomic(out_dir / "speed.json", document)
    partial.unlink(missing_ok=True)
    table = markdown(document)
    write_text_atomic(out_dir / "speed.md", table)
    console.print(table, markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {out_dir / 'speed.json'} and {out_dir / 'speed.md'}")
    return document


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _layout(result: dict[str, Any]) -> str:
    """How the pair ran: memory format, and whether the encoder was compiled."""
    layout = "channels-last" if result.get("channels_last") else "default"
    return layout + (" + compile" if result.get("compiled") else "")


def markdown(document: dict[str, Any]) -> str:
    """The speed document as markdown: one row per pair, then augmentation and memory."""
    s = document["settings"]
    lines = [
        f"Speed on {document['device_name']} ({s['precision']}, {s['torch_threads']} CPU threads), batch "
        f"{s['batch_size']}, fastest of {s['steps']} timed steps after {s['warmup']} warm-up, synthetic corpus "
        f"{s['synth_size']}, {s['num_workers']} loader workers; load average "
        f"{', '.join(f'{x:.2f}' for x in document['load_average'] or [])}.",
        "",
        "| method | encoder | layout | pipeline steps/s | model-only steps/s | efficiency | data wait | "
        "GFLOP/step | TFLOP/s | of bf16 peak | embed clips/s | peak MB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in document["pairs"]:
        share = None if r["fraction_of_peak"] is None else 100 * r["fraction_of_peak"]
        lines.append(
            f"| {r['method']} | {r['encoder']} | {_layout(r)} | {_number(r['pipeline_steps_per_s'])} | "
            f"{_number(r['model_steps_per_s'])} | {_number(r['pipeline_efficiency'])} | "
            f"{_number(100 * r['data_wait_fraction'], 1)} % | {_number(r['flops_per_step'] / 1e9, 1)} | "
            f"{_number(r['model_tflops_per_s'], 3)} | {'-' if share is None else f'{share:.1f} %'} | "
            f"{_number(r['embed_clips_per_s'], 1)} | {_number(r['peak_memory_mb'], 0)} |"
        )
    a, t = document["augment"], document["targets"]
    lines += [
        "",
        f"CLMR augmentation chain, batch {a['batch_size']} x {a['samples']} samples at {a['sample_rate']} Hz "
        f"(fastest of {a['repeats']}): batched {_number(a['batched_clips_per_s'], 1)} clips/s, one at a time "
        f"{_number(a['one_at_a_time_clips_per_s'], 1)} clips/s, ratio {a['ratio']:.1f}x.",
        "",
        f"Peak memory: {_number(document['peak_memory_mb'], 0)} MB ({document['peak_memory_kind']}).",
        "",
        f"Targets: pipeline efficiency >= {t['pipeline_efficiency']} "
        f"({'met' if t['pipeline_efficiency_met'] else 'not met'} by every pair)"
        + ("" if t["augment_ratio_met"] is None else
           f"; batched augmentation >= {t['augment_ratio_cpu']:g}x the one-clip loop on CPU "
           f"({'met' if t['augment_ratio_met'] else 'not met'})")
        + ".",
        "",
    ]
    return "\n".join(lines)
