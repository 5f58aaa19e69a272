"""`bench prepare` on files a user can get wrong: each is skipped with a reason to act on, never read
when it is no file (a device, a pipe), and never stops the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ssl_music_bench.contracts.registry import TASKS, register_task
from ssl_music_bench.contracts.task import PreparedTask, SourceItem
from ssl_music_bench.data.audio import unusable_audio
from ssl_music_bench.data.prepare import prepare

RATE = 8_000


class Listed(PreparedTask):
    """Every file under wav/ is one item, in name order."""

    kind = "multiclass"
    store_name = "hostile"
    store_rate = RATE
    min_seconds = 0.5
    label_names = ("a",)
    expected = "wav/<id>.wav."

    def check_root(self, root: Path) -> None:
        pass

    def items(self, root: Path) -> Iterator[SourceItem]:
        for path in sorted((root / "wav").iterdir()):
            yield SourceItem(path.name.removesuffix(".wav"), "train", ("a",), path)


@pytest.fixture()
def task() -> Iterator[Listed]:
    register_task("hostile")(Listed)
    yield Listed()
    TASKS.unregister("hostile")


def write_hostile(root: Path) -> None:
    wav = root / "wav"
    wav.mkdir(parents=True)
    soundfile.write(wav / "good.wav", np.full(RATE, 0.25), RATE)
    nan = np.full(RATE, 0.25, dtype=np.float32)
    nan[10:20] = np.nan
    soundfile.write(wav / "nan.wav", nan, RATE, subtype="FLOAT")
    inf = np.full(RATE, 0.25, dtype=np.float32)
    inf[5] = np.inf
    soundfile.write(wav / "inf.wav", inf, RATE, subtype="FLOAT")
    soundfile.write(wav / "one-hertz.wav", np.full(200, 0.25), 1)  # a 200 s "clip" by its header
    soundfile.write(wav / "no-samples.wav", np.zeros(0), RATE)  # a header and nothing else
    (wav / "empty.wav").write_bytes(b"")
    (wav / "dangling.wav").symlink_to(root / "moved-away.wav")
    (wav / "folder.wav").mkdir()
    (wav / "zero.wav").symlink_to("/dev/zero")
    os.mkfifo(wav / "pipe.wav")  # opening it for reading would wait for a writer forever
    (wav / "linked.wav").symlink_to(wav / "good.wav")  # a link to a good file is a good file


def test_each_hostile_file_is_skipped_with_its_reason(tmp_path: Path, task: Listed) -> None:
    root = tmp_path / "dataset"
    write_hostile(root)
    store = prepare(task, root, tmp_path / "home", workers=1, progress=False)
    reasons = {info.id: info.status.removeprefix("skipped: ") for info in store.manifest}
    assert [info.id for info in store.items] == ["good", "linked"]
    assert reasons["nan"] == "unusable audio: 10 of its samples are NaN or infinite"
    assert reasons["inf"] == "unusable audio: 1 of its samples are NaN or infinite"
    assert reasons["one-hertz"].startswith("unusable audio: its sample rate is 1 Hz, below 1000 Hz")
    assert reasons["no-samples"] == "unusable audio: it holds no samples"
    assert reasons["empty"] == "empty file"
    assert reasons["dangling"] == f"a symbolic link to {root / 'moved-away.wav'}, which does not exist"
    assert reasons["folder"] == "a directory, not an audio file"
    assert reasons["zero"] == "a symbolic link to /dev/zero, not a regular file (a device)"
    assert reasons["pipe"] == "not a regular file (a named pipe)"


def test_prepare_gives_the_reasons_bench_embed_gives(tmp_path: Path, task: Listed) -> None:
    """Both commands judge decoded audio with data.audio.unusable_audio."""
    root = tmp_path / "dataset"
    write_hostile(root)
    store = prepare(task, root, tmp_path / "home", workers=1, progress=False)
    reasons = {info.id: info.status for info in store.manifest}
    for name in ("nan", "inf", "one-hertz", "no-samples"):
        audio, rate = soundfile.read(root / "wav" / f"{name}.wav", dtype="float32")
        assert reasons[name] == f"skipped: unusable audio: {unusable_audio(audio, rate)}"


def test_the_report_lists_every_skipped_file(tmp_path: Path, task: Listed, capsys: pytest.CaptureFixture[str]) -> None:
    from ssl_music_bench.cli import main

    root = tmp_path / "dataset"
    write_hostile(root)
    code = main(["prepare", "--task", "hostile", "--root", str(root), "--home", str(tmp_path / "home"),
                 "--workers", "1", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0 and captured.out == "" and "Traceback" not in captured.err
    assert "skipped 9 item(s)" in captured.err and "zero (train): a symbolic link to /dev/zero" in captured.err
