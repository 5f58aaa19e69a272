"""speed.json's document and speed.md's table: the figures, the settings and the targets."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import torch

from ssl_music_bench.report.records import hardware
from ssl_music_bench.train.speed.settings import SpeedPlan

# Targets of the speed issue: pipeline steps/s over model-only steps/s, and batched CLMR
# augmentation over the one-clip loop.
TARGET_EFFICIENCY = {"cpu": 0.9, "cuda": 0.95}
TARGET_AUGMENT_RATIO_CPU = 10.0


def speed_document(plan: SpeedPlan, pairs: list[dict[str, Any]], augment: dict[str, Any],
                   memory: tuple[float, str]) -> dict[str, Any]:
    """The whole run as speed.json holds it; ``memory``: the run's peak in MB, and how it was measured."""
    efficiency_target = TARGET_EFFICIENCY[plan.kind]
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": str(plan.device),
        "device_name": torch.cuda.get_device_name(plan.device) if plan.kind == "cuda" else "cpu",
        "hardware": hardware(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "settings": plan.describe(),
        "pairs": pairs,
        "augment": augment,
        "peak_memory_mb": memory[0],
        "peak_memory_kind": memory[1],
        "targets": {
            "pipeline_efficiency": efficiency_target,
            "pipeline_efficiency_met": all(r["pipeline_efficiency"] >= efficiency_target for r in pairs),
            "augment_ratio_cpu": TARGET_AUGMENT_RATIO_CPU,
            "augment_ratio_met": augment["ratio"] >= TARGET_AUGMENT_RATIO_CPU if plan.kind == "cpu" else None,
        },
    }


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
    return "\n".join(lines + _roofline_lines(document) + _footer(document))


def _roofline_lines(document: dict[str, Any]) -> list[str]:
    """The roofline table: each pair's bounds on the device (the H200's off a known GPU), its
    measured model-only step beside them, and measured / bound where the bound is this device's."""
    pairs = [r for r in document["pairs"] if r.get("roofline")]
    if not pairs:
        return []
    first = pairs[0]["roofline"]
    on_device = first["measured_over_bound"] is not None
    measured = "measured ms" if on_device else f"measured ms (on {document['device_name']}, not the {first['device']})"
    lines = [
        "",
        f"Roofline on the {first['device']} ({first['bf16_tflops']:g} TFLOP/s bf16, "
        f"{first['memory_tb_per_s']:g} TB/s): "
        "FLOPs = matmuls and convolutions, forward + backward; bytes = 2 x saved activations + 10 x parameter "
        "bytes, a lower bound (ssl_music_bench/train/speed/roofline.py)"
        + ("." if on_device else "; measured / bound only on that GPU."),
        "",
        f"| method | encoder | GFLOP/step | saved activations MB | GB moved | FLOP bound ms | memory bound ms | "
        f"bound by | {measured} | measured / bound | chain share |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in pairs:
        b = r["roofline"]
        ratio = "-" if b["measured_over_bound"] is None else f"{b['measured_over_bound']:,.1f}x"
        share = r.get("augment_share_of_step")
        lines.append(
            f"| {r['method']} | {r['encoder']} | {_number(b['flops'] / 1e9, 1)} | "
            f"{_number(b['saved_activation_bytes'] / 2**20, 0)} | {_number(b['bytes_moved'] / 1e9, 2)} | "
            f"{_number(1e3 * b['flop_bound_s'], 3)} | {_number(1e3 * b['memory_bound_s'], 3)} | {b['bound_by']} | "
            f"{_number(1e3 * b['measured_s'], 1)} | {ratio} | {'-' if share is None else f'{100 * share:.0f} %'} |"
        )
    return lines


def _footer(document: dict[str, Any]) -> list[str]:
    """The lines under the table: augmentation, peak memory, and which targets were met."""
    a, t = document["augment"], document["targets"]
    return [
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
