"""The roofline of every pair's training step at the protocol's batch, computed on any machine.

    python benchmarks/roofline.py                       # all 13 pairs, v1's batch of 96, H200 bounds
    python benchmarks/roofline.py --methods clmr --bf16 # activations counted in bf16 (CPU autocast)

FLOPs and saved-activation bytes (ssl_music_bench/train/speed/roofline.py) are counted on real
steps at two small batches and extrapolated linearly to the protocol's batch: convolutions,
matmuls and saved activations grow linearly with the batch, parameters not at all (the
contrastive losses' similarity matrices grow with its square, but at batch 96 they are under
0.1 % of either count; the two-batch fit shows how linear the counts are). A step at batch 96
would take minutes per pair on a 2-core CPU; ``bench speed --device cuda`` counts the real batch.
Beside the bounds: the H100 model-only step of docs/PERFORMANCE.md (table 1, bf16), against the
H100's own bounds, so that "1-4 % of peak" can be read against what the step could reach at all.
"""

from __future__ import annotations

import argparse
import dataclasses
from contextlib import nullcontext

import torch

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.home import resolve_home
from ssl_music_bench.run_spec import RunSpec
from ssl_music_bench.train.speed.pairs import select_pairs
from ssl_music_bench.train.speed.roofline import H200, ROOFLINE_DEVICES, StepCounts, count_step, roofline
from ssl_music_bench.train.speed.step import TrainingStep
from ssl_music_bench.train.speed.timing import to_device

# docs/PERFORMANCE.md, GPU figures, table 1: model-only steps/s on one H100 80GB HBM3, batch 96, bf16
H100_MODEL_STEPS_PER_S = {
    ("clmr", "effnet"): 9.34, ("clmr", "samplecnn"): 8.42, ("cola", "effnet"): 30.19, ("cola", "samplecnn"): 14.53,
    ("cola-mws", "effnet"): 23.53, ("cola-randmask", "effnet"): 25.51, ("cola-randmask", "samplecnn"): 14.35,
    ("cpc", "effnet"): 21.00, ("cpc", "samplecnn"): 14.42, ("msa", "effnet"): 25.63, ("msa", "samplecnn"): 13.53,
    ("supervised", "effnet"): 25.31, ("supervised", "samplecnn"): 27.31,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="")
    parser.add_argument("--encoders", default="")
    parser.add_argument("--protocol", default="v1")
    parser.add_argument("--batches", default="2,4", help="the two small batches counted")
    parser.add_argument("--bf16", action="store_true", help="count under CPU bf16 autocast (GPU-like dtypes)")
    parser.add_argument("--home", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (counts do not depend on it)")
    return parser.parse_args()


def counted(spec: RunSpec, data, batch: int, bf16: bool) -> StepCounts:  # type: ignore[no-untyped-def]
    method = spec.new_method()
    if spec.method_class.uses_task_labels:
        method.attach_task(data)
    method.train()
    device = torch.device("cpu")
    step = TrainingStep(method, data.store.sample_rate, device, spec.protocol.pretrain.steps)
    cached = to_device(next(iter(method.pretrain_batches(data.store, data.indices["train"], batch, 1, 0, 0))), device)
    with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
        return count_step(step, cached, method.parameters())


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    protocol = load_protocol(args.protocol)
    target = protocol.pretrain.batch_size
    # the tiny synthetic corpus: the counts depend on the batch's shapes, not on which songs fill it
    data = TASKS.get("synth-tags").obj().load(resolve_home(args.home),
                                              dataclasses.replace(load_protocol("cpu"), synth_size="tiny"))
    small, large = (int(b) for b in args.batches.split(","))
    h100 = next(d for d in ROOFLINE_DEVICES if d.name == "H100")
    print(f"batch {target} (extrapolated from {small} and {large}), activations "
          f"{'bf16 autocast' if args.bf16 else 'fp32'}; bounds: {H200.name} {H200.bf16_tflops:g} TFLOP/s, "
          f"{H200.memory_tb_per_s:g} TB/s; {h100.name} {h100.bf16_tflops:g} TFLOP/s, {h100.memory_tb_per_s:g} TB/s")
    print("| method | encoder | GFLOP/step | saved activations GB | params MB | GB moved | H200 FLOP bound ms | "
          "H200 memory bound ms | H200 bound ms | H100 bound ms | H100 measured ms | H100 measured / bound |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for method, encoder in select_pairs([m for m in args.methods.split(",") if m],
                                        [e for e in args.encoders.split(",") if e]):
        spec = RunSpec(method, encoder, protocol, seed=0)
        a, b = counted(spec, data, small, args.bf16), counted(spec, data, large, args.bf16)
        per_flops = (b.flops - a.flops) / (large - small)
        per_bytes = (b.saved_activation_bytes - a.saved_activation_bytes) / (large - small)
        counts = StepCounts(a.flops + per_flops * (target - small),
                            round(a.saved_activation_bytes + per_bytes * (target - small)), a.parameter_bytes)
        on_h200, on_h100 = roofline(counts, H200), roofline(counts, h100)
        measured = H100_MODEL_STEPS_PER_S.get((method, encoder))
        measured_ms = None if measured is None else 1e3 / measured
        ratio = "-" if measured_ms is None else f"{measured_ms / (1e3 * on_h100['bound_s']):.0f}x"
        print(f"| {method} | {encoder} | {counts.flops / 1e9:,.1f} | {counts.saved_activation_bytes / 1e9:.2f} | "
              f"{counts.parameter_bytes / 2**20:.1f} | {counts.bytes_moved / 1e9:.2f} | "
              f"{1e3 * on_h200['flop_bound_s']:.2f} | {1e3 * on_h200['memory_bound_s']:.2f} | "
              f"{1e3 * on_h200['bound_s']:.2f} | {1e3 * on_h100['bound_s']:.2f} | "
              f"{'-' if measured_ms is None else f'{measured_ms:.1f}'} | "
              f"{ratio} |", flush=True)


if __name__ == "__main__":
    main()
