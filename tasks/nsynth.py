"""NSynth (Engel et al., 2017): single 4 s notes, instrument family and pitch.

As published: ``nsynth-{train,valid,test}/examples.json`` is one JSON object keyed by note_str
(fields note_str, pitch, velocity, instrument_str, instrument_family, instrument_family_str, ...),
and ``nsynth-{split}/audio/<note_str>.wav`` is 16 kHz mono 16-bit, 64,000 samples. The official
split is used as is (289,205 / 12,678 / 4,096; no instrument overlap between train and
valid/test).

Both tasks read one prepared store, ``nsynth``, at the native 16 kHz: ``bench prepare`` for
either task prepares it for both. Each item's stored labels are its family name; pitch,
velocity, family index and instrument are kept as manifest fields.

- ``nsynth``: instrument family, 11 classes (the number reported by COLA and MSA).
- ``nsynth-pitch``: MIDI pitch 21..108, 88 classes, as in HEAR; notes outside the piano range
  (NSynth spans 9..120) are left out of the task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ssl_music_bench.contracts.registry import register_task
from ssl_music_bench.contracts.task import PreparedTask, SourceItem
from ssl_music_bench.data.store import SPLITS, ClipInfo
from ssl_music_bench.errors import BenchError

# instrument_family 0..10 in NSynth's own order (instrument_family_str values)
FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal")
PITCHES = range(21, 109)  # MIDI 21 (A0) .. 108 (C8): HEAR's 88-class pitch task
EXPECTED = (
    "nsynth-train/, nsynth-valid/ and nsynth-test/, each holding examples.json and audio/<note_str>.wav, "
    "as unpacked from the three NSynth json/wav archives (https://magenta.tensorflow.org/datasets/nsynth)."
)


class _NSynth(PreparedTask):
    """Shared reading of the published NSynth folders into the ``nsynth`` store."""

    kind = "multiclass"
    store_name = "nsynth"
    store_rate = 16_000  # native rate: no resampling
    min_seconds = 1.0  # every note is 4 s; anything under 1 s is a damaged file
    expected = EXPECTED

    def check_root(self, root: Path) -> None:
        absent = []
        for split in SPLITS:
            if not (root / f"nsynth-{split}" / "examples.json").is_file():
                absent.append(f"nsynth-{split}/examples.json")
            if not (root / f"nsynth-{split}" / "audio").is_dir():
                absent.append(f"nsynth-{split}/audio/")
        if absent:
            raise self.missing(root, *absent)

    def items(self, root: Path) -> Iterator[SourceItem]:
        for split in SPLITS:
            folder = root / f"nsynth-{split}"
            examples = json.loads((folder / "examples.json").read_text(encoding="utf-8"))
            for note_str, note in examples.items():
                family = note["instrument_family_str"]
                if family not in FAMILIES:
                    raise BenchError(
                        f"{folder / 'examples.json'}: note {note_str} has instrument family {family!r}, not one of "
                        f"NSynth's {', '.join(FAMILIES)}. Is this the published NSynth metadata?"
                    )
                extra = {
                    "pitch": int(note["pitch"]),
                    "instrument_family": int(note["instrument_family"]),
                    "instrument_str": note["instrument_str"],
                    "velocity": int(note["velocity"]),
                }
                yield SourceItem(note_str, split, (family,), folder / "audio" / f"{note_str}.wav", extra)


@register_task("nsynth", data="NSynth")
class NSynthInstrument(_NSynth):
    """NSynth instrument family (11 classes) of single 4 s notes; accuracy."""

    source = "NSynth (Engel et al., ICML 2017), official train/valid/test split; family task as in COLA and MSA"
    label_names = FAMILIES


@register_task("nsynth-pitch", data="NSynth")
class NSynthPitch(_NSynth):
    """NSynth MIDI pitch 21-108 (88 classes) of single 4 s notes, as in HEAR; accuracy."""

    source = "NSynth (Engel et al., ICML 2017), official split; pitch task as in HEAR (MIDI 21-108)"
    label_names = tuple(str(pitch) for pitch in PITCHES)

    def include(self, info: ClipInfo) -> bool:
        return int(info.extra["pitch"]) in PITCHES

    def labels_of(self, info: ClipInfo) -> list[str]:
        return [str(info.extra["pitch"])]
