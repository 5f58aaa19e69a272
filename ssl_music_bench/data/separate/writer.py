"""The stems store `bench separate` publishes: the input's items with their stems and silence levels.

The store is written through :class:`~ssl_music_bench.data.store.ClipStoreWriter`
(``<output>.partial``, renamed into place), so ``output`` is either absent or complete. Each item
keeps its id, split, labels, fields and mixture, gains the four stems of SOURCES and the field
``silence``: mean(|stem|) of the stored (int16) stem per window of ``SILENCE_WINDOW_SECONDS``, what
MSA's sampler reads instead of decoding every stem again (ssl_music_bench/data/silence.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import Progress

from ssl_music_bench.contracts.sources import SOURCES
from ssl_music_bench.data.separate.work import SeparationWork
from ssl_music_bench.data.silence import window_levels
from ssl_music_bench.data.store import ClipStore, ClipStoreWriter, from_int16
from ssl_music_bench.data.store_integrity import CorruptStore
from ssl_music_bench.errors import BenchError

SILENCE_WINDOW_SECONDS = 4.0  # MSA's excerpt: mean(|x|) over each 4 s window of the raw stem


def silence_window_samples(sample_rate: int) -> int:
    """The silence window of ``SILENCE_WINDOW_SECONDS`` in samples of a store at ``sample_rate``."""
    return round(SILENCE_WINDOW_SECONDS * sample_rate)


def write_stems_store(store: ClipStore, output: Path, work: SeparationWork, separation: dict[str, Any],
                      progress: Progress | None) -> ClipStore:
    """The new store, in the input's manifest order (skipped items kept as skipped)."""
    basics = {"format", "sample_rate", "sources", "items", "shards", "separation"}
    metadata = {k: v for k, v in store.header.items() if k not in basics} | {"separation": separation}
    window = silence_window_samples(store.sample_rate)
    task = progress.add_task("writing the stems store", total=len(store)) if progress is not None else None
    index = 0
    with ClipStoreWriter(output, store.sample_rate, sources=SOURCES, metadata=metadata) as writer:
        for info in store.manifest:
            if info.status != "ok":
                writer.skip(info.id, info.split, info.status.removeprefix("skipped: "), info.labels, **info.extra)
                continue
            stems = dict(zip(SOURCES, from_int16(work.stems(index))))
            silence = {s: window_levels(stems[s], window) for s in SOURCES}
            writer.add(info.id, info.split, info.labels, store.read(index), stems=stems,
                       **{**info.extra, "silence": silence})
            index += 1
            if progress is not None and task is not None:
                progress.advance(task)
    return ClipStore(output)


def reuse_stems_store(output: Path, fingerprint: str, store: ClipStore, progress: Progress | None) -> ClipStore:
    """The existing ``output`` when it holds ``store``'s stems made with the same ``fingerprint``;
    any other existing ``output`` is refused rather than overwritten."""
    try:
        existing = ClipStore(output)
    except (FileNotFoundError, CorruptStore):
        existing = None
    separation = existing.header.get("separation") if existing is not None else None
    if not isinstance(separation, dict) or separation.get("fingerprint") != fingerprint:
        raise BenchError(
            f"{output} already exists and is not the stems of {store.root} made with this separator and "
            "these settings. Remove it, or choose another output directory."
        )
    if progress is not None:
        progress.console.print(f"reusing the separated store {output}")
    return existing
