"""The generator of the built-in synthetic music corpus: multi-source songs with stems and tags,
and NSynth-like notes (each with two quieter notes of other families), rendered deterministically from a seed so that every command of the
benchmark runs on a fresh CPU-only machine without downloading anything.

Tasks and pretraining never import it: they open the corpus through
ssl_music_bench/data/synthetic_corpus.py (``ensure_corpus``, the sizes and the label
vocabularies), which calls :func:`render_corpus` when the store has to be made.
"""

from ssl_music_bench.data.synth.notes import NOTE_VELOCITIES, Note, generate_note
from ssl_music_bench.data.synth.render import render_corpus
from ssl_music_bench.data.synth.songs import Song, SongPlan, generate_song, plan_song

__all__ = [
    "NOTE_VELOCITIES",
    "Note",
    "Song",
    "SongPlan",
    "generate_note",
    "generate_song",
    "plan_song",
    "render_corpus",
]
