"""The built-in synthetic corpus as a dataset: its sizes, its label vocabularies, and its store.

What tasks and pretraining read, and all they need to know: the vocabularies a task declares its
labels with (the tags and styles of the songs, the families and pitches of the notes), the sizes a
protocol can ask for, and :func:`ensure_corpus`, which opens the corpus's clip store under
``home/data/synth-<kind>-<size>-seed<seed>``. The first call renders it with the generator in
ssl_music_bench/data/synth (a few seconds for "tiny", under a minute for "default" on two cores);
later calls open the finished store (checked when opened: a damaged one is reported, moved to
HOME/quarantine/stores/ and generated again; stale ``.partial`` leftovers of a killed generation
are removed first). Items are pure functions of (seed, split, index), so the
same seed gives the same int16 bytes on the same platform and library versions.

The vocabularies are defined here, not in the generator, because they are the corpus's promise to
its readers (the order of a vocabulary is the order of a task's target columns): the generator
imports them to label what it renders, as it imports the stem names of
ssl_music_bench/contracts/sources.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from filelock import FileLock, Timeout
from rich.console import Console
from rich.markup import escape

from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.data.store_integrity import CorruptStore
from ssl_music_bench.data.store_quarantine import quarantine_store
from ssl_music_bench.errors import BenchError, did_you_mean
from ssl_music_bench.home import synth_store_path
from ssl_music_bench.io import PARTIAL_SUFFIX, exclusive_lock, remove_partial

# Bump when a change to the generators changes the audio: stores made by another version are
# regenerated instead of silently mixing two corpora under one name. Run records name the
# version they were made on, so records of an older corpus stay readable and apart.
#   1: the first corpus.
#   2: song styles decided by rhythm and harmony only (loudness, instrumentation and compression
#      shared by all styles, ssl_music_bench/data/synth/styles.py); larger test splits; the
#      "large" size (issue 12, docs/TASKS.md).
#   3: every labelled note sounds with two quieter notes of other families (data/synth/notes.py):
#      on isolated notes an untrained encoder already told the families apart (issue 12).
#   4: the accompaniment stays 4 dB below the labelled note at every moment (data/synth/notes.py
#      under_lead), so that every crop of a mix is led by the labelled note; the songs are as in 2.
#   5: 48 training and 8 held-out instruments per family (were 6 and 2, data/synth/notes.py): the
#      ceiling generalises to unseen instruments; the songs are as in 2.
SYNTH_VERSION = 5
CorpusKind = Literal["songs", "notes"]



def current_corpus_version(task: str) -> int | None:
    """The corpus version a run of ``task`` made now records: this generator's version for the
    built-in synthetic tasks (all named ``synth-...``), None for real data. It names the run's
    record (report/records.py record_path), so a lookup finds the run made on today's corpus."""
    return SYNTH_VERSION if task.startswith("synth-") else None


# The songs: eight musical styles (ssl_music_bench/data/synth/styles.py gives each its tempo,
# loudness, patterns and instruments) and the MagnaTagATune-like tags they produce.
STYLES: tuple[str, ...] = ("rock", "pop", "electronic", "ballad", "ambient", "jazz", "soul", "classical")
TIMBRES: tuple[str, ...] = ("piano", "organ", "strings", "guitar", "synth")  # what "other" can be played on
SONG_TAGS: tuple[str, ...] = (
    "drums", "bass", *TIMBRES, "male vocal", "female vocal", "no vocals",
    "fast", "slow", "loud", "quiet", *STYLES,
)

# The notes: NSynth's 11 instrument families, in NSynth's own order.
NOTE_FAMILIES: tuple[str, ...] = (
    "bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead",
    "vocal",
)
# Five octaves from C2 to C6: every family is played over the same range, so pitch alone never
# gives the family away (NSynth's families have different ranges, a shortcut we avoid).
NOTE_PITCHES: tuple[int, ...] = tuple(range(36, 85))


@dataclass(frozen=True)
class CorpusSize:
    """How much to generate: items per split (train, valid, test) and the song length."""

    songs: tuple[int, int, int]
    song_seconds: float
    notes: tuple[int, int, int]

    def describe(self) -> str:
        songs, notes = "/".join(map(str, self.songs)), "/".join(map(str, self.notes))
        return f"{songs} songs of {self.song_seconds:g} s, {notes} notes"


SIZES: dict[str, CorpusSize] = {
    # for tests: every tag, style and note family still occurs in every split that needs it
    "tiny": CorpusSize(songs=(24, 8, 8), song_seconds=4.0, notes=(44, 22, 22)),
    # the corpus a fresh CPU-only machine pretrains and evaluates on (the cpu protocol, `bench
    # demo`). Version 1 tested on 80 songs and 220 notes: one song was 1.25 accuracy points and
    # the bootstrap half-width about 9 points. The test splits are as large as the demo's budget
    # allows (generating and embedding a song twice costs about 0.6 s on 2 cores; docs/TASKS.md)
    "default": CorpusSize(songs=(200, 60, 240), song_seconds=8.0, notes=(660, 110, 440)),
    # for a GPU protocol: thousands of songs to pretrain on, test splits whose bootstrap
    # half-width is about 1.5-2.5 points; generated once in parallel on every core (minutes)
    "large": CorpusSize(songs=(4000, 500, 1500), song_seconds=8.0, notes=(8800, 1100, 2200)),
}
# for the cpu-headroom protocol (version 3): the default size's songs, the large size's notes.
# On the default size's 660 training notes a network learns its training instruments, not the
# families: synth-instrument's supervised ceiling (54.09 %) stayed under its random-init floor
# (67.95 %); on 8,800 it reached 88.00 % over a floor of 77.32 % (seed 0; docs/TASKS.md). Every
# item is drawn from (seed, split, index) alone, so these songs and notes are those of the other sizes.
SIZES["headroom"] = replace(SIZES["default"], notes=SIZES["large"].notes)


def _lock_path(path: Path) -> Path:
    """The lock file that keeps two processes from generating the same corpus at once; whoever
    holds it owns ``path`` and its ``.partial``."""
    return path.with_name(path.name + ".lock")


def _remove_stale_partials(data: Path) -> None:
    """Remove the ``synth-*.partial`` a killed generation left in ``data`` (they can be as large
    as a corpus): only those whose corpus lock is free, so none that another process writes."""
    for partial in sorted(data.glob("synth-*" + PARTIAL_SUFFIX)):
        owner = partial.name.removesuffix(PARTIAL_SUFFIX).removesuffix(".replaced")
        lock = FileLock(_lock_path(data / owner))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # being generated right now
        try:
            remove_partial(partial)
        finally:
            lock.release()


def _current_store(home: Path, path: Path, console: Console) -> ClipStore | None:
    """The finished corpus at ``path`` when it is whole and of this generator version; None when
    it must be generated (a damaged one is reported and moved to the quarantine first)."""
    if not (path / "store.json").is_file():  # the writer publishes atomically: present = complete
        return None
    try:
        store = ClipStore(path)
    except CorruptStore as error:
        moved = quarantine_store(home, error)
        console.print(f"[yellow]warning:[/] {escape(str(error))} It was moved to {escape(str(moved))}; "
                      "generating the corpus again.")
        return None
    return store if store.header.get("synth_version") == SYNTH_VERSION else None


_ANNOUNCED: set[Path] = set()  # corpora this process has already said it uses


def ensure_corpus(
    home: Path, kind: CorpusKind, size: str = "default", seed: int = 0, *, verbose: bool = True
) -> ClipStore:
    """The synthetic ``kind`` corpus ("songs" or "notes") of ``size`` and ``seed``, generated
    on the first call and opened from ``home/data`` on later ones."""
    if size not in SIZES:
        known = "; ".join(f'"{name}" ({spec.describe()})' for name, spec in SIZES.items())
        raise BenchError(
            f'Unknown synthetic corpus size "{size}".{did_you_mean(size, SIZES)} The built-in '
            f"corpus comes in these sizes: {known}. Pass one of these names as the size."
        )
    if kind not in ("songs", "notes"):
        raise BenchError(f'Unknown synthetic corpus kind "{kind}": use "songs" (multi-source '
                         'clips with stems and tags) or "notes" (NSynth-like notes in a mix of two quieter ones).')
    path = synth_store_path(home, kind, size, seed)
    console = Console(stderr=True, quiet=not verbose)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BenchError(f"Cannot create the data folder {path.parent} ({error}). The synthetic "
                         "corpus is generated there once; choose a writable bench home.") from error
    with exclusive_lock(_lock_path(path), f"Waiting: another process is generating the synthetic corpus at {path}"):
        store = _current_store(home, path, console)
        if store is not None:
            if path not in _ANNOUNCED:  # once per process: a run opens the corpus several times
                _ANNOUNCED.add(path)
                console.print(f"[dim]Using the synthetic {kind} corpus at {path}[/dim]")
            return store
        # imported only to render: opening a finished corpus needs none of the generator (nor
        # scipy), and the generator imports this module's vocabularies
        from ssl_music_bench.data.synth.render import render_corpus

        _remove_stale_partials(path.parent)
        render_corpus(path, kind, size, seed, console)  # checks the free space; a failure leaves nothing
        _ANNOUNCED.add(path)  # generating it said where it is
    return ClipStore(path)
