"""Every GPU measurement the speed issue (issue 14) needs, in one run of at most about 8 minutes.

    python benchmarks/h200_speed.py --out "$OUT"                    # on the H200: cuda, protocol v1
    python benchmarks/h200_speed.py --device cpu --dry-run --out /tmp/h200   # CPU, tiny: does it run?

Three phases, each writing its JSON as soon as it has something, so a run cut short keeps what it
measured (rerun the same command to redo it):

A. **variants** (``variants.json``): for each (method, encoder) pair, one model per variant, all
   from the same seeded initial weights, each given ``--warmup`` untimed steps, then the
   variants' model-only steps interleaved step by step (baseline, variant 1, variant 2, ...,
   baseline, ...), so that clock or load changes hit every variant alike; the fastest and the
   mean of ``--steps`` timed steps per variant, and their ratio to the baseline. The step is
   ``bench speed``'s model-only step (resample, ``training_loss``, backward, optimiser step, bf16
   autocast on a GPU). Variants, each alone against the baseline:
     baseline               eager, the chain's subset path (the code before issue 14), foreach Adam
     static-chain           CLMR only: ``CLMRAugment(static_shapes=True)``
     fused-optimizer        ``fused=True`` (train/acceleration.py ``use_fused_optimizer``)
     conv1d-channels-last   SampleCNN only: 1-D convolutions as NHWC 2-D ones
     eager-kept             static chain + fused optimiser (+ channels-last 1-D for SampleCNN)
   For CLMR pairs it also times the chain alone on the step's views (subset vs static), and its
   share of the baseline and of the static-chain step.
B. **bench speed** (``bench_speed/speed.json`` and ``speed.md``): the command the issue names,
   ``bench speed --device cuda --protocol v1``, with the code's defaults (the subset chain, eager):
   the table, the roofline with measured / bound, the chain's share, the embedding rates.
C. **compilation** (``compile.json``), for ``--compile-pairs`` only (compiling one pair took 2-3
   minutes on an H100): ``torch.compile(mode="reduce-overhead")`` (inductor + CUDA graphs) of
   the encoder, alone and with the static chain compiled too (by inductor, which compiles it on
   a CPU since the chain's two inductor failures were removed, or as plain CUDA graphs of the
   eager kernels, ``backend="cudagraphs"``),
   against the baseline, interleaved as in A; the warm-up's seconds are the compile time; a
   variant that fails to compile is listed under "failed" with its error.

A phase or pair that would start after ``--budget-s`` is skipped and listed under "skipped".
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ssl_music_bench.augment import CLMRAugment
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.home import resolve_home
from ssl_music_bench.io import write_json_atomic
from ssl_music_bench.run_spec import RunSpec
from ssl_music_bench.train.acceleration import conv1d_channels_last, use_fused_optimizer
from ssl_music_bench.train.module import to_encoder_rate
from ssl_music_bench.train.pretrain import quiet_lightning
from ssl_music_bench.train.speed import run_speed
from ssl_music_bench.train.speed.pairs import select_pairs
from ssl_music_bench.train.speed.settings import SPEED_DATA, SpeedSettings, plan_speed
from ssl_music_bench.train.speed.step import TrainingStep, autocast
from ssl_music_bench.train.speed.timing import timed, to_device

DEFAULT_COMPILE_PAIRS = "clmr:samplecnn,cola:effnet"  # one per encoder: compilation is the encoder's


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON files (on the GPU: $OUT)")
    parser.add_argument("--device", default="cuda", help="cuda (the measurement) or cpu (a dry run)")
    parser.add_argument("--protocol", default="v1")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--budget-s", type=float, default=420.0, help="no new phase or pair after this")
    parser.add_argument("--methods", default="", help="comma-separated names or wildcards (default: all)")
    parser.add_argument("--encoders", default="")
    parser.add_argument("--compile-pairs", default=DEFAULT_COMPILE_PAIRS, help="method:encoder,...; '' for none")
    parser.add_argument("--skip", default="", help="phases to skip: any of A,B,C")
    parser.add_argument("--home", type=Path, default=None, help="bench home (default: BENCH_HOME)")
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny: the cpu protocol, batch 2, tiny corpus, 1 warm-up, 1 step, clmr and cola with "
                             "effnet, no compilation unless --compile-pairs is given explicitly")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.warmup, args.steps = 1, 1
        args.methods, args.encoders = args.methods or "clmr,cola", args.encoders or "effnet"
        if "--protocol" not in (argv or sys.argv[1:]):
            args.protocol = "cpu"
        if "--compile-pairs" not in (argv or sys.argv[1:]):
            args.compile_pairs = ""
    return args


class Clock:
    """Seconds since the start, and whether the budget still allows starting something."""

    def __init__(self, budget_s: float) -> None:
        self.start, self.budget_s = time.perf_counter(), budget_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def allows(self) -> bool:
        return self.elapsed() < self.budget_s


# Each variant changes a fresh copy of the pair's model (and its step) in place and says what it did,
# or returns None where it does not apply to the pair.
Variant = Callable[[Any, TrainingStep], "dict[str, Any] | None"]


def static_chain(method: Any, step: TrainingStep) -> dict[str, Any] | None:
    if not isinstance(getattr(method, "augment", None), CLMRAugment):
        return None
    method.augment.static_shapes = True
    return {"static_chain": True}


def fused_optimizer(method: Any, step: TrainingStep) -> dict[str, Any] | None:
    return {"fused_optimizer": True} if use_fused_optimizer(step.optimizer) else None


def conv1d_layout(method: Any, step: TrainingStep) -> dict[str, Any] | None:
    switched = conv1d_channels_last(method.encoder)
    return {"conv1d_channels_last": switched} if switched else None


def eager_kept(method: Any, step: TrainingStep) -> dict[str, Any] | None:
    applied: dict[str, Any] = {}
    for variant in (static_chain, fused_optimizer, conv1d_layout):
        applied.update(variant(method, step) or {})
    return applied


def compiled(chain: str | None) -> Variant:
    """The encoder compiled with inductor and CUDA graphs; ``chain``: how the static chain is
    compiled too ("inductor": reduce-overhead, fused kernels, whose random draws did not match
    eager's on a CPU; "cudagraphs": graphs of the eager kernels), or None to leave it eager."""
    def apply(method: Any, step: TrainingStep) -> dict[str, Any] | None:
        applied: dict[str, Any] = {"compile": "reduce-overhead"}
        if chain is not None:
            if not static_chain(method, step):
                return None
            options = {"mode": "reduce-overhead"} if chain == "inductor" else {"backend": "cudagraphs"}
            method.augment = torch.compile(method.augment, **options)
            applied.update(static_chain=True, chain_compiled=chain)
        method.encoder.compile(mode="reduce-overhead")
        return applied
    return apply


EAGER_VARIANTS: dict[str, Variant] = {
    "static-chain": static_chain, "fused-optimizer": fused_optimizer, "conv1d-channels-last": conv1d_layout,
    "eager-kept": eager_kept,
}
COMPILE_VARIANTS: dict[str, Variant] = {
    "compile": compiled(None), "compile+chain-cudagraphs": compiled("cudagraphs"), "compile+chain-inductor":
    compiled("inductor"),
}


def interleaved(spec: RunSpec, data: Any, plan: Any, variants: dict[str, Variant], warmup: int, steps: int,
                ) -> dict[str, Any]:
    """The baseline and each applicable variant of ``spec``'s pair, interleaved step by step."""
    device = plan.device
    base = spec.new_method()
    if spec.method_class.uses_task_labels:
        base.attach_task(data)
    if isinstance(getattr(base, "augment", None), CLMRAugment):
        base.augment.static_shapes = False  # the baseline is the code before the static chain
    loader = base.pretrain_batches(data.store, data.indices["train"], plan.batch_size, 1, plan.settings.seed, 0)
    cached = to_device(next(iter(loader)), device)
    runs: dict[str, tuple[TrainingStep, dict[str, Any]]] = {}
    for name, variant in {"baseline": None, **variants}.items():
        method = copy.deepcopy(base).to(device).train()
        step = TrainingStep(method, data.store.sample_rate, device, plan.protocol.pretrain.steps)
        applied = {} if variant is None else variant(method, step)
        if applied is not None:
            runs[name] = (step, applied)
    result: dict[str, Any] = {"method": spec.method, "encoder": spec.encoder, "batch_size": plan.batch_size,
                              "variants": {}, "failed": {}}
    for name, (step, applied) in list(runs.items()):
        try:  # the warm-up pays compilation: a variant that fails there is dropped, the others go on
            warm = [timed(lambda: step(cached), device) for _ in range(warmup)]
        except Exception as error:
            if name == "baseline":
                raise
            result["failed"][name] = {"applied": applied, "error": repr(error)[:2000]}
            del runs[name]
            continue
        result["variants"][name] = {"applied": applied, "warmup_s": warm, "step_s": []}
    for _ in range(steps):
        for name, (step, _) in runs.items():
            result["variants"][name]["step_s"].append(timed(lambda: step(cached), device))
    fastest = min(result["variants"]["baseline"]["step_s"])
    for entry in result["variants"].values():
        entry["fastest_s"], entry["mean_s"] = min(entry["step_s"]), sum(entry["step_s"]) / len(entry["step_s"])
        entry["steps_per_s"] = 1 / entry["fastest_s"]
        entry["speedup_vs_baseline"] = fastest / entry["fastest_s"]
    if isinstance(getattr(base, "augment", None), CLMRAugment):
        result["chain"] = chain_alone(base.to(device), cached, data.store.sample_rate, steps, device)
        for name in ("baseline", "static-chain"):
            if name in result["variants"]:
                key = "subset_s" if name == "baseline" else "static_s"
                result["chain"][f"share_of_{name}_step"] = result["chain"][key] / result["variants"][name]["fastest_s"]
    del runs, base
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def chain_alone(method: Any, cached: Any, store_rate: int, repeats: int, device: torch.device) -> dict[str, Any]:
    """CLMR's chain on the step's two views, subset path vs static shapes, interleaved, fastest."""
    rate, crop = method.encoder.sample_rate, method.encoder.crop_samples
    views = [v[:, :crop] for k, v in to_encoder_rate(method, cached, store_rate).items() if k in method.audio_keys]
    chains = {"subset_s": CLMRAugment(method.augment.config, static_shapes=False),
              "static_s": CLMRAugment(method.augment.config, static_shapes=True)}

    def run(chain: CLMRAugment) -> None:
        with autocast(device), torch.no_grad():
            for view in views:
                chain(view, rate)

    for chain in chains.values():
        run(chain)
    times: dict[str, list[float]] = {key: [] for key in chains}
    for _ in range(max(repeats, 3)):
        for key, chain in chains.items():
            times[key].append(timed(lambda: run(chain), device))
    return {**{key: min(values) for key, values in times.items()}, "all_s": times}


def measure_phase(pairs: list[tuple[str, str]], variants: dict[str, Variant], args: argparse.Namespace, plan: Any,
                  data: Any, clock: Clock, path: Path, console: Console) -> dict[str, Any]:
    document: dict[str, Any] = {"settings": plan.describe(), "device_name": device_name(plan.device), "pairs": [],
                                "skipped": [], "errors": []}
    for method, encoder in pairs:
        if not clock.allows():
            document["skipped"].append(f"{method}+{encoder}")
            continue
        console.print(f"  {path.stem}: {method} + {encoder} ({clock.elapsed():.0f} s)")
        try:
            spec = RunSpec(method, encoder, plan.protocol, seed=plan.settings.seed)
            document["pairs"].append(interleaved(spec, data, plan, variants, args.warmup, args.steps))
        except Exception as error:  # one variant that fails to compile must not lose the others' figures
            document["errors"].append({"pair": f"{method}+{encoder}", "error": repr(error),
                                       "traceback": traceback.format_exc(limit=8)})
        document["elapsed_s"] = clock.elapsed()
        write_json_atomic(path, document)
    write_json_atomic(path, document)
    return document


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def summary(document: dict[str, Any]) -> list[str]:
    """One line per pair: steps/s of each variant and its ratio to the baseline."""
    lines = []
    for pair in document["pairs"]:
        cells = [f"{name} {v['steps_per_s']:.2f}/s ({v['speedup_vs_baseline']:.2f}x)"
                 for name, v in pair["variants"].items()]
        chain = pair.get("chain")
        if chain:
            cells.append(f"chain subset {1e3 * chain['subset_s']:.1f} ms, static {1e3 * chain['static_s']:.1f} ms")
        lines.append(f"{pair['method']} + {pair['encoder']}: " + "; ".join(cells))
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    console = Console(stderr=True)
    clock = Clock(args.budget_s)
    quiet_lightning()
    args.out.mkdir(parents=True, exist_ok=True)
    home = resolve_home(args.home)
    tiny = {"batch_size": 2, "synth_size": "tiny", "num_workers": 0} if args.dry_run else {}
    settings = SpeedSettings(steps=args.steps, warmup=args.warmup, device=args.device, protocol=args.protocol,
                             augment_repeats=3 if not args.dry_run else 1, embed_clip_count=1 if args.dry_run else 8,
                             **tiny)
    plan = plan_speed(settings)
    data = TASKS.get(SPEED_DATA).obj().load(home, plan.protocol)
    pairs = select_pairs([m for m in args.methods.split(",") if m], [e for e in args.encoders.split(",") if e])
    pairs.sort(key=lambda pair: pair[0] != "clmr")  # CLMR's first: its chain is the first target
    skip = {phase.strip().upper() for phase in args.skip.split(",") if phase.strip()}
    report: dict[str, Any] = {"device_name": device_name(plan.device), "phases": {}}
    if "A" not in skip:
        document = measure_phase(pairs, EAGER_VARIANTS, args, plan, data, clock, args.out / "variants.json", console)
        report["phases"]["A"] = summary(document)
    if "B" not in skip and clock.allows():
        methods = sorted({m for m, _ in pairs})
        encoders = sorted({e for _, e in pairs})
        run_speed(home, methods, encoders, settings, args.out / "bench_speed", Console(stderr=True))
        report["phases"]["B"] = str(args.out / "bench_speed" / "speed.md")
    compile_pairs = [tuple(p.split(":")) for p in args.compile_pairs.split(",") if p]
    if "C" not in skip and compile_pairs:
        document = measure_phase(compile_pairs, COMPILE_VARIANTS, args, plan, data, clock,  # type: ignore[arg-type]
                                 args.out / "compile.json", console)
        report["phases"]["C"] = summary(document)
    report["elapsed_s"] = clock.elapsed()
    write_json_atomic(args.out / "summary.json", report)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
