"""`bench prepare`: a dataset as published -> a prepared clip store, once.

Each real task (a :class:`~ssl_music_bench.contracts.task.PreparedTask`) says which files it
expects under the user's root and lists its items (id, split, labels, audio path). Preparing
decodes every file with soundfile, mixes it to mono, resamples it once to the task's store rate,
and writes the clip store under ``HOME/data/prepared/<store>`` with a ``manifest.jsonl`` line per
item. Decoding runs in worker processes; the parent only appends finished clips to the current
shard, so memory stays flat however large the dataset.

Missing, empty, corrupt, unusable (NaN or infinite samples, an implausible sample rate, no
samples) or too-short files, and paths that are no audio file (a dangling link, a directory, a
device: never opened) are reported and skipped (their manifest line says why), never silently and
never stopping the run. An interrupted run resumes where its last complete shard ended; one that
fails on a full disk removes what it wrote. A finished store is never rebuilt, unless it fails its
checks when opened: then it is moved to the quarantine and prepared again.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ssl_music_bench.contracts.task import PreparedTask, SourceItem
from ssl_music_bench.data.store import SPLITS, ClipStore, ClipStoreWriter
from ssl_music_bench.data.store_integrity import CorruptStore
from ssl_music_bench.data.store_quarantine import quarantine_store
from ssl_music_bench.data.worker_pool import worker_pool
from ssl_music_bench.errors import BenchError
from ssl_music_bench.home import prepared_path
from ssl_music_bench.io import is_disk_full

JOBS_PER_BLOCK = 32


def decode(job: tuple[SourceItem, int, float]) -> tuple[SourceItem, np.ndarray | None, str]:
    """Worker: read, mix to mono, resample. Returns (item, audio or None, reason when None)."""
    import torch

    from ssl_music_bench.data.audio import read_audio, resample, unusable_audio
    from ssl_music_bench.data.source_files import unreadable_source

    item, rate, min_seconds = job
    unreadable = unreadable_source(item.path)  # never opens a device, a pipe or a directory
    if unreadable is not None:
        return item, None, unreadable
    if item.path.stat().st_size == 0:
        return item, None, "empty file"
    try:
        mono, file_rate = read_audio(item.path)
    except ImportError:
        raise  # a missing decoding library must stop the run, not mark every file corrupt
    except Exception as error:  # soundfile raises several types for undecodable input
        return item, None, f"corrupt audio: {(str(error).splitlines() or [type(error).__name__])[0][:120]}"
    problem = unusable_audio(mono, file_rate)  # the reasons `bench embed` gives for the same audio
    if problem is not None:
        return item, None, f"unusable audio: {problem}"
    if len(mono) < min_seconds * file_rate:
        return item, None, f"too short: {len(mono) / file_rate:.2f} s < {min_seconds} s"
    torch.set_num_threads(1)
    audio = resample(torch.from_numpy(np.ascontiguousarray(mono)), file_rate, rate).numpy()
    if not np.isfinite(audio).all():
        return item, None, "corrupt audio: non-finite samples"
    return item, audio, ""


def prepare(task: PreparedTask, root: Path, home: Path, workers: int = 2, console: Console | None = None,
            progress: bool = True) -> ClipStore:
    """Prepare ``task``'s store from ``root`` (resuming an interrupted run); return it."""
    console = console or Console(stderr=True)
    path = prepared_path(home, task.store_name)
    if (path / "store.json").is_file():
        try:
            store = ClipStore(path)
        except CorruptStore as error:  # the user's files are here: prepare it again
            console.print(f"[yellow]warning:[/] {escape(str(error))} It was moved to "
                          f"{escape(str(quarantine_store(home, error)))}; preparing it again.")
        else:
            console.print(f"{task.store_name} is already prepared at {path}: nothing to do.")
            return store
    if not root.is_dir():
        raise task.missing(root, "the folder itself")
    task.check_root(root)
    items = list(task.items(root))
    writer = ClipStoreWriter(path, task.store_rate, metadata={"task": task.name, "root": str(root)}, resume=True)
    if writer.done_ids:
        console.print(f"resuming: {len(writer.done_ids)} items were prepared by an interrupted run")
    try:
        store = _decode_into(writer, task, items, workers, console, progress)
    except BenchError as error:
        # a full disk leaves nothing behind (the space is what the user needs back); any other
        # failure or an interruption (Ctrl-C, a kill) keeps the finished shards to resume from
        if is_disk_full(error.__cause__):
            writer.abort()
        raise
    report(store, console)
    return store


def _decode_into(writer: ClipStoreWriter, task: PreparedTask, items: list[SourceItem], workers: int,
                 console: Console, progress: bool) -> ClipStore:
    """Decode the items ``writer`` does not hold yet into it, in order, and publish the store."""
    pending = [item for item in items if item.id not in writer.done_ids]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with worker_pool(workers) as pool, Progress(*columns, console=console, disable=not progress) as bar:
        job = bar.add_task(f"preparing {task.store_name}", total=len(pending))
        # Jobs go to the pool a block at a time, so that an interruption has at most one block
        # in flight to wait for (ssl_music_bench/data/worker_pool.py).
        for start in range(0, len(pending), JOBS_PER_BLOCK):
            block = [(item, task.store_rate, task.min_seconds) for item in pending[start : start + JOBS_PER_BLOCK]]
            for item, audio, reason in pool.map(decode, block, chunksize=4):
                if audio is None:
                    writer.skip(item.id, item.split, reason, item.labels, **item.extra)
                else:
                    writer.add(item.id, item.split, item.labels, audio, **item.extra)
                bar.advance(job)
    return writer.close()


def report(store: ClipStore, console: Console) -> None:
    """Counts per split and every skipped item with its reason."""
    counts = Counter(info.split for info in store.items)
    console.print("prepared: " + ", ".join(f"{split} {counts.get(split, 0)}" for split in SPLITS))
    skipped = [info for info in store.manifest if info.status != "ok"]
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} item(s):[/]")
        for info in skipped:
            console.print(f"  {info.id} ({info.split}): {info.status.removeprefix('skipped: ')}")
