"""The clip store: round trip, stems alignment, skipped items, atomic publication."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssl_music_bench.data.store import ClipStore, ClipStoreWriter


def test_round_trip_with_stems_and_skips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    root = tmp_path / "store"
    clips = []
    with ClipStoreWriter(root, 16_000, sources=("drums", "bass"), shard_samples=5_000) as writer:
        for i in range(5):
            drums, bass = rng.uniform(-0.4, 0.4, (2, 3_000 + 100 * i)).astype(np.float32)
            clips.append((drums, bass))
            writer.add(f"c{i}", "train" if i < 3 else "test", ["a", "b"][: i % 3], drums + bass,
                       stems={"drums": drums, "bass": bass}, tempo=100 + i)
        writer.skip("broken", "valid", "corrupt audio: could not decode")
    store = ClipStore(root)
    assert len(store) == 5 and len(store.manifest) == 6
    assert store.manifest[-1].status == "skipped: corrupt audio: could not decode"
    assert store.indices("train") == [0, 1, 2] and store.indices("test") == [3, 4]
    assert store.items[4].extra == {"tempo": 104}
    for i, (drums, bass) in enumerate(clips):
        assert np.abs(store.read(i, source="drums") - drums).max() <= 0.5 / 32767 + 1e-7
        assert np.abs(store.read(i) - (drums + bass)).max() <= 0.5 / 32767 + 1e-7
        assert np.array_equal(store.read(i, 100, 50), store.read(i)[100:150])
    assert len({info.shard for info in store.items}) > 1  # clips crossed shard boundaries
    with pytest.raises(IndexError):
        store.read(0, 2_990, 20)
    with pytest.raises(KeyError):
        store.read(0, source="vocals")


def test_interrupted_writer_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with pytest.raises(RuntimeError):
        with ClipStoreWriter(root, 16_000) as writer:
            writer.add("x", "train", [], np.zeros(100, dtype=np.float32))
            raise RuntimeError("interrupted")
    assert not root.exists() and not list(tmp_path.iterdir())


def test_missing_stems_are_refused(tmp_path: Path) -> None:
    writer = ClipStoreWriter(tmp_path / "s", 16_000, sources=("drums",))
    with pytest.raises(ValueError, match="expected stems"):
        writer.add("x", "train", [], np.zeros(10, dtype=np.float32))
    writer.abort()
