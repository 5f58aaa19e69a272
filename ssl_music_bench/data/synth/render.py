"""Render the synthetic corpus into a new clip store, items in parallel and written in order.

:func:`~ssl_music_bench.data.synthetic_corpus.ensure_corpus` calls :func:`render_corpus` when
the store is missing, damaged or made by another generator version; readers never call it. It
refuses to start when the disk cannot hold the corpus, and a failure while writing (a full disk
is one paragraph) removes what it wrote. Items are
pure functions of (seed, split, index), so worker processes render them in any order and the
parent writes them in task order: the same seed gives the same store whoever rendered it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ssl_music_bench.contracts.sources import SOURCES
from ssl_music_bench.data.store import SPLITS, ClipStoreWriter
from ssl_music_bench.data.synth.dsp import SAMPLE_RATE
from ssl_music_bench.data.synth.notes import NOTE_SAMPLES, generate_note
from ssl_music_bench.data.synth.songs import generate_song
from ssl_music_bench.data.synthetic_corpus import NOTE_FAMILIES, SIZES, SONG_TAGS, SYNTH_VERSION, CorpusKind
from ssl_music_bench.data.worker_pool import worker_pool
from ssl_music_bench.errors import BenchError
from ssl_music_bench.io import megabytes

# Item = (id, split, labels, mix, stems, extra fields) as ClipStoreWriter.add takes them
Item = tuple[str, str, list[str], Any, dict[str, Any] | None, dict[str, Any]]


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


def corpus_bytes(kind: CorpusKind, size: str) -> int:
    """The int16 audio of the ``kind`` corpus of ``size`` (mix and, for songs, the four stems):
    a lower bound of the space rendering it needs, since the new store is complete before an
    older one is replaced."""
    spec = SIZES[size]
    if kind == "songs":
        return sum(spec.songs) * int(round(spec.song_seconds * SAMPLE_RATE)) * 2 * (1 + len(SOURCES))
    return sum(spec.notes) * NOTE_SAMPLES * 2


def _check_free_space(path: Path, kind: CorpusKind, size: str) -> None:
    """Refuse to start a corpus that cannot fit, before anything is written."""
    needed, free = corpus_bytes(kind, size), shutil.disk_usage(path.parent).free
    if free < needed:
        raise BenchError(
            f"The synthetic {kind} corpus ({size}) needs {megabytes(needed)} in {path.parent}, and "
            f"only {megabytes(free)} are free on that disk. Free space there, or choose a bench home on "
            "a larger disk with --home DIR or the BENCH_HOME environment variable (a protocol with "
            'synth_size = "tiny" needs far less), then run the command again.'
        )


def worker_count() -> int:
    """One rendering process per core this process may use (the "large" corpus on a 16-core GPU
    machine: 16 processes); numpy and scipy in each stay single-threaded enough at this size."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _workers(jobs: int) -> Iterator[ProcessPoolExecutor | None]:
    """A worker process per usable core when the work is worth starting them, else None (render inline).

    Workers only run numpy/scipy, never torch or OpenMP, so forking a process that has loaded
    torch is safe here (torch's own DataLoader forks the same way).
    """
    processes = worker_count()
    if processes < 2 or jobs < 32:  # starting workers costs more than small jobs take
        yield None
        return
    with worker_pool(processes) as pool:
        yield pool


def render_corpus(path: Path, kind: CorpusKind, size: str, seed: int, console: Console) -> None:
    """Render every item of the ``kind`` corpus of ``size`` and ``seed`` in order into a new store at ``path``."""
    _check_free_space(path, kind, size)
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
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn())
    with (
        _workers(len(tasks)) as pool,
        Progress(*columns, console=console, transient=True) as progress,
        ClipStoreWriter(
            path, SAMPLE_RATE, sources=SOURCES if kind == "songs" else (),
            shard_samples=SAMPLE_RATE * 60 * 5, metadata=metadata,  # 5-minute shards: modest memory
        ) as writer,
    ):
        processes = worker_count() if pool is not None else 1
        bar = progress.add_task(f"Generating synthetic {kind} ({size}, seed {seed}, {processes} processes)",
                                total=len(tasks), rate="")
        items = pool.map(make, tasks, chunksize=4) if pool is not None else map(make, tasks)
        for done, (id_, split, labels, audio, stems, extra) in enumerate(items, 1):  # in task order
            writer.add(id_, split, labels, audio, stems=stems, **extra)
            progress.update(bar, advance=1, rate=f"{done / max(time.perf_counter() - started, 1e-9):.1f} clips/s")
    console.print(f"Generated the synthetic {kind} corpus ({size}, seed {seed}, {len(tasks)} clips) "
                  f"in {time.perf_counter() - started:.1f} s at {path}")
