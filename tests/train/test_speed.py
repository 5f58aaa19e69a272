"""The speed benchmark runs end to end and writes its figures; speed itself is never asserted
(docs/PERFORMANCE.md: speed is measured by a benchmark command that prints figures and ratios)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from ssl_music_bench.errors import BenchError
from ssl_music_bench.train.speed import run_speed
from ssl_music_bench.train.speed.flops import bf16_peak_tflops
from ssl_music_bench.train.speed.pairs import select_pairs
from ssl_music_bench.train.speed.settings import SpeedSettings

PAIR_KEYS = {
    "method", "encoder", "batch_size", "pipeline_steps_per_s", "model_steps_per_s", "pipeline_efficiency",
    "data_wait_fraction", "flops_per_step", "model_tflops_per_s", "embed_clips_per_s", "peak_memory_mb",
}
POSITIVE = ("pipeline_steps_per_s", "model_steps_per_s", "pipeline_efficiency", "flops_per_step",
            "model_tflops_per_s", "embed_clips_per_s", "embed_audio_s_per_s", "peak_memory_mb")


def test_run_speed_writes_json_and_markdown(shared_home: Path, tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    out = tmp_path / "speed"
    settings = SpeedSettings(batch_size=2, steps=1, device="cpu", synth_size="tiny", augment_repeats=1,
                             embed_clip_count=1)
    document = run_speed(shared_home, ["cola"], ["effnet"], settings, out, console)
    saved = json.loads((out / "speed.json").read_text())
    assert not (out / "speed.partial.json").exists()  # only a run cut short leaves it
    assert saved["settings"]["batch_size"] == 2 and saved["settings"]["steps"] == 1
    assert saved["device"] == "cpu" and saved["settings"]["precision"] == "fp32"
    [pair] = saved["pairs"]
    assert PAIR_KEYS <= set(pair)
    assert (pair["method"], pair["encoder"]) == ("cola", "effnet")
    for key in POSITIVE:
        assert math.isfinite(pair[key]) and pair[key] > 0, key
    assert pair["bf16_peak_tflops"] is None  # no peak on a CPU
    augment = saved["augment"]
    for key in ("batched_clips_per_s", "one_at_a_time_clips_per_s", "ratio"):
        assert augment[key] > 0, key
    assert saved["peak_memory_mb"] > 0
    assert set(saved["targets"]) >= {"pipeline_efficiency", "pipeline_efficiency_met", "augment_ratio_met"}
    assert document["pairs"][0]["method"] == "cola"
    # the roofline: counts from the step, the H200's bounds, no ratio of a CPU step to a GPU bound
    bound = pair["roofline"]
    assert bound["device"] == "H200" and bound["flops"] == pair["flops_per_step"]
    assert bound["saved_activation_bytes"] > 0 and bound["parameter_bytes"] > 0
    assert bound["bound_s"] == max(bound["flop_bound_s"], bound["memory_bound_s"]) > 0
    assert bound["measured_s"] == min(pair["step_seconds"]["model_only"]) and bound["measured_over_bound"] is None
    assert pair["embed_first_call_s"] > 0 and pair["embed_repeats"] >= 1
    assert "augment_share_of_step" not in pair  # cola has no CLMR chain

    table = (out / "speed.md").read_text()
    assert "| method | encoder | layout | pipeline steps/s | model-only steps/s | efficiency |" in table
    assert document["pairs"][0]["channels_last"] is False  # a CPU run keeps the default layout
    assert "| cola | effnet |" in table
    assert "CLMR augmentation chain" in table
    assert "Roofline on the H200" in table and "not the H200" in table
    assert "| cola | effnet |" in console.export_text()  # the table is printed too


def test_select_pairs_skips_incompatible_and_untrained() -> None:
    pairs = select_pairs(["cola*"], ["samplecnn"])
    assert ("cola", "samplecnn") in pairs
    assert all(encoder == "samplecnn" for _, encoder in pairs)
    assert not any(method == "cola-mws" for method, _ in pairs)  # mel-only
    everything = select_pairs([], [])
    assert not any(method == "random-init" for method, _ in everything)
    with pytest.raises(BenchError, match="effnet"):
        select_pairs(["cola-mws"], ["samplecnn"])
    with pytest.raises(BenchError, match="trains"):
        select_pairs(["random-init"], [])
    with pytest.raises(BenchError, match="Unknown method"):
        select_pairs(["colaa"], [])


def test_bf16_peaks() -> None:
    assert bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert bf16_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert bf16_peak_tflops("NVIDIA H200") == 989.0
    assert bf16_peak_tflops("Some Other GPU") is None


def test_a_run_cut_short_leaves_the_pairs_measured_so_far(shared_home: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl_music_bench.train.speed as speed

    def stop(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as when the user (or a time limit) stops the run here

    monkeypatch.setattr(speed, "measure_augment", stop)
    with pytest.raises(KeyboardInterrupt):
        run_speed(shared_home, ["cola"], ["effnet"],
                  SpeedSettings(batch_size=2, steps=1, device="cpu", synth_size="tiny", embed_clip_count=1),
                  tmp_path, Console(record=True))
    partial = json.loads((tmp_path / "speed.partial.json").read_text())
    assert partial["complete"] is False and [p["method"] for p in partial["pairs"]] == ["cola"]
    assert not (tmp_path / "speed.json").exists()


def test_clmr_pairs_report_the_chain_share_of_a_step(shared_home: Path, tmp_path: Path) -> None:
    settings = SpeedSettings(batch_size=2, steps=1, device="cpu", synth_size="tiny", augment_repeats=1,
                             embed_clip_count=1)
    [pair] = run_speed(shared_home, ["clmr"], ["effnet"], settings, tmp_path, Console(record=True))["pairs"]
    assert pair["augment_s_per_step"] > 0 and 0 < pair["augment_share_of_step"] < 10
    assert "| clmr | effnet |" in (tmp_path / "speed.md").read_text()


def test_saved_activation_bytes_count_each_storage_once() -> None:
    """count_step: a linear layer saves its input (and ReLU its output); parameters are excluded."""
    import torch

    from ssl_music_bench.train.speed.roofline import H200, count_step, roofline

    layer = torch.nn.Linear(64, 32)

    def step(batch: dict[str, torch.Tensor]) -> None:
        torch.relu(layer(batch["x"])).sum().backward()

    counts = count_step(step, {"x": torch.randn(16, 64, requires_grad=True)}, layer.parameters())
    assert counts.flops == 3 * 2 * 16 * 64 * 32  # forward, and the two backward matmuls
    assert counts.saved_activation_bytes == 16 * 64 * 4 + 16 * 32 * 4  # the input, ReLU's output
    assert counts.parameter_bytes == (64 * 32 + 32) * 4
    bound = roofline(counts, H200)
    assert bound["bound_by"] == "memory" and bound["memory_bound_s"] == counts.bytes_moved / 4.8e12
