"""A damaged clip store is caught when opened, named in one paragraph, quarantined and remade."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from test_prepare import ToyTask

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS, register_task
from ssl_music_bench.contracts.sources import SOURCES
from ssl_music_bench.data.prepare import prepare
from ssl_music_bench.data.store import ClipStore, ClipStoreWriter
from ssl_music_bench.data.store_integrity import CorruptStore
from ssl_music_bench.data.synthetic_corpus import ensure_corpus
from ssl_music_bench.errors import BenchError
from ssl_music_bench.home import prepared_path, quarantine_dir, synth_store_path


def write_store(root: Path) -> ClipStore:
    """Three clips in two shards, with one stem, and a skipped item."""
    with ClipStoreWriter(root, 8_000, sources=("drums",), shard_samples=150) as writer:
        for index, length in enumerate((100, 80, 60)):
            audio = np.full(length, 0.1 * (index + 1), dtype=np.float32)
            writer.add(f"c{index}", "train", ["a"], audio, stems={"drums": audio / 2})
        writer.skip("bad", "test", "corrupt audio")
    return ClipStore(root)


@pytest.fixture()
def store(tmp_path: Path) -> ClipStore:
    return write_store(tmp_path / "store")


def damage(root: Path, name: str, change) -> None:  # type: ignore[no-untyped-def]
    path = root / name
    path.write_bytes(change(path.read_bytes()))


def test_an_intact_store_opens_and_reads(store: ClipStore) -> None:
    again = ClipStore(store.root)
    assert [info.id for info in again.items] == ["c0", "c1", "c2"] and len(again.manifest) == 4
    assert np.allclose(again.read(2, source="drums"), 0.15, atol=1e-4)


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("store.json", lambda data: b"\x00garbage{", "store.json is not readable JSON"),
        ("store.json", lambda data: b"[1, 2]", "store.json holds a JSON list"),
        ("store.json", lambda data: data.replace(b'"sample_rate": 8000', b'"sample_rate": "fast"'),
         "sample_rate is 'fast'"),
        ("store.json", lambda data: data.replace(b'"items": 4', b'"items": 7'), "lists 4 items, store.json says 7"),
        ("manifest.jsonl", lambda data: data[: len(data) // 2], "line 3 is not JSON"),
        ("manifest.jsonl", lambda data: data.replace(b'"length": 80', b'"length": "80"'), "length = '80'"),
        ("manifest.jsonl", lambda data: data.replace(b'"split": "train"', b'"split": "dev"', 1), "split 'dev'"),
        ("manifest.jsonl", lambda data: data.replace(b'"offset": 100', b'"offset": 150'), "mix-00000.npy holds 180"),
        ("mix-00001.npy", lambda data: data[:-10], "mix-00001.npy is 238 bytes, its header promises 248"),
        ("drums-00000.npy", lambda data: data + b"\x00\x00", "drums-00000.npy is 490 bytes"),
        ("drums-00000.npy", lambda data: b"not an npy file", "drums-00000.npy is not a readable .npy"),
    ],
)
def test_damage_is_named_in_one_paragraph(store: ClipStore, name: str, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    damage(store.root, name, change)
    with pytest.raises(CorruptStore, match="is damaged: ") as error:
        ClipStore(store.root)
    assert expected in str(error.value) and isinstance(error.value, BenchError)
    assert "\n" not in str(error.value)


def test_a_missing_shard_is_named(store: ClipStore) -> None:
    (store.root / "drums-00001.npy").unlink()
    with pytest.raises(CorruptStore, match="the shard drums-00001.npy is missing"):
        ClipStore(store.root)


def test_a_damaged_synthetic_corpus_is_quarantined_and_regenerated(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = ensure_corpus(home, "notes", "tiny", verbose=False)
    reference = notes.read(3)
    shard = notes.root / "mix-00000.npy"
    shard.write_bytes(shard.read_bytes()[: 1_000])  # cut, as by a full disk or a bad copy
    again = ensure_corpus(home, "notes", "tiny")
    assert np.array_equal(again.read(3), reference)  # regenerated: the same bytes
    quarantined = list(quarantine_dir(home, "stores").iterdir())
    assert [p.name.split(".")[0] for p in quarantined] == ["synth-notes-tiny-seed0"]
    assert (quarantined[0] / "mix-00000.npy").stat().st_size == 1_000  # kept for inspection, not deleted
    err = capsys.readouterr().err
    assert "mix-00000.npy" in err and "moved to" in err and "generating the corpus again" in err
    assert synth_store_path(home, "notes", "tiny", 0) == again.root


class Toy(ToyTask):
    """test_prepare's toy dataset under a store name of its own, with shorter clips allowed."""

    store_name = "toy-integrity"
    min_seconds = 0.1


@pytest.fixture()
def toy(tmp_path: Path) -> Iterator[tuple[Toy, Path]]:
    root = tmp_path / "dataset"
    (root / "wav").mkdir(parents=True)
    for index, split in enumerate(("train", "valid", "test")):
        soundfile.write(root / "wav" / f"x{index}.wav", np.full(8_000, 0.1 * (index + 1)), 8_000)
    (root / "list.txt").write_text("x0 train a\nx1 valid b\nx2 test a\n")
    register_task("toy-integrity")(Toy)
    yield Toy(), root
    TASKS.unregister("toy-integrity")


def test_a_damaged_prepared_store_is_quarantined_and_prepare_is_named(tmp_path: Path, toy: tuple[Toy, Path]) -> None:
    task, root = toy
    home = tmp_path / "home"
    store = prepare(task, root, home, workers=1, progress=False)
    damage(store.root, "store.json", lambda data: b"{ cut")
    with pytest.raises(BenchError) as error:
        task.load(home, load_protocol("cpu"))
    message = str(error.value)
    assert "store.json is not readable JSON" in message and "moved to" in message
    assert "`bench prepare --task toy-integrity --root DIR`" in message
    assert not prepared_path(home, "toy-integrity").exists()
    assert len(list(quarantine_dir(home, "stores").iterdir())) == 1
    prepare(task, root, home, workers=1, progress=False)  # made again from the user's files
    assert len(task.load(home, load_protocol("cpu")).store) == 3


def test_prepare_remakes_a_damaged_store_it_finds(tmp_path: Path, toy: tuple[Toy, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    task, root = toy
    home = tmp_path / "home"
    store = prepare(task, root, home, workers=1, progress=False)
    damage(store.root, "manifest.jsonl", lambda data: data.replace(b'"labels": ["a"]', b'"labels": "a"', 1))
    remade = prepare(task, root, home, workers=1, progress=False)
    assert [info.id for info in remade.items] == ["x0", "x1", "x2"]
    assert "labels = 'a'" in capsys.readouterr().err
    assert len(list(quarantine_dir(home, "stores").iterdir())) == 1


def test_the_cli_reports_a_damaged_store_without_a_traceback(tmp_path: Path, toy: tuple[Toy, Path],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from ssl_music_bench.cli import main

    task, root = toy
    home = tmp_path / "home"
    prepare(task, root, home, workers=1, progress=False)
    stems = prepared_path(home, "toy-integrity-stems")
    write_store(stems)
    header = json.loads((stems / "store.json").read_text())
    (stems / "store.json").write_text(json.dumps({**header, "sources": "drums"}))
    code = main(["separate", "--task", "toy-integrity", "--untrained", "--niter", "0", "--home", str(home),
                 "--no-progress"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    assert "sources are 'drums'" in captured.err and "separating again" in captured.err
    assert code == 0 and ClipStore(stems).sources == SOURCES
