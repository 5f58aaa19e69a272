"""Training-speed benchmark: how close the full pipeline comes to the model-only limit.

    bench speed                                  # every trainable method x compatible encoder
    bench speed --method cola --encoder effnet --batch-size 8 --steps 5

For each (method, encoder) pair at one batch size it measures (pair.py)

1. **pipeline** steps/s: the method's own DataLoader over the synthetic songs store -> device ->
   resample -> ``training_loss`` -> backward -> optimiser step (what ``bench run`` pretrains with);
2. **model-only** steps/s: the same step on one batch already on the device (resample, loss,
   backward, step), i.e. the limit a perfect input pipeline would reach;
3. their ratio, the **pipeline efficiency** (1.0: data loading costs nothing);

plus FLOPs per step and the achieved TFLOP/s next to the device's bf16 peak where it is known
(flops.py), the step's roofline (roofline.py: FLOPs and bytes moved against the device's, or an
H200's, peak and bandwidth; measured / bound on a GPU), CLMR's chain's share of the step,
embedding throughput (``embed_clips``, fastest of a few calls after an identical one), and
peak memory. Once per run it times CLMR's augmentation chain batched against
``augment_one_at_a_time`` on the same batch (augment.py).

The step is pretraining's own (step.py: train/module.py's forward, the optimiser read as for
Lightning). Pipeline and model-only steps are interleaved step by step after the warm-up
(timing.py), so that load from other processes (or CPU frequency changes) affects both alike;
each step is timed on the wall clock, with ``torch.cuda.synchronize`` on a GPU, and the fastest
step of each path gives its steps/s (as timeit: other load only ever slows a step down); the
means are in the JSON too. The data-wait fraction (time spent getting the next batch onto the
device, over the pipeline step) is a second view of the same efficiency that needs no
comparison across steps. On a GPU the step runs under bf16 autocast, as ``precision =
"bf16-mixed"`` trains. Speed is reported, never asserted (docs/PERFORMANCE.md).

The package: settings.py (the options, resolved on this machine), pairs.py (what is measured),
step.py, timing.py, flops.py, roofline.py, pair.py and augment.py (the measurements), output.py (speed.json
and speed.md); :func:`run_speed` here runs them in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.io import write_json_atomic, write_text_atomic
from ssl_music_bench.run_spec import RunSpec
from ssl_music_bench.train.pretrain import quiet_lightning
from ssl_music_bench.train.speed.augment import measure_augment
from ssl_music_bench.train.speed.output import markdown, speed_document
from ssl_music_bench.train.speed.pair import measure_pair, peak_memory_mb
from ssl_music_bench.train.speed.pairs import select_pairs
from ssl_music_bench.train.speed.settings import SPEED_DATA, SpeedSettings, plan_speed


def run_speed(
    home: Path, methods: list[str], encoders: list[str], settings: SpeedSettings, out_dir: Path,
    console: Console | None = None,
) -> dict[str, Any]:
    """Measure every selected (method, encoder) pair; write ``speed.json`` and ``speed.md``.

    ``methods`` / ``encoders``: names or wildcards, empty for all. The data is the synthetic
    songs' train split (synth-tags) on the synthetic corpus of ``settings.synth_size``
    (default: the protocol's), generated if missing. Returns the JSON document. After each pair
    the figures so far go to ``speed.partial.json``, removed once ``speed.json`` is written.
    """
    console = console or Console()
    plan = plan_speed(settings)
    quiet_lightning()
    pairs = select_pairs(methods, encoders)
    # Always the synthetic songs (with stems, so msa runs too): speed is a property of the
    # pipeline and the model, and needs no real dataset prepared (v1 pretrains on MTAT).
    data = TASKS.get(SPEED_DATA).obj().load(home, plan.protocol)
    console.print(f"speed: {len(pairs)} pair(s), batch {plan.batch_size}, {settings.steps} timed step(s) after "
                  f"{settings.warmup} warm-up, device {plan.device}, {torch.get_num_threads()} CPU threads, "
                  f"synthetic corpus {plan.protocol.synth_size}")
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / "speed.partial.json"  # what a run cut short leaves (e.g. slow compilation)
    results = []
    for method_name, encoder_name in pairs:
        console.print(f"  measuring {method_name} + {encoder_name} ...")
        spec = RunSpec(method_name, encoder_name, plan.protocol, seed=settings.seed)
        results.append(measure_pair(spec, data, plan))
        write_json_atomic(partial, {"complete": False, "settings": plan.describe(), "pairs": results})
    console.print("  measuring CLMR augmentation, batched vs one clip at a time ...")
    augment = measure_augment(data.store, data.indices["train"], plan.batch_size, settings.augment_repeats,
                              plan.device, settings.seed)
    memory_mb, memory_kind = peak_memory_mb(plan.device)
    if plan.kind == "cuda":  # per-pair peaks were reset; the run's peak is the largest of them
        memory_mb = max(r["peak_memory_mb"] for r in results)
    document = speed_document(plan, results, augment, (memory_mb, memory_kind))
    write_json_atomic(out_dir / "speed.json", document)
    partial.unlink(missing_ok=True)
    table = markdown(document)
    write_text_atomic(out_dir / "speed.md", table)
    console.print(table, markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {out_dir / 'speed.json'} and {out_dir / 'speed.md'}")
    return document
