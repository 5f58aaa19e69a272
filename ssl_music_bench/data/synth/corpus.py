"""Generate the synthetic corpus once into a clip store, and re-use it afterwards.

``ensure_corpus(home, "songs")`` is what tasks and pretraining call: the first call renders the
corpus (a few seconds for "tiny", under a minute for "default" on two cores) into
``home/data/synth-<kind>-<size>-seed<seed>``; later calls open the finished store. Items are
pure functions of (seed, split, index), so they are rendered in parallel and written in order,
and the same seed gives the same int16 bytes on the same platform and library versions.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ssl_music_bench.data.store import SPLITS, ClipStore, ClipStoreWriter
from ssl_music_bench.data.synth.dsp import SAMPLE_RATE
from ssl_music_bench.data.synth.notes import NOTE_FAMILIES, generate_note
from ssl_music_bench.data.synth.songs import generate_song
from ssl_music_bench.data.synth.styles import SONG_TAGS, SOURCES
from ssl_music_bench.data.worker_pool import worker_pool
from ssl_music_bench.errors import BenchError, did_you_mean
from ssl_music_bench.home import synth_store_path

# Bump when a change to the generators changes the audio: stores made by another version are
# regenerated instead of silently mixing two corpora under one name.
SYNTH_VERSION = 1
Kind = Literal["songs", "notes"]
# Item = (id, split, labels, mix, stems, extra fields) as ClipStoreWriter.add takes them
Item = tuple[str, str, list[str], Any, dict[str, Any] | None, dict[str, Any]]


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
    # the corpus a fresh CPU-only machine pretrains and evaluates on
    "default": CorpusSize(songs=(160, 40, 80), song_seconds=8.0, notes=(440, 110, 220)),
}




def _song_item(task: tuple[int, int], seed: int, seconds: float) -> Item:
    split_index, index = task
    song = generate_song(seed, split_index, index, seconds)
    split = SPLITS[split_index]
    extra = {
        "style": song.plan.style, "tempo": song.plan.tempo, "key": song.key,
        "loudness_db": song.loudness_db, "present": dict(song.plan.present),
    }
    return f"song-{split}-{index:05d}", split, list(song.tags), song.mix, song.stems, extra


def _note_item(task: tuple[int, int], seed: int) -> Item:
    split_index, index = task
    note = generate_note(seed, split_index, index)
    split = SPLITS[split_index]
    extra = {
        "family": note.family, "pitch": note.pitch, "velocity": note.velocity, "instrument": note.instrument,
    }
    return f"note-{split}-{index:05d}", split, [note.family], note.audio, None, extra


@contextlib.contextmanager
def _workers(jobs: int) -> Iterator[ProcessPoolExecutor | None]:
    """Two worker processes when the work is worth starting them, else None (render inline).

    Workers only run numpy/scipy, never torch or OpenMP, so forking a process that has loaded
    torch is safe here (torch's own DataLoader forks the same way).
    """
    processes = min(2, os.cpu_count() or 1)
    if processes < 2 or jobs < 32:  # starting workers costs more than small jobs take
        yield None
        return
    with worker_pool(processes) as pool:
        yield pool


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold a lock file so that two processes never generate the same corpus at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, accept the (rare) race
        yield
        return
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:  # a file system without locks (some network mounts): go on unlocked
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_current(path: Path) -> bool:
    if not (path / "store.json").is_file():  # the writer publishes atomically: present = complete
        return False
    return ClipStore(path).header.get("synth_version") == SYNTH_VERSION


_ANNOUNCED: set[Path] = set()  # corpora this process has already said it uses


def ensure_corpus(
    home: Path, kind: Kind, size: str = "default", seed: int = 0, *, verbose: bool = True
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
                         'clips with stems and tags) or "notes" (NSynth-like single notes).')
    path = synth_store_path(home, kind, size, seed)
    console = Console(stderr=True, quiet=not verbose)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BenchError(f"Cannot create the data folder {path.parent} ({error}). The synthetic "
                         "corpus is generated there once; choose a writable bench home.") from error
    with _exclusive(path):
        if _is_current(path):
            if path not in _ANNOUNCED:  # once per process: a run opens the corpus several times
                _ANNOUNCED.add(path)
                console.print(f"[dim]Using the synthetic {kind} corpus at {path}[/dim]")
            return ClipStore(path)
        _generate(path, kind, size, seed, console)
        _ANNOUNCED.add(path)  # generating it said where it is
    return ClipStore(path)


def _generate(path: Path, kind: Kind, size: str, seed: int, console: Console) -> None:
    """Render every item of the corpus in order into a new store at ``path``."""
    spec = SIZES[size]
    counts = spec.songs if kind == "songs" else spec.notes
    tasks = [(split, index) for split, count in enumerate(counts) for index in range(count)]
    if kind == "songs":
        make: Callable[[tuple[int, int]], Item] = partial(_song_item, seed=seed, seconds=spec.song_seconds)
    else:
        make = partial(_note_item, seed=seed)
    metadata = {
        "generator": "ssl_music_bench.data.synth", "synth_version": SYNTH_VERSION, "kind": kind,
        "size": size, "seed": seed, "corpus_size": asdict(spec),
        "label_vocabulary": list(SONG_TAGS if kind == "songs" else NOTE_FAMILIES),
    }
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with (
        _workers(len(tasks)) as pool,
        Progress(*columns, console=console, transient=True) as progress,
        ClipStoreWriter(
            path, SAMPLE_RATE, sources=SOURCES if kind == "songs" else (),
            shard_samples=SAMPLE_RATE * 60 * 5, metadata=metadata,  # 5-minute shards: modest memory
        ) as writer,
    ):
        bar = progress.add_task(f"Generating synthetic {kind} ({size}, seed {seed})", total=len(tasks))
        items = pool.map(make, tasks, chunksize=4) if pool is not None else map(make, tasks)
        for id_, split, labels, audio, stems, extra in items:  # in task order, whoever rendered it
            writer.add(id_, split, labels, audio, stems=stems, **extra)
            progress.advance(bar)
    console.print(f"Generated the synthetic {kind} corpus ({size}, seed {seed}, {len(tasks)} clips) "
                  f"in {time.perf_counter() - started:.1f} s at {path}")
