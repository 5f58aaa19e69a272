"""NSynth tasks on a tiny copy in the published layout: manifest, skips, shared store, pitch range."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import TASKS
from ssl_music_bench.data.prepare import prepare
from ssl_music_bench.errors import BenchError
from ssl_music_bench.home import prepared_path

FAMILY_INDEX = {"bass": 0, "guitar": 3, "keyboard": 4, "reed": 7, "string": 8, "synth_lead": 9, "vocal": 10}
# (note_str, split, family, pitch, audio): "ok" = 1.5 s wav, "short" = 0.5 s, "corrupt" = random bytes, None = no file
NOTES = [
    ("bass_synthetic_033-060-100", "train", "bass", 60, "ok"),
    ("guitar_acoustic_010-021-075", "train", "guitar", 21, "ok"),
    ("vocal_synthetic_003-108-127", "train", "vocal", 108, "ok"),
    ("keyboard_electronic_001-009-050", "train", "keyboard", 9, "ok"),  # below the piano range
    ("reed_acoustic_011-064-025", "train", "reed", 64, None),
    ("string_acoustic_012-070-100", "valid", "string", 70, "ok"),
    ("synth_lead_synthetic_000-071-050", "valid", "synth_lead", 71, "corrupt"),
    ("guitar_electronic_022-120-127", "test", "guitar", 120, "ok"),  # above the piano range
    ("bass_electronic_018-040-100", "test", "bass", 40, "ok"),
    ("reed_acoustic_023-050-075", "test", "reed", 50, "short"),
]


def write_nsynth(root: Path) -> None:
    rng = np.random.default_rng(0)
    examples: dict[str, dict[str, dict[str, object]]] = {"train": {}, "valid": {}, "test": {}}
    for split in examples:
        (root / f"nsynth-{split}" / "audio").mkdir(parents=True)
    for index, (note_str, split, family, pitch, audio) in enumerate(NOTES):
        instrument_str = note_str.rsplit("-", 2)[0]
        velocity = int(note_str.rsplit("-", 1)[1])
        examples[split][note_str] = {
            "note": index, "note_str": note_str, "instrument": index, "instrument_str": instrument_str,
            "pitch": pitch, "velocity": velocity, "sample_rate": 16000, "qualities": [0] * 10,
            "qualities_str": [], "instrument_family": FAMILY_INDEX[family], "instrument_family_str": family,
            "instrument_source": 1, "instrument_source_str": "electronic",
        }
        path = root / f"nsynth-{split}" / "audio" / f"{note_str}.wav"
        if audio == "ok":
            soundfile.write(path, rng.uniform(-0.5, 0.5, 24_000).astype(np.float32), 16_000, subtype="PCM_16")
        elif audio == "short":
            soundfile.write(path, np.zeros(8_000, dtype=np.float32), 16_000, subtype="PCM_16")
        elif audio == "corrupt":
            path.write_bytes(rng.bytes(5_000))
    for split, notes in examples.items():
        (root / f"nsynth-{split}" / "examples.json").write_text(json.dumps(notes, indent=2))


@pytest.fixture(scope="module")
def nsynth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nsynth")
    write_nsynth(root)
    return root


def test_prepare_nsynth_manifest_and_family_targets(nsynth_root: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = prepare(TASKS.get("nsynth").obj(), nsynth_root, home, workers=1, progress=False)
    assert store.sample_rate == 16_000
    lines = [(i.id, i.split, i.labels, i.status) for i in store.manifest]
    statuses = [status for *_, status in lines]
    assert [line[:3] for line in lines] == [(n, s, (f,)) for n, s, f, _, _ in NOTES]
    assert statuses[4] == "skipped: missing file"
    assert statuses[6].startswith("skipped: corrupt audio: ")
    assert statuses[9] == "skipped: too short: 0.50 s < 1.0 s"
    assert [i for i, status in enumerate(statuses) if status == "ok"] == [0, 1, 2, 3, 5, 7, 8]
    first = store.items[0]
    assert first.length == 24_000 and first.extra == {
        "pitch": 60, "instrument_family": 0, "instrument_str": "bass_synthetic_033", "velocity": 100}
    data = TASKS.get("nsynth").obj().load(home, load_protocol("cpu"))
    assert data.label_names[:3] == ("bass", "brass", "flute") and data.num_labels == 11
    assert data.targets["train"].tolist() == [0, 3, 10, 4]
    assert data.targets["valid"].tolist() == [8]
    assert data.targets["test"].tolist() == [3, 0]


def test_pitch_task_shares_the_store_and_drops_out_of_range_notes(nsynth_root: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    prepare(TASKS.get("nsynth-pitch").obj(), nsynth_root, home, workers=1, progress=False)
    assert (prepared_path(home, "nsynth") / "store.json").is_file()
    data = TASKS.get("nsynth-pitch").obj().load(home, load_protocol("cpu"))
    assert data.num_labels == 88 and data.label_names[0] == "21" and data.label_names[-1] == "108"
    ids = {split: [data.store.items[i].id for i in data.indices[split]] for split in ("train", "valid", "test")}
    assert ids == {
        "train": ["bass_synthetic_033-060-100", "guitar_acoustic_010-021-075", "vocal_synthetic_003-108-127"],
        "valid": ["string_acoustic_012-070-100"],
        "test": ["bass_electronic_018-040-100"],
    }
    assert data.targets["train"].tolist() == [60 - 21, 0, 87]
    assert data.targets["valid"].tolist() == [70 - 21] and data.targets["test"].tolist() == [40 - 21]
    family = TASKS.get("nsynth").obj().load(home, load_protocol("cpu"))  # same store, no second prepare
    assert len(family.store) == 7


def test_missing_metadata_is_named(tmp_path: Path) -> None:
    task = TASKS.get("nsynth").obj()
    with pytest.raises(BenchError, match="missing the folder itself"):
        prepare(task, tmp_path / "nowhere", tmp_path / "home", progress=False)
    root = tmp_path / "partial"
    (root / "nsynth-train" / "audio").mkdir(parents=True)
    (root / "nsynth-train" / "examples.json").write_text("{}")
    (root / "nsynth-test").mkdir()
    message = "missing nsynth-valid/examples.json, nsynth-valid/audio/, nsynth-test/examples.json, nsynth-test/audio/"
    with pytest.raises(BenchError, match=message + r"\. Expected: nsynth-train/"):
        prepare(task, root, tmp_path / "home", progress=False)
    with pytest.raises(BenchError, match="has not been prepared.*bench prepare --task nsynth-pitch"):
        TASKS.get("nsynth-pitch").obj().load(tmp_path / "home", load_protocol("cpu"))
