"""A full disk is one paragraph (which directory, how much was needed) and leaves no .partial behind.

The disk fills up by fault injection: the writer (numpy's save, a file's write, fsync) raises
OSError(ENOSPC) at its n-th call. One test fills a real 20 MB tmpfs, where the sandbox may mount one.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import torch
from filelock import FileLock

import ssl_music_bench.data.store as store_module
from ssl_music_bench.contracts.registry import TASKS, register_task
from ssl_music_bench.contracts.task import PreparedTask, SourceItem
from ssl_music_bench.data.prepare import prepare
from ssl_music_bench.data.separate import separate_store
from ssl_music_bench.data.store import ClipStore, ClipStoreWriter
from ssl_music_bench.data.synthetic_corpus import ensure_corpus
from ssl_music_bench.errors import BenchError
from ssl_music_bench.home import prepared_path, synth_store_path
from ssl_music_bench.io import published_directory, write_bytes_atomic


def enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def failing_at(call: int, writer: Callable[..., Any]) -> Callable[..., Any]:
    """``writer`` that raises ENOSPC at its ``call``-th call (1-based) and at every later one."""
    calls = {"n": 0}

    def write(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] >= call:
            raise enospc()
        return writer(*args, **kwargs)

    return write


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith((".partial", ".tmp"))]


def assert_one_paragraph(error: BaseException, directory: Path) -> None:
    message = str(error)
    assert f"The disk holding {directory} is full" in message and "were free there when it failed" in message, message
    assert "Free space on that disk" in message and "\n" not in message


def test_an_atomic_write_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "record.json"
    target.write_text("old")
    monkeypatch.setattr(os, "fsync", failing_at(1, os.fsync))
    with pytest.raises(BenchError) as error:
        write_bytes_atomic(target, b"x" * 2_000_000)
    assert_one_paragraph(error.value, tmp_path)
    assert "writing record.json failed (that write needed 2.0 MB;" in str(error.value)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_a_published_directory_leaves_no_partial_on_any_failure(tmp_path: Path) -> None:
    final = tmp_path / "out"
    with pytest.raises(BenchError) as error, published_directory(final) as partial:
        (partial / "weights").write_bytes(b"half")
        raise enospc()
    assert_one_paragraph(error.value, tmp_path)
    assert "out (0.0 MB of it were written when the disk filled)" in str(error.value)
    with pytest.raises(RuntimeError, match="bug"), published_directory(final) as partial:
        (partial / "weights").write_bytes(b"half")
        raise RuntimeError("bug")
    assert list(tmp_path.iterdir()) == []
    with published_directory(final) as partial:
        (partial / "weights").write_bytes(b"v1")
    with published_directory(final) as partial:
        (partial / "weights").write_bytes(b"v2")  # replaces v1 whole
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (final / "weights").read_bytes() == b"v2"


class FullFile:
    """A manifest file on a disk that fills up: writes fail from the n-th on, and so does the
    close that flushes them (as a real buffered file does)."""

    def __init__(self, handle: Any, fail_from: int) -> None:
        self.handle, self.fail_from, self.writes = handle, fail_from, 0

    def write(self, text: str) -> int:
        self.writes += 1
        if self.writes >= self.fail_from:
            raise enospc()
        return self.handle.write(text)

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()
        if self.writes >= self.fail_from:
            raise enospc()


def test_a_full_manifest_reports_the_first_error_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "open", lambda *a, **k: FullFile(open(*a, **k), 3), raising=False)
    with pytest.raises(BenchError) as error:
        with ClipStoreWriter(tmp_path / "store", 8_000) as writer:
            for index in range(5):
                writer.add(f"c{index}", "train", [], np.zeros(100, dtype=np.float32))
    assert_one_paragraph(error.value, tmp_path)
    assert "writing the manifest of the clip store store" in str(error.value)
    assert error.value.__context__ is None or not isinstance(error.value.__context__, BenchError)
    assert list(tmp_path.iterdir()) == []


def test_the_synthetic_corpus_on_a_full_disk(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(np, "save", failing_at(2, np.save))  # the second shard does not fit
    with pytest.raises(BenchError) as error:
        ensure_corpus(home, "notes", "tiny", verbose=False)
    data = home / "data"
    assert_one_paragraph(error.value, data)
    assert "the shard mix-00001.npy of the clip store synth-notes-tiny-seed0 (after 9.6 MB of its audio)" in str(
        error.value)
    assert leftovers(home) == [] and not synth_store_path(home, "notes", "tiny", 0).exists()
    monkeypatch.undo()
    assert len(ensure_corpus(home, "notes", "tiny", verbose=False)) == 88  # space freed: it goes through


def test_a_corpus_that_cannot_fit_is_refused_before_writing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl_music_bench.data.synth.render as render

    usage = shutil.disk_usage(home.parent)
    monkeypatch.setattr(render.shutil, "disk_usage", lambda path: usage._replace(free=5_000_000))
    with pytest.raises(BenchError, match=r"corpus \(tiny\) needs 25.6 MB in .* only 5.0 MB are free"):
        ensure_corpus(home, "songs", "tiny", verbose=False)
    assert [p.name for p in (home / "data").iterdir()] == ["synth-songs-tiny-seed0.lock"]


def test_stale_partials_are_cleared_unless_in_use(home: Path) -> None:
    data = home / "data"
    stale = data / "synth-songs-default-seed0.partial"
    busy = data / "synth-notes-default-seed0.partial"
    replaced = data / "synth-notes-tiny-seed0.replaced.partial"
    for folder in (stale, busy, replaced):
        folder.mkdir(parents=True)
        (folder / "mix-00000.npy").write_bytes(b"\x00" * 1000)
    mine = data / "my-notes.partial"  # not a name the tool gives: never touched
    mine.write_text("the user's")
    with FileLock(data / "synth-notes-default-seed0.lock"):  # another process is generating it
        ensure_corpus(home, "notes", "tiny", verbose=False)
    assert not stale.exists() and not replaced.exists()
    assert (busy / "mix-00000.npy").is_file() and mine.read_text() == "the user's"


class Toy(PreparedTask):
    """Six one-second wav files."""

    kind = "multiclass"
    store_name = "toy-full"
    store_rate = 8_000
    min_seconds = 0.1
    label_names = ("a",)
    expected = "wav/<id>.wav."

    def check_root(self, root: Path) -> None:
        pass

    def items(self, root: Path) -> Iterator[SourceItem]:
        for index in range(6):
            yield SourceItem(f"x{index}", ("train", "valid", "test")[index % 3], ("a",), root / f"x{index}.wav")


@pytest.fixture()
def toy(tmp_path: Path) -> Iterator[tuple[Toy, Path]]:
    root = tmp_path / "dataset"
    root.mkdir()
    for index in range(6):
        soundfile.write(root / f"x{index}.wav", np.full(8_000, 0.01 * index), 8_000)
    register_task("toy-full")(Toy)
    yield Toy(), root
    TASKS.unregister("toy-full")


def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    init = ClipStoreWriter.__init__

    def one_clip_per_shard(self: ClipStoreWriter, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **{**kwargs, "shard_samples": 8_000})

    monkeypatch.setattr(ClipStoreWriter, "__init__", one_clip_per_shard)


def test_bench_prepare_on_a_full_disk(tmp_path: Path, toy: tuple[Toy, Path], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from ssl_music_bench.cli import main

    task, root = toy
    home = tmp_path / "home"
    small_shards(monkeypatch)
    monkeypatch.setattr(np, "save", failing_at(4, np.save))
    code = main(["prepare", "--task", "toy-full", "--root", str(root), "--home", str(home), "--workers", "1",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "error:" in err and "is full" in err
    assert "the shard mix-00003.npy of the clip store toy-full" in " ".join(err.split())
    assert leftovers(home) == [] and not prepared_path(home, "toy-full").exists()
    monkeypatch.undo()
    small_shards(monkeypatch)
    assert len(prepare(task, root, home, workers=1, progress=False)) == 6


class Halver(torch.nn.Module):
    """A stand-in separator: every target is half the mixture."""

    def __init__(self) -> None:
        super().__init__()
        self.target_models = torch.nn.ModuleDict({t: torch.nn.Identity() for t in ("vocals", "drums", "bass", "other")})
        self.register_buffer("sample_rate", torch.as_tensor(16_000.0))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return audio.unsqueeze(1).expand(-1, 4, -1, -1) / 2


def test_bench_separate_on_a_full_disk_removes_its_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ClipStoreWriter(tmp_path / "mixtures", 16_000) as writer:
        for index in range(3):
            writer.add(f"c{index}", "train", [], np.full(16_000 * (index + 1), 0.1, dtype=np.float32))
    mixtures = ClipStore(tmp_path / "mixtures")
    monkeypatch.setattr(np, "save", failing_at(2, np.save))
    with pytest.raises(BenchError) as error:
        separate_store(mixtures, tmp_path / "stems", separator=Halver(), device=torch.device("cpu"))
    assert_one_paragraph(error.value, tmp_path)
    assert "separated stems batch-00000001.npy" in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixtures"]


def can_mount_tmpfs(point: Path) -> bool:
    point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(point)], capture_output=True)
    return mounted.returncode == 0


def test_a_real_20_mb_disk_fills_up_and_is_given_back(tmp_path: Path) -> None:
    point = tmp_path / "small-disk"
    if os.geteuid() != 0 or not can_mount_tmpfs(point):
        pytest.skip("mounting a 20 MB tmpfs needs root and a kernel that allows it")
    try:
        home = point / "home"
        (home / "data").mkdir(parents=True)
        audio = 88 * 64_000 * 2  # the tiny notes corpus: it passes the free-space check, then fills the disk
        (point / "filler").write_bytes(b"\x00" * (shutil.disk_usage(point).free - audio - 4096))
        free_before = shutil.disk_usage(point).free
        with pytest.raises(BenchError) as error:
            ensure_corpus(home, "notes", "tiny", verbose=False)
        assert_one_paragraph(error.value, home / "data")
        assert leftovers(point) == [] and shutil.disk_usage(point).free == free_before
    finally:
        subprocess.run(["umount", str(point)], check=True)
