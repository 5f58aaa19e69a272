"""Tasks on the built-in synthetic multi-source corpus (ssl_music_bench/data/synthetic_corpus.py).

They mirror the real tasks' shapes so every command runs on a fresh CPU-only machine with no
download: ``synth-tags`` is multi-label tagging like MagnaTagATune (instruments present, vocal
gender, tempo, loudness, style), ``synth-genre`` is single-label style classification like
GTZAN/FMA, ``synth-instrument`` and ``synth-pitch`` are NSynth-like 4 s notes, each
sounding with two quieter notes of other families since corpus version 3, quieter at every
moment since version 4 (the family and the MIDI pitch of the loudest note). Splits are fixed by the generator; the corpus seed is fixed
(0), so every run of a protocol sees the same data.

A task earns its place in the table only if it can rank methods: the supervised ceiling must
lie well above the random-init floor, and the test split must resolve the gap (issue 12).
docs/TASKS.md gives each task's design, the factors it asks for, its sizes, and the measured
floor, ceiling, headroom and resolution (benchmarks/task_headroom.py). Since corpus version 2
``synth-genre`` is decided by rhythm and harmony only: in version 1 the styles also differed in
loudness and instrumentation, and an untrained encoder's features told them apart from those.
Since version 3 the notes are mixes, for the same reason: isolated synthetic notes gave
random-init 88 % on synth-instrument.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from ssl_music_bench.contracts.protocol import Protocol
from ssl_music_bench.contracts.registry import register_task
from ssl_music_bench.contracts.task import Task, TaskData, build_task_data
from ssl_music_bench.data.store import ClipInfo
from ssl_music_bench.data.synthetic_corpus import (
    NOTE_FAMILIES,
    NOTE_PITCHES,
    SONG_TAGS,
    STYLES,
    CorpusKind,
    ensure_corpus,
)

CORPUS_SEED = 0


class SyntheticTask(Task):
    """A task on one of the synthetic stores: which store, which vocabulary, which labels per clip."""

    corpus: ClassVar[CorpusKind]

    def vocabulary(self) -> Sequence[str]:
        raise NotImplementedError

    def labels_of(self, info: ClipInfo) -> Sequence[str]:
        raise NotImplementedError

    def load(self, home: Path, protocol: Protocol) -> TaskData:
        store = ensure_corpus(home, self.corpus, protocol.synth_size, CORPUS_SEED)
        return build_task_data(self.name, self.kind, store, self.vocabulary(), self.labels_of)


@register_task("synth-tags", data="synthetic songs")
class SynthTags(SyntheticTask):
    """Multi-label tags of synthetic songs (instruments, vocals, tempo, loudness, style); ROC-AUC, PR-AUC."""

    kind = "multilabel"
    corpus = "songs"
    source = "built-in synthetic corpus (ssl_music_bench/data/synth), MTAT-like tagging"

    def vocabulary(self) -> Sequence[str]:
        return SONG_TAGS

    def labels_of(self, info: ClipInfo) -> Sequence[str]:
        return info.labels


@register_task("synth-genre", data="synthetic songs")
class SynthGenre(SyntheticTask):
    """Style of synthetic songs, one of eight genres told apart by rhythm and harmony; accuracy."""

    kind = "multiclass"
    corpus = "songs"
    source = "built-in synthetic corpus (ssl_music_bench/data/synth), GTZAN-like genre"

    def vocabulary(self) -> Sequence[str]:
        return STYLES

    def labels_of(self, info: ClipInfo) -> Sequence[str]:
        return [info.extra["style"]]


@register_task("synth-instrument", data="synthetic notes")
class SynthInstrument(SyntheticTask):
    """Instrument family of the leading note of synthetic 4 s note mixes (NSynth's 11 families); accuracy."""

    kind = "multiclass"
    corpus = "notes"
    source = "built-in synthetic corpus (ssl_music_bench/data/synth), NSynth-like instrument family"

    def vocabulary(self) -> Sequence[str]:
        return NOTE_FAMILIES

    def labels_of(self, info: ClipInfo) -> Sequence[str]:
        return [info.extra["family"]]


@register_task("synth-pitch", data="synthetic notes")
class SynthPitch(SyntheticTask):
    """MIDI pitch of the leading note of synthetic 4 s note mixes; accuracy."""

    kind = "multiclass"
    corpus = "notes"
    source = "built-in synthetic corpus (ssl_music_bench/data/synth), NSynth-like pitch"

    def vocabulary(self) -> Sequence[str]:
        return [str(pitch) for pitch in NOTE_PITCHES]

    def labels_of(self, info: ClipInfo) -> Sequence[str]:
        return [str(info.extra["pitch"])]
