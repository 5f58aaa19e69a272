"""Cached embeddings are verified when read: altered bytes are never reused, the entry is moved
to the quarantine (not deleted) and rebuilt with the same result."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ssl_music_bench.cli import main
from ssl_music_bench.evaluate.cache import load_embeddings, save_embeddings
from ssl_music_bench.home import embeddings_dir, quarantine_dir


def flip_last_bytes(path: Path, count: int = 64) -> None:
    """Flip bits at the end of a safetensors file: inside the tensor data, the header stays valid."""
    data = bytearray(path.read_bytes())
    for i in range(len(data) - count, len(data)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_altered_entry_is_quarantined_not_reused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    embeddings, owner = torch.randn(6, 4), torch.arange(6)
    save_embeddings(home, "k", embeddings, owner, {"split": "test"})
    loaded = load_embeddings(home, "k")
    assert loaded is not None and torch.equal(loaded[0], embeddings) and torch.equal(loaded[1], owner)
    path = embeddings_dir(home) / "k.safetensors"
    flip_last_bytes(path)
    assert load_embeddings(home, "k") is None  # altered numbers are never handed to the probe
    assert not path.exists()
    moved = list(quarantine_dir(home, "embeddings").iterdir())
    assert len(moved) == 1 and moved[0].name.startswith("k.safetensors.")


def test_truncated_entry_is_quarantined(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    save_embeddings(home, "k", torch.randn(3, 2), torch.arange(3), {})
    path = embeddings_dir(home) / "k.safetensors"
    path.write_bytes(path.read_bytes()[:20])
    assert load_embeddings(home, "k") is None
    assert "unreadable" in capsys.readouterr().err  # a message on stderr, not inside stdout data
    assert len(list(quarantine_dir(home, "embeddings").iterdir())) == 1


def test_bench_run_rebuilds_flipped_embeddings_with_the_same_metrics(tmp_path: Path, tiny_protocol_file: Path) -> None:
    home = tmp_path / "home"
    args = ["run", "--method", "random-init", "--encoder", "effnet", "--task", "synth-genre", "--protocol",
            str(tiny_protocol_file), "--home", str(home), "--no-progress"]
    assert main(args) == 0
    record_path = next((home / "records").rglob("*.json"))
    first = json.loads(record_path.read_text())
    for entry in embeddings_dir(home).glob("*.safetensors"):
        flip_last_bytes(entry)
    assert main(args) == 0
    again = json.loads(record_path.read_text())
    assert again["reused_embeddings"] == [] and again["metrics"] == first["metrics"]
    assert len(list(quarantine_dir(home, "embeddings").iterdir())) == 3
