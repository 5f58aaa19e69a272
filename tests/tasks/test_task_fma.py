"""FMA tasks on a tiny copy in the published layout: tracks.csv's two header levels, mp3 audio,
skipped faulty tracks, fma-medium including small tracks from either audio folder."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.data.prepare import prepare
from ssl_music_bench.errors import BenchError
from ssl_music_bench.tasks.fma import MEDIUM_GENRES, SMALL_GENRES, read_tracks

COLUMNS = [("album", "title"), ("album", "comments"), ("artist", "name"), ("set", "split"), ("set", "subset"),
           ("track", "genre_top"), ("track", "title")]
# (track id, split, subset, genre_top, audio): where its mp3 lies and what it holds
TRACKS = [
    (2, "training", "small", "Hip-Hop", "small"),
    (5, "training", "small", "Hip-Hop", "both"),  # fma_medium's copy is 6 s, fma_small's 5.5 s
    (10, "validation", "small", "Pop", "small"),
    (20, "training", "medium", "Jazz", "medium"),
    (26, "test", "medium", "Old-Time / Historic", "medium"),
    (30, "training", "large", "", "none"),  # large only, no genre_top: in neither task
    (111, "test", "medium", "Soul-RnB", "none"),
    (140, "test", "small", "Folk", "small"),
    (98565, "training", "small", "Rock", "short"),
    (99134, "test", "small", "Electronic", "none"),
    (108925, "validation", "small", "Experimental", "corrupt"),
]


def write_tracks_csv(path: Path, blank_continuation: bool = False, columns: list[tuple[str, str]] = COLUMNS) -> None:
    """tracks.csv as pandas writes a two-level header with an index name (optionally with blank
    cells where a top-level name continues)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    top = [name if not (blank_continuation and i and columns[i - 1][0] == name) else ""
           for i, (name, _) in enumerate(columns)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", *top])
        writer.writerow(["", *(sub for _, sub in columns)])
        writer.writerow(["track_id", *([""] * len(columns))])
        for track, split, subset, genre, _ in TRACKS:
            values = {("album", "title"): f'Album, "{track}"', ("album", "comments"): "line one\nline two, ü",
                      ("artist", "name"): "AWOL", ("set", "split"): split, ("set", "subset"): subset,
                      ("track", "genre_top"): genre, ("track", "title"): "Food"}
            writer.writerow([track, *(values.get(column, "") for column in columns)])


def write_mp3(path: Path, seconds: float, rate: int = 22_050, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(len(str(path))).uniform(-0.3, 0.3, (int(seconds * rate), channels))
    soundfile.write(path, noise.astype(np.float32), rate, format="MP3")


@pytest.fixture(scope="module")
def fma_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fma")
    write_tracks_csv(root / "fma_metadata" / "tracks.csv")
    for track, _, _, _, audio in TRACKS:
        name = f"{track:06d}"
        small, medium = root / "fma_small" / name[:3] / f"{name}.mp3", root / "fma_medium" / name[:3] / f"{name}.mp3"
        if audio in ("small", "both"):
            write_mp3(small, 5.5, 44_100 if track == 2 else 22_050, 2 if track == 2 else 1)
        if audio in ("medium", "both"):
            write_mp3(medium, 6.0)
        if audio == "short":
            write_mp3(small, 1.3)
        if audio == "corrupt":
            small.parent.mkdir(parents=True, exist_ok=True)
            small.write_bytes(np.random.default_rng(1).bytes(4_000))
    return root


def test_read_tracks_both_header_styles(tmp_path: Path) -> None:
    for blank in (False, True):
        path = tmp_path / f"tracks-{blank}.csv"
        write_tracks_csv(path, blank_continuation=blank)
        rows = list(read_tracks(path))
        assert rows[0] == ("000002", "training", "small", "Hip-Hop")
        assert [row[0] for row in rows] == [f"{t[0]:06d}" for t in TRACKS]
        assert rows[4] == ("000026", "test", "medium", "Old-Time / Historic")


def test_prepare_fma_small(fma_root: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = prepare(TASKS.get("fma").obj(), fma_root, home, workers=1, progress=False)
    assert store.sample_rate == 22_050
    lines = [(i.id, i.split, i.labels, i.status) for i in store.manifest]
    assert lines[:4] == [("000002", "train", ("Hip-Hop",), "ok"), ("000005", "train", ("Hip-Hop",), "ok"),
                         ("000010", "valid", ("Pop",), "ok"), ("000140", "test", ("Folk",), "ok")]
    assert lines[4] == ("098565", "train", ("Rock",), "skipped: too short: 1.30 s < 5.0 s")
    assert lines[5] == ("099134", "test", ("Electronic",), "skipped: missing file")
    assert lines[6][:3] == ("108925", "valid", ("Experimental",)) and lines[6][3].startswith("skipped: corrupt audio: ")
    assert len(lines) == 7
    # 44.1 kHz stereo -> 22,050 Hz mono; the 22,050 Hz files are stored as they are
    assert [i.length for i in store.items] == [121_275] * 4 and store.items[0].extra == {"subset": "small"}
    data = TASKS.get("fma").obj().load(home, load_protocol("cpu"))
    assert data.label_names == SMALL_GENRES
    assert data.targets["train"].tolist() == [3, 3]
    assert data.targets["valid"].tolist() == [6] and data.targets["test"].tolist() == [2]


def test_prepare_fma_medium_includes_small_tracks(fma_root: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = prepare(TASKS.get("fma-medium").obj(), fma_root, home, workers=1, progress=False)
    assert [(i.id, i.split, i.status) for i in store.manifest if not i.status.startswith("skipped: corrupt")] == [
        ("000002", "train", "ok"), ("000005", "train", "ok"), ("000010", "valid", "ok"), ("000020", "train", "ok"),
        ("000026", "test", "ok"), ("000111", "test", "skipped: missing file"), ("000140", "test", "ok"),
        ("098565", "train", "skipped: too short: 1.30 s < 5.0 s"), ("099134", "test", "skipped: missing file"),
    ]
    assert [i.id for i in store.manifest if i.status.startswith("skipped: corrupt audio: ")] == ["108925"]
    lengths = {i.id: i.length for i in store.items}
    assert lengths["000005"] == 132_300 and lengths["000002"] == 121_275  # fma_medium's copy first, else fma_small
    data = TASKS.get("fma-medium").obj().load(home, load_protocol("cpu"))
    assert data.label_names == MEDIUM_GENRES and data.num_labels == 16
    assert data.targets["train"].tolist() == [7, 7, 10]  # Hip-Hop, Hip-Hop, Jazz
    assert data.targets["valid"].tolist() == [12]  # Pop
    assert data.targets["test"].tolist() == [11, 6]  # Old-Time / Historic, Folk


def test_missing_and_malformed_metadata(tmp_path: Path) -> None:
    small, medium = TASKS.get("fma").obj(), TASKS.get("fma-medium").obj()
    root, home = tmp_path / "fma", tmp_path / "home"
    root.mkdir()
    with pytest.raises(BenchError, match=r"missing fma_metadata/tracks\.csv, fma_small/\. Expected: fma_metadata"):
        prepare(small, root, home, progress=False)
    (root / "fma_small").mkdir()
    with pytest.raises(BenchError, match=r"missing fma_metadata/tracks\.csv\. Expected"):
        prepare(small, root, home, progress=False)
    write_tracks_csv(root / "fma_metadata" / "tracks.csv", columns=[c for c in COLUMNS if c != ("set", "subset")])
    with pytest.raises(BenchError, match=r"missing fma_medium/\. Expected: fma_metadata/tracks\.csv .*fma_medium"):
        prepare(medium, root, home, progress=False)
    with pytest.raises(BenchError, match=r"tracks\.csv lacks the column\(s\) set/subset"):
        prepare(small, root, home, progress=False)
    with pytest.raises(BenchError, match="has not been prepared.*bench prepare --task fma-medium"):
        medium.load(home, load_protocol("cpu"))
