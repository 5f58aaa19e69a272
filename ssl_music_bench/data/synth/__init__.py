"""The built-in synthetic music corpus: multi-source songs with stems and tags, and NSynth-like
single notes, generated deterministically from a seed so that every command of the benchmark
runs on a fresh CPU-only machine without downloading anything.

Entry point: :func:`ensure_corpus`. The vocabularies are module constants so that tasks can
declare their label sets without generating anything.
"""

from ssl_music_bench.data.synth.corpus import SIZES, SYNTH_VERSION, CorpusSize, ensure_corpus
from ssl_music_bench.data.synth.notes import NOTE_FAMILIES, NOTE_PITCHES, NOTE_VELOCITIES, Note, generate_note
from ssl_music_bench.data.synth.songs import Song, SongPlan, generate_song, plan_song
from ssl_music_bench.data.synth.styles import SONG_TAGS, SOURCES, STYLES

__all__ = [
    "NOTE_FAMILIES",
    "NOTE_PITCHES",
    "NOTE_VELOCITIES",
    "SIZES",
    "SONG_TAGS",
    "SOURCES",
    "STYLES",
    "SYNTH_VERSION",
    "CorpusSize",
    "Note",
    "Song",
    "SongPlan",
    "ensure_corpus",
    "generate_note",
    "generate_song",
    "plan_song",
]
