"""`bench prepare`'s core on a toy dataset: skips with reasons, resume, nothing to do twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS, register_task
from ssl_music_bench.contracts.task import PreparedTask, SourceItem
from ssl_music_bench.data.prepare import prepare
from ssl_music_bench.data.store import ClipStore, ClipStoreWriter
from ssl_music_bench.errors import BenchError
from ssl_music_bench.home import prepared_path


class ToyTask(PreparedTask):
    """A toy dataset: one wav per line of list.txt ("id split label")."""

    kind = "multiclass"
    store_name = "toy"
    store_rate = 8_000
    min_seconds = 0.5
    label_names = ("a", "b")
    expected = "list.txt and wav/<id>.wav."

    def check_root(self, root: Path) -> None:
        if not (root / "list.txt").is_file():
            raise self.missing(root, "list.txt")

    def items(self, root: Path) -> Iterator[SourceItem]:
        for line in (root / "list.txt").read_text().splitlines():
            id, split, label = line.split()
            yield SourceItem(id, split, (label,), root / "wav" / f"{id}.wav", {"origin": "toy"})


@pytest.fixture()
def toy_task() -> Iterator[ToyTask]:
    register_task("toy")(ToyTask)
    yield ToyTask()
    TASKS.unregister("toy")


def write_toy(root: Path) -> None:
    (root / "wav").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(6):
        split = ("train", "train", "train", "valid", "test", "test")[i]
        lines.append(f"ok{i} {split} {'ab'[i % 2]}")
        soundfile.write(root / "wav" / f"ok{i}.wav", rng.uniform(-0.5, 0.5, (16_000 + 100 * i, 2)), 16_000)
    lines += ["gone train a", "broken valid b", "short test a", "empty test b"]
    (root / "wav" / "broken.wav").write_bytes(b"RIFF not really a wave file at all")
    soundfile.write(root / "wav" / "short.wav", np.zeros(1_000), 16_000)
    (root / "wav" / "empty.wav").write_bytes(b"")
    (root / "list.txt").write_text("\n".join(lines) + "\n")


def test_prepare_reports_and_skips_bad_files(tmp_path: Path, toy_task: ToyTask) -> None:
    root, home = tmp_path / "toy", tmp_path / "home"
    write_toy(root)
    store = prepare(toy_task, root, home, workers=1, progress=False)
    statuses = {info.id: info.status for info in store.manifest}
    assert statuses["gone"] == "skipped: missing file"
    assert statuses["broken"].startswith("skipped: corrupt audio")
    assert statuses["short"].startswith("skipped: too short")
    assert statuses["empty"] == "skipped: empty file"
    assert [info.id for info in store.items] == [f"ok{i}" for i in range(6)]
    assert store.sample_rate == 8_000
    assert store.items[1].length == 8_050  # 16,100 samples at 16 kHz -> 8 kHz, mono
    assert store.items[0].extra == {"origin": "toy"}
    data = toy_task.load(home, load_protocol("cpu"))
    assert data.indices["train"] == [0, 1, 2] and data.targets["train"].tolist() == [0, 1, 0]


def test_prepare_twice_does_nothing(tmp_path: Path, toy_task: ToyTask, capsys: pytest.CaptureFixture[str]) -> None:
    root, home = tmp_path / "toy", tmp_path / "home"
    write_toy(root)
    first = prepare(toy_task, root, home, workers=1, progress=False)
    stamp = (first.root / "manifest.jsonl").stat().st_mtime_ns
    prepare(toy_task, root, home, workers=1, progress=False)
    assert (first.root / "manifest.jsonl").stat().st_mtime_ns == stamp


def test_interrupted_prepare_resumes_to_the_same_store(tmp_path: Path, toy_task: ToyTask, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "toy"
    write_toy(root)
    reference = prepare(toy_task, root, tmp_path / "reference", workers=1, progress=False)
    home = tmp_path / "home"
    original_add = ClipStoreWriter.add
    calls = {"n": 0}

    def add_then_interrupt(self: ClipStoreWriter, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        original_add(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ClipStoreWriter, "add", add_then_interrupt)
    monkeypatch.setattr(ClipStoreWriter, "__init__", _small_shards(ClipStoreWriter.__init__))
    with pytest.raises(KeyboardInterrupt):
        prepare(toy_task, root, home, workers=1, progress=False)
    assert not (prepared_path(home, "toy") / "store.json").exists()  # nothing published
    partial = prepared_path(home, "toy").with_name("toy.partial")
    assert partial.is_dir() and list(partial.glob("mix-*.npy"))  # finished shards were kept
    monkeypatch.setattr(ClipStoreWriter, "add", original_add)
    resumed = prepare(toy_task, root, home, workers=1, progress=False)
    assert [i.id for i in resumed.manifest] == [i.id for i in reference.manifest]
    for index in range(len(reference)):
        assert np.array_equal(resumed.read(index), reference.read(index))


def _small_shards(init):  # type: ignore[no-untyped-def]
    def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["shard_samples"] = 8_000  # one clip per shard, so the interruption falls between shards
        init(self, *args, **kwargs)

    return wrapper


def test_missing_root_and_metadata(tmp_path: Path, toy_task: ToyTask) -> None:
    with pytest.raises(BenchError, match="missing the folder itself"):
        prepare(toy_task, tmp_path / "nowhere", tmp_path / "home", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="missing list.txt.*Expected: list.txt"):
        prepare(toy_task, tmp_path / "empty", tmp_path / "home", progress=False)
    with pytest.raises(BenchError, match="has not been prepared"):
        toy_task.load(tmp_path / "home", load_protocol("cpu"))


def test_store_writer_drops_an_unfinished_shard_on_resume(tmp_path: Path) -> None:
    root = tmp_path / "s"
    writer = ClipStoreWriter(root, 8_000, shard_samples=100)
    writer.add("a", "train", [], np.full(100, 0.1, dtype=np.float32))  # shard 0 flushed
    writer.add("b", "train", [], np.full(50, 0.2, dtype=np.float32))  # shard 1 pending
    writer._manifest.flush()
    del writer  # interrupted: no close()
    resumed = ClipStoreWriter(root, 8_000, shard_samples=100, resume=True)
    assert resumed.done_ids == {"a"}
    resumed.add("b", "train", [], np.full(50, 0.2, dtype=np.float32))
    store: ClipStore = resumed.close()
    assert [i.id for i in store.items] == ["a", "b"] and np.allclose(store.read(1), 0.2, atol=1e-4)


def test_store_writer_recovery_removes_only_the_shards_it_writes(tmp_path: Path) -> None:
    """On resume the writer drops shards past the last whole one and cut-off temporaries of its
    own names; a file of any other name in its folder is not its own and is left alone."""
    root = tmp_path / "s"
    writer = ClipStoreWriter(root, 8_000, shard_samples=100)
    writer.add("a", "train", [], np.full(100, 0.1, dtype=np.float32))  # shard 0 flushed
    writer._manifest.flush()
    del writer
    partial = root.with_name(root.name + ".partial")
    own = [partial / "mix-00003.npy", partial / "mix-00001.npy.tmp"]
    foreign = [partial / "notes.npy", partial / "vocals-00002.npy", partial / "x.npy.tmp"]
    for path in own + foreign:
        path.write_bytes(b"\x00")
    resumed = ClipStoreWriter(root, 8_000, shard_samples=100, resume=True)
    assert resumed.done_ids == {"a"}
    assert not any(path.exists() for path in own) and all(path.exists() for path in foreign)
