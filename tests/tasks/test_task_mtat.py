"""MagnaTagATune read from a tiny copy in its published format: split rule, labels, skips, CLI."""

from __future__ import annotations

import csv
import os
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.data.prepare import prepare
from ssl_music_bench.errors import BenchError
from ssl_music_bench.tasks.mtat import BAD_CLIPS, TOP50_TAGS, MagnaTagATune

OTHER_TAGS = ("heavy", "jazz", "trance")  # columns of the real csv that are not top-50 tags

# clip_id, mp3_path, tags (top-50 and others), what happens to the file
CLIPS = [
    ("2", "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59.mp3",
     ("classical", "harpsichord", "jazz"), "ok"),
    ("6", "0/rocket_city_riot-last_of_the_pleasure_seekers-01-under_the_bright_lights-0-29.mp3",
     ("guitar", "rock", "male vocal"), "ok"),
    ("10", "0/williamson-a_few_things-01-2_percent_er-30-59.mp3", ("heavy",), "ok"),  # no top-50 tag
    ("14", "c/lvx_nova-lvx_nova-01-contimune-30-59.mp3", ("techno", "electronic", "no vocals"), "ok"),
    ("19", "d/seismic_anamoly-afterburner-01-afterburner-0-29.mp3", ("rock",), "missing"),
    ("21", "d/electric_frankenstein-sick_songs-01-action_high-117-146.mp3", ("loud", "fast"), "corrupt"),
    ("35644", "c/jamie_janover-now_center_of_time-01-arc-30-59.mp3", ("piano",), "ok"),  # known bad: dropped
    ("25", "f/tilopa-turkishauch-01-1x3-0-29.mp3", ("female vocal", "choral", "new age"), "ok"),
    ("29", "b/janine_johnson-bach_goldberg_variations-01-aria-30-59.mp3", ("piano", "solo", "trance"), "ok"),
]
SPLITS = {"2": "test", "6": "train", "10": "train", "14": "valid", "19": "test", "21": "test", "25": "test",
          "29": "train"}


def top50(tags: tuple[str, ...]) -> list[str]:
    return [tag for tag in TOP50_TAGS if tag in tags]


def write_mtat(root: Path, quoted: bool) -> None:
    """annotations_final.csv (TAB-separated, tag columns in a shuffled order) and the mp3 folders."""
    root.mkdir(parents=True)
    columns = [*TOP50_TAGS, *OTHER_TAGS]
    random.Random(0).shuffle(columns)
    rng = np.random.default_rng(0)
    with open(root / "annotations_final.csv", "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL,
                            lineterminator="\r\n" if quoted else "\n")
        writer.writerow(["clip_id", *columns, "mp3_path"])
        for clip_id, mp3_path, tags, state in CLIPS:
            writer.writerow([clip_id, *("1" if c in tags else "0" for c in columns), mp3_path])
            path = root / mp3_path
            path.parent.mkdir(exist_ok=True)
            if state == "ok":
                seconds = 1.5 + 0.25 * rng.random()
                soundfile.write(path, rng.uniform(-0.3, 0.3, int(16_000 * seconds)).astype(np.float32), 16_000,
                                format="MP3")
            elif state == "corrupt":
                path.write_bytes(rng.bytes(3_000))


def test_top50_tags_are_the_standard_fifty() -> None:
    assert len(TOP50_TAGS) == 50 and len(set(TOP50_TAGS)) == 50
    assert TOP50_TAGS[:3] == ("guitar", "classical", "slow") and TOP50_TAGS[-1] == "choral"
    assert BAD_CLIPS == {"35644", "55753", "57881"}


@pytest.mark.parametrize("quoted", [True, False], ids=["quoted", "unquoted"])
def test_prepare_mtat(tmp_path: Path, quoted: bool) -> None:
    root, home = tmp_path / "mtat", tmp_path / "home"
    write_mtat(root, quoted)
    task = TASKS.get("mtat").obj()
    store = prepare(task, root, home, workers=1, progress=False)

    expected_ids = [clip_id for clip_id, *_ in CLIPS if clip_id != "35644"]
    assert [info.id for info in store.manifest] == expected_ids  # the known bad clip is not listed
    assert {info.id: info.split for info in store.manifest} == SPLITS
    assert {info.id: list(info.labels) for info in store.manifest} == {
        clip_id: top50(tags) for clip_id, _, tags, _ in CLIPS if clip_id != "35644"
    }
    statuses = {info.id: info.status for info in store.manifest}
    assert statuses.pop("19") == "skipped: missing file"
    assert statuses.pop("21").startswith("skipped: corrupt audio")
    assert set(statuses.values()) == {"ok"}
    assert store.sample_rate == 16_000
    assert all(1.4 < info.seconds < 1.9 for info in store.items)
    assert store.items[0].extra == {"mp3_path": CLIPS[0][1]}

    protocol = load_protocol("cpu")
    data = task.load(home, protocol)
    for split in ("train", "valid", "test"):
        ids = [store.items[i].id for i in data.indices[split]]
        assert ids == [i for i in expected_ids if SPLITS[i] == split and i not in ("19", "21")]
        assert data.targets[split].shape == (len(ids), 50)
        tags = {clip_id: tags for clip_id, _, tags, _ in CLIPS}
        for row, clip_id in enumerate(ids):
            assert [TOP50_TAGS[j] for j in data.targets[split][row].nonzero().flatten().tolist()] == top50(tags[clip_id])
    assert "10" in [store.items[i].id for i in data.indices["train"]]

    filtered = TASKS.get("mtat-filtered").obj().load(home, protocol)
    assert [filtered.store.items[i].id for i in filtered.indices["train"]] == ["6", "29"]  # "10" has no top-50 tag
    assert filtered.targets["test"].shape == (2, 50) and filtered.targets["valid"].shape == (1, 50)


def test_csv_and_audio_in_an_mp3_folder(tmp_path: Path) -> None:
    write_mtat(tmp_path / "mtat" / "mp3", quoted=True)
    items = list(MagnaTagATune().items(tmp_path / "mtat"))
    MagnaTagATune().check_root(tmp_path / "mtat")
    assert len(items) == len(CLIPS) - 1 and items[0].path == tmp_path / "mtat" / "mp3" / CLIPS[0][1]


def test_missing_files_are_named(tmp_path: Path) -> None:
    task = TASKS.get("mtat").obj()
    with pytest.raises(BenchError, match="the folder itself"):
        prepare(task, tmp_path / "nowhere", tmp_path / "home", workers=1, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="missing annotations_final.csv.*mirg.city.ac.uk"):
        prepare(task, tmp_path / "empty", tmp_path / "home", workers=1, progress=False)
    (tmp_path / "empty" / "annotations_final.csv").write_text("clip_id\tguitar\tmp3_path\n")
    with pytest.raises(BenchError, match="mp3 folders"):
        prepare(task, tmp_path / "empty", tmp_path / "home", workers=1, progress=False)
    (tmp_path / "empty" / "0").mkdir()
    with pytest.raises(BenchError, match="does not look like MagnaTagATune.*'classical'"):
        prepare(task, tmp_path / "empty", tmp_path / "home", workers=1, progress=False)
    with pytest.raises(BenchError, match="has not been prepared.*bench prepare --task mtat-filtered"):
        TASKS.get("mtat-filtered").obj().load(tmp_path / "home", load_protocol("cpu"))


def test_bench_prepare_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, home = tmp_path / "mtat", tmp_path / "home"
    write_mtat(root, quoted=True)
    env = {**os.environ, "BENCH_HOME": str(home), "COLUMNS": "200"}
    command = ["bench", "prepare", "--task", "mtat", "--root", str(root), "--no-progress"]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "prepared: train 3, valid 1, test 2" in first.stderr
    assert "19 (test): missing file" in first.stderr and "21 (test): corrupt audio" in first.stderr
    assert (home / "data" / "prepared" / "mtat" / "store.json").is_file()
    # the second run in-process: a `bench` start costs seconds of imports, and the code path is the same
    assert main(["prepare", "--task", "mtat-filtered", "--root", str(root), "--no-progress", "--home", str(home)]) == 0
    assert "nothing to do" in capsys.readouterr().err
