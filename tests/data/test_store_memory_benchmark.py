"""Smoke test of benchmarks/store_memory.py on a tiny configuration (memory is reported, never asserted)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from ssl_music_bench.data.store import ClipStore

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "store_memory.py"


def load_script():
    spec = importlib.util.spec_from_file_location("store_memory_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_store_memory_benchmark_tiny(tmp_path: Path) -> None:
    script = load_script()
    out = tmp_path / "store_memory.json"
    argv = [
        "--clips", "3", "--scale", "10", "--seconds", "2", "--rate", "8000", "--batch", "2", "--steps", "2",
        "--excerpt-seconds", "0.5", "--cache", "cold", "--dir", str(tmp_path / "stores"), "--keep",
        "--out", str(out),
    ]
    returned = script.main(argv)
    result = json.loads(out.read_text())
    assert result["ratios"] == returned["ratios"]

    assert set(result["stores"]) == {"1x", "10x"}
    for name, clips in (("1x", 3), ("10x", 30)):
        row = result["stores"][name]
        assert row["clips"] == clips
        assert len(ClipStore(row["path"])) == clips  # built with the real writer, kept by --keep
        assert row["bytes"] > row["audio_bytes"] == clips * 2 * 8000 * 2
        measure = row["measures"]["cold"]
        assert measure["clips"] == clips
        assert measure["batches"] == 2 and measure["examples"] == 4
        for key in ("rss_open", "rss_peak", "rss_growth", "mapped_audio_rss", "touched_pages_bytes", "peak_source"):
            assert key in measure
    assert result["in_memory"]["array_bytes_1x"] == 3 * 2 * 8000 * 2
    assert result["in_memory"]["array_bytes_large"] == 30 * 2 * 8000 * 2
    for key in ("rss_growth", "rss_peak", "mapped_audio_rss"):
        assert key in result["ratios"]["by_cache"]["cold"]
    assert result["ratios"]["clips"] == 10
    assert result["audio_read_bytes"] == 2 * 2 * 4000 * 2
