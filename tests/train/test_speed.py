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

    table = (out / "speed.md").read_text()
    assert "| method | encoder | layout | pipeline steps/s | model-only steps/s | efficiency |" in table
    assert document["pairs"][0]["channels_last"] is False  # a CPU run keeps the default layout
    assert "| cola | effnet |" in table
    assert "CLMR augmentation chain" in table
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
