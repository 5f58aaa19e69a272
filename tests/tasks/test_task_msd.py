"""Million Song Dataset (last.fm top-50) read from a tiny copy in the musicnn-training format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.data.prepare import prepare
from ssl_music_bench.errors import BenchError
from ssl_music_bench.tasks.msd import MSD_TAGS, MillionSongDataset

# MSD id, gt file (None: in the index only), tags, audio: (rate, channels) / "missing" / "corrupt" / "unindexed"
TRACKS = [
    ("TRAAAAK128F9318786", "train", ("rock", "80s", "happy"), (22_050, 1)),
    ("TRAAAAW128F429D538", "train", ("pop",), (44_100, 2)),
    ("TRAAABD128F429CF47", "train", (), (22_050, 1)),  # an all-zero vector: in the split, no tag
    ("TRYOGXX128F42483A6", "val", ("catchy", "Hip-Hop"), (22_050, 1)),
    ("TRYOHDO128F42669A4", "val", ("jazz",), "unindexed"),  # in val_gt_msd.tsv, not in index_msd.tsv
    ("TRZZRTG128F936184E", "test", ("metal", "heavy metal"), "corrupt"),
    ("TRZZSEL128F92DEF79", "test", ("female vocalists", "Mellow"), (44_100, 1)),
    ("TRZZZZD128F4236844", "test", ("House",), "missing"),
    ("TRAAADJ128F4287B47", None, ("rock",), (22_050, 1)),  # in the index, in no split: not prepared
]
SPLIT_NAMES = {"train": "train", "val": "valid", "test": "test"}


def relative(msd_id: str) -> str:
    return f"{msd_id[2]}/{msd_id[3]}/{msd_id[4]}/{msd_id}.mp3"


def vector(tags: tuple[str, ...], floats: bool = False) -> str:
    values = [(1.0 if floats else 1) if tag in tags else (0.0 if floats else 0) for tag in MSD_TAGS]
    return str(values)  # "[0, 1, 0, ...]" as in the published files


def write_msd(root: Path) -> None:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    index, gt = [], {"train": [], "val": [], "test": []}
    for number, (msd_id, split, tags, audio) in enumerate(TRACKS):
        if split is not None:
            gt[split].append(f"{msd_id}\t{vector(tags, floats=number == 1)}")
        if audio == "unindexed":
            continue
        index.append(f"{msd_id}\t{relative(msd_id)}")
        path = root / relative(msd_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        if audio == "corrupt":
            path.write_bytes(rng.bytes(3_000))
        elif audio != "missing":
            rate, channels = audio
            soundfile.write(path, rng.uniform(-0.3, 0.3, (int(1.6 * rate), channels)).astype(np.float32), rate,
                            format="MP3")
    (root / "index_msd.tsv").write_text("\n".join(index) + "\n")
    for split, lines in gt.items():
        (root / f"{split}_gt_msd.tsv").write_text("\n".join(lines) + "\n")


def test_tags_are_the_standard_fifty() -> None:
    assert len(MSD_TAGS) == 50 and len(set(MSD_TAGS)) == 50
    assert MSD_TAGS[:3] == ("rock", "pop", "alternative") and MSD_TAGS[-1] == "happy"


def test_prepare_msd(tmp_path: Path) -> None:
    root, home = tmp_path / "msd", tmp_path / "home"
    write_msd(root)
    task = TASKS.get("msd").obj()
    store = prepare(task, root, home, workers=1, progress=False)

    in_split = [(msd_id, SPLIT_NAMES[split], tags) for msd_id, split, tags, _ in TRACKS if split is not None]
    assert [info.id for info in store.manifest] == [msd_id for msd_id, _, _ in in_split]
    assert {info.id: info.split for info in store.manifest} == {msd_id: split for msd_id, split, _ in in_split}
    assert {info.id: list(info.labels) for info in store.manifest} == {
        msd_id: [tag for tag in MSD_TAGS if tag in tags] for msd_id, _, tags in in_split
    }
    statuses = {info.id: info.status for info in store.manifest}
    assert statuses.pop("TRYOHDO128F42669A4") == "skipped: missing file"  # not in the index
    assert statuses.pop("TRZZZZD128F4236844") == "skipped: missing file"
    assert statuses.pop("TRZZRTG128F936184E").startswith("skipped: corrupt audio")
    assert set(statuses.values()) == {"ok"}
    assert store.sample_rate == 16_000
    assert all(abs(info.length - 1.6 * 16_000) < 0.06 * 16_000 for info in store.items)  # 22.05/44.1 kHz -> 16 kHz
    assert store.items[0].extra == {"path": relative(TRACKS[0][0])}

    data = task.load(home, load_protocol("cpu"))
    expected = {msd_id: tags for msd_id, _, tags in in_split}
    for split, count in (("train", 3), ("valid", 1), ("test", 1)):
        ids = [store.items[i].id for i in data.indices[split]]
        assert len(ids) == count and data.targets[split].shape == (count, 50)
        for row, msd_id in enumerate(ids):
            assert data.targets[split][row].tolist() == [float(tag in expected[msd_id]) for tag in MSD_TAGS]

    assert main(["prepare", "--task", "msd", "--root", str(root), "--no-progress", "--home", str(home)]) == 0


def test_missing_metadata_files_are_named(tmp_path: Path) -> None:
    task = TASKS.get("msd").obj()
    root = tmp_path / "msd"
    root.mkdir()
    (root / "index_msd.tsv").write_text("")
    (root / "val_gt_msd.tsv").write_text("")
    with pytest.raises(BenchError, match=r"missing train_gt_msd\.tsv, test_gt_msd\.tsv\..*musicnn-training.*own copy"):
        prepare(task, root, tmp_path / "home", workers=1, progress=False)
    with pytest.raises(BenchError, match="the folder itself"):
        prepare(task, tmp_path / "nowhere", tmp_path / "home", workers=1, progress=False)


def test_malformed_or_duplicated_lines_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "msd"
    write_msd(root)
    (root / "test_gt_msd.tsv").write_text("TRZZSEL128F92DEF79\t[0, 1, 0]\n")
    with pytest.raises(BenchError, match=r"test_gt_msd\.tsv, line 1: expected MSD_ID<TAB>\[50 numbers\]"):
        list(MillionSongDataset().items(root))
    (root / "test_gt_msd.tsv").write_text(f"TRAAAAK128F9318786\t{vector(('rock',))}\n")
    with pytest.raises(BenchError, match="TRAAAAK128F9318786 is also in the train split"):
        list(MillionSongDataset().items(root))
    (root / "test_gt_msd.tsv").write_text(f"TRZZSEL128F92DEF79\t{vector(('sad',)).replace(',', '')}\n")  # numpy style
    assert list(MillionSongDataset().items(root))[-1].labels == ("sad",)
