"""GTZAN on a tiny copy in the published layout: only the fault-filtered split's excerpts are
prepared, each in its split; .au and .wav, genres/ and genres_original/; skips with reasons."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.data.prepare import prepare
from ssl_music_bench.errors import BenchError
from ssl_music_bench.tasks.gtzan import filtered_split

# id -> what its file holds; all but classical.00042 are in the published lists
FILES = {
    "blues.00029": "wav",  # train
    "classical.00030": "au",  # train, original Sun .au format
    "jazz.00054": "corrupt",  # train, corrupt in common copies
    "hiphop.00081": "wav",  # valid
    "blues.00000": "short",  # valid
    "blues.00012": "wav",  # test
    "rock.00010": "au",  # test
    "classical.00042": "wav",  # in none of the lists
}


def write_gtzan(root: Path, folder: str = "genres") -> None:
    rng = np.random.default_rng(0)
    for id, kind in FILES.items():
        genre = id.split(".")[0]
        path = root / folder / genre / f"{id}.{'au' if kind == 'au' else 'wav'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "corrupt":
            path.write_bytes(rng.bytes(3_000))
        else:
            samples = 11_025 if kind == "short" else 33_075
            audio = rng.uniform(-0.5, 0.5, samples).astype(np.float32)
            soundfile.write(path, audio, 22_050, format="AU" if kind == "au" else "WAV", subtype="PCM_16")


def test_published_split_sizes() -> None:
    split = filtered_split()
    assert {name: len(ids) for name, ids in split.items()} == {"train": 443, "valid": 197, "test": 290}
    assert len(set(split["train"]) | set(split["valid"]) | set(split["test"])) == 930
    assert "jazz.00054" in split["train"]


def test_prepare_gtzan_follows_the_filtered_split(tmp_path: Path) -> None:
    root, home = tmp_path / "gtzan", tmp_path / "home"
    write_gtzan(root)
    store = prepare(TASKS.get("gtzan").obj(), root, home, workers=1, progress=False)
    assert store.sample_rate == 22_050
    split = filtered_split()
    expected_ids = [(id, name) for name, ids in split.items() for id in ids]
    assert [(i.id, i.split) for i in store.manifest] == expected_ids  # every listed excerpt, no other
    assert all(i.labels == (i.id.split(".")[0],) for i in store.manifest)
    statuses = {i.id: i.status for i in store.manifest if i.status != "skipped: missing file"}
    assert statuses.pop("jazz.00054").startswith("skipped: corrupt audio: ")
    assert statuses == {"blues.00029": "ok", "classical.00030": "ok", "hiphop.00081": "ok",
                        "blues.00000": "skipped: too short: 0.50 s < 1.0 s", "blues.00012": "ok", "rock.00010": "ok"}
    assert all(i.length == 33_075 for i in store.items)
    data = TASKS.get("gtzan").obj().load(home, load_protocol("cpu"))
    ids = {name: [data.store.items[i].id for i in data.indices[name]] for name in ("train", "valid", "test")}
    assert ids == {"train": ["blues.00029", "classical.00030"], "valid": ["hiphop.00081"],
                   "test": ["blues.00012", "rock.00010"]}
    assert data.targets["train"].tolist() == [0, 1]
    assert data.targets["valid"].tolist() == [4] and data.targets["test"].tolist() == [0, 9]


def test_missing_audio_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "gtzan" / "blues").mkdir(parents=True)
    with pytest.raises(BenchError, match=r"missing genres/ \(or genres_original/\)\. Expected: genres/<genre>"):
        prepare(TASKS.get("gtzan").obj(), tmp_path / "gtzan", tmp_path / "home", progress=False)
    with pytest.raises(BenchError, match="has not been prepared.*bench prepare --task gtzan"):
        TASKS.get("gtzan").obj().load(tmp_path / "home", load_protocol("cpu"))


def test_bench_prepare_command_reads_the_kaggle_layout(tmp_path: Path) -> None:
    root = tmp_path / "Data"
    write_gtzan(root, folder="genres_original")
    env = {**os.environ, "BENCH_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    command = ["bench", "prepare", "--task", "gtzan", "--root", str(root), "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "prepared: train 2, valid 1, test 2" in result.stderr
    assert "jazz.00054 (train): corrupt audio" in result.stderr
    assert (tmp_path / "home" / "data" / "prepared" / "gtzan" / "store.json").is_file()


SLOW_DECODE_PLUGIN = '''
"""Test plugin: every decode takes 0.5 s and marks that decoding has begun, so that the test
can press Ctrl-C while `bench prepare` is at work."""
import time
from pathlib import Path

import ssl_music_bench.data.prepare as prepare

_decode = prepare.decode


def slow_decode(job):
    Path({mark!r}).touch()
    time.sleep(0.5)
    return _decode(job)


prepare.decode = slow_decode
'''


def test_ctrl_c_stops_prepare_cleanly_and_the_next_run_resumes(tmp_path: Path) -> None:
    """Ctrl-C goes to the whole foreground process group, workers included. The command must
    stop promptly (it hung before: workers interrupted mid-message), publish nothing, leave no
    process behind, and the next run must finish the store."""
    root, home, mark = tmp_path / "genres-root", tmp_path / "home", tmp_path / "decoding"
    write_gtzan(root)
    plugin = tmp_path / "slow_decode.py"
    plugin.write_text(SLOW_DECODE_PLUGIN.format(mark=str(mark)))
    env = {**os.environ, "BENCH_HOME": str(home), "COLUMNS": "200"}
    command = ["bench", "prepare", "--task", "gtzan", "--root", str(root), "--no-progress", "--workers", "2"]
    # A session of its own, so that the signal reaches exactly this command's processes.
    # SIGINT at its default, as in a terminal's foreground job: a test run started in the
    # background of a script inherits SIGINT ignored, and Python then never sees the Ctrl-C.
    run = subprocess.Popen([*command, "--plugin", str(plugin)], env=env, start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not mark.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mark.exists(), "decoding never started"
    os.killpg(run.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    try:
        _, stderr = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        raise AssertionError("bench prepare hung after Ctrl-C")
    assert run.returncode == 130, stderr
    assert "interrupted" in stderr
    with pytest.raises(ProcessLookupError):  # no worker outlived the command
        os.killpg(run.pid, 0)
    prepared = home / "data" / "prepared"
    assert not (prepared / "gtzan" / "store.json").exists()

    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "prepared: train 2, valid 1, test 2" in result.stderr
