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


def test_store_memory_benchmark_removes_a_store_whose_build_failed(tmp_path: Path, monkeypatch) -> None:
    """A build that fails half-way (a full disk) leaves no store and no .partial behind in --dir, and
    nothing else there is touched: the finished store is removed by the benchmark, the unfinished
    one by ClipStoreWriter's abort."""
    from ssl_music_bench.data import store

    script = load_script()
    work = tmp_path / "stores"
    work.mkdir()
    (work / "users-file.txt").write_text("not the benchmark's")
    real_add, added = store.ClipStoreWriter.add, []

    def add_then_fail(self, *args, **kwargs):
        added.append(args[0])
        if len(added) == 3 + 5:  # the 1x store (3 clips) is finished, the 10x store half-written
            raise OSError("No space left on device")
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(store.ClipStoreWriter, "add", add_then_fail)
    argv = ["--clips", "3", "--scale", "10", "--seconds", "2", "--rate", "8000", "--batch", "2", "--steps", "2",
            "--excerpt-seconds", "0.5", "--cache", "cold", "--dir", str(work), "--out", str(tmp_path / "out.json")]
    try:
        script.main(argv)
    except OSError as error:
        assert "No space left" in str(error)
    else:
        raise AssertionError("the failing build did not stop the benchmark")
    assert sorted(path.name for path in work.iterdir()) == ["users-file.txt"]
    assert not (tmp_path / "out.json").exists()
