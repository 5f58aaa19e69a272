"""Tasks on the built-in synthetic multi-source corpus (ssl_music_bench/synth).

They mirror the real tasks' shapes so every command runs on a fresh CPU-only machine with no
download: ``synth-tags`` is multi-label tagging like MagnaTagATune (instruments present, vocal
gender, tempo, loudness, style), ``synth-genre`` is single-label style classification like
GTZAN/FMA, ``synth-instrument`` and ``synth-pitch`` are NSynth-like single 4 s notes
(instrument family, MIDI pitch). Splits are fixed by the generator; the corpus seed is fixed
(0), so every run of a protocol sees the same data.
"""

from __future__ import annotations

from pathlib import Path

from ssl_music_bench.protocol import Protocol
from ssl_music_bench.registry import register_task
from ssl_music_bench.store import ClipInfo
from ssl_music_bench.task import Task, TaskData, build_task_data

CORPUS_SEED = 0


@register_task("synth-tags", kind="multilabel", data="synthetic songs")
class SynthTags(Task):
    """Multi-label tags of synthetic songs (instruments, vocals, tempo, loudness, style); ROC-AUC, PR-AUC."""

    kind = "multilabel"
    source = "built-in synthetic corpus (ssl_music_bench/synth), MTAT-like tagging"

    def load(self, home: Path, protocol: Protocol) -> TaskData:
        from ssl_music_bench.synth import SONG_TAGS, ensure_corpus

        store = ensure_corpus(home, "songs", protocol.synth_size, CORPUS_SEED)
        return build_task_data("synth-tags", self.kind, store, SONG_TAGS, lambda info: info.labels)


@register_task("synth-genre", kind="multiclass", data="synthetic songs")
class SynthGenre(Task):
    """Style of synthetic songs, one of several genres; accuracy."""

    kind = "multiclass"
    source = "built-in synthetic corpus (ssl_music_bench/synth), GTZAN-like genre"

    def load(self, home: Path, protocol: Protocol) -> TaskData:
        from ssl_music_bench.synth import STYLES, ensure_corpus

        store = ensure_corpus(home, "songs", protocol.synth_size, CORPUS_SEED)
        return build_task_data("synth-genre", self.kind, store, STYLES, _style)


@register_task("synth-instrument", kind="multiclass", data="synthetic notes")
class SynthInstrument(Task):
    """Instrument family of synthetic 4 s notes (NSynth's 11 families); accuracy."""

    kind = "multiclass"
    source = "built-in synthetic corpus (ssl_music_bench/synth), NSynth-like instrument family"

    def load(self, home: Path, protocol: Protocol) -> TaskData:
        from ssl_music_bench.synth import NOTE_FAMILIES, ensure_corpus

        store = ensure_corpus(home, "notes", protocol.synth_size, CORPUS_SEED)
        return build_task_data("synth-instrument", self.kind, store, NOTE_FAMILIES, _family)


@register_task("synth-pitch", kind="multiclass", data="synthetic notes")
class SynthPitch(Task):
    """MIDI pitch of synthetic 4 s notes; accuracy."""

    kind = "multiclass"
    source = "built-in synthetic corpus (ssl_music_bench/synth), NSynth-like pitch"

    def load(self, home: Path, protocol: Protocol) -> TaskData:
        from ssl_music_bench.synth import NOTE_PITCHES, ensure_corpus

        store = ensure_corpus(home, "notes", protocol.synth_size, CORPUS_SEED)
        names = [str(pitch) for pitch in NOTE_PITCHES]
        return build_task_data("synth-pitch", self.kind, store, names, _pitch)


def _style(info: ClipInfo) -> list[str]:
    return [info.extra["style"]]


def _family(info: ClipInfo) -> list[str]:
    return [info.extra["family"]]


def _pitch(info: ClipInfo) -> list[str]:
    return [str(info.extra["pitch"])]
