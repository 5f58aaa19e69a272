"""Frozen embeddings of whole clips, chunk by chunk.

Each clip is resampled to the encoder's rate on the device and split into consecutive
non-overlapping chunks of the encoder's crop length (the last partial chunk is dropped; a clip
shorter than one chunk is zero-padded to one), as in CLMR's evaluation. Chunks of many clips
are embedded together in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from rich.progress import Progress
from torch import Tensor

from ssl_music_bench.data.audio import resample
from ssl_music_bench.data.store import ClipStore


def chunk(wave: Tensor, length: int) -> Tensor:
    """(samples,) -> (n_chunks, length), dropping the last partial chunk."""
    if wave.shape[-1] < length:
        wave = torch.nn.functional.pad(wave, (0, length - wave.shape[-1]))
    count = wave.shape[-1] // length
    return wave[: count * length].reshape(count, length)


def _chunks(
    store: ClipStore, indices: list[int], rate: int, length: int, device: torch.device
) -> Iterator[tuple[int, Tensor]]:
    for position, index in enumerate(indices):
        wave = torch.from_numpy(store.read(index)).to(device)
        yield position, chunk(resample(wave, store.sample_rate, rate), length)


@torch.no_grad()
def embed_clips(
    features: Callable[[Tensor], Tensor],
    store: ClipStore,
    indices: list[int],
    sample_rate: int,
    chunk_samples: int,
    batch_size: int,
    device: torch.device,
    progress: Progress | None = None,
    description: str = "embedding",
) -> tuple[Tensor, Tensor]:
    """Embeddings (n_chunks, D) on the CPU and, for each chunk, its clip's position in ``indices``."""
    outputs: list[Tensor] = []
    owners: list[Tensor] = []
    pending: list[Tensor] = []
    pending_owner: list[int] = []
    task = progress.add_task(description, total=len(indices)) if progress else None

    def flush() -> None:
        batch = torch.cat(pending)
        outputs.append(features(batch).float().cpu())
        owners.append(torch.tensor(pending_owner, dtype=torch.long))
        pending.clear()
        pending_owner.clear()

    for position, chunks in _chunks(store, indices, sample_rate, chunk_samples, device):
        for row in chunks.split(batch_size):
            pending.append(row)
            pending_owner.extend([position] * row.shape[0])
            if len(pending_owner) >= batch_size:
                flush()
        if progress is not None and task is not None:
            progress.advance(task)
    if pending:
        flush()
    return torch.cat(outputs), torch.cat(owners)


AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".au", ".aiff", ".aif")


def audio_files(paths: list[Path]) -> list[Path]:
    """The audio files named, and those found (recursively, sorted) in the folders named."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        else:
            found.append(path)
    return found


@torch.no_grad()
def embed_files(
    features: Callable[[Tensor], Tensor],
    files: list[Path],
    sample_rate: int,
    chunk_samples: int,
    batch_size: int,
    device: torch.device,
    progress: Progress | None = None,
) -> tuple[Tensor, list[tuple[str, int]], list[tuple[str, str]]]:
    """Chunk embeddings of a user's files: (embeddings, [(file, chunk)] per row, [(file, reason)] skipped).

    Any format soundfile reads; each file is mixed to mono and resampled to the encoder's rate on
    the device, then chunked like the benchmark's clips. Unreadable files are skipped and reported.
    """
    from ssl_music_bench.data.audio import read_audio

    rows: list[tuple[str, int]] = []
    skipped: list[tuple[str, str]] = []
    outputs: list[Tensor] = []
    task = progress.add_task("embedding files", total=len(files)) if progress else None
    for path in files:
        try:
            audio, rate = read_audio(path)
        except Exception as error:  # soundfile raises several types for unreadable input
            skipped.append((str(path), str(error).splitlines()[0][:160]))
        else:
            wave = resample(torch.from_numpy(audio).to(device), rate, sample_rate)
            chunks = chunk(wave, chunk_samples)
            outputs += [features(batch).float().cpu() for batch in chunks.split(batch_size)]
            rows += [(str(path), i) for i in range(chunks.shape[0])]
        if progress is not None and task is not None:
            progress.advance(task)
    embeddings = torch.cat(outputs) if outputs else torch.zeros(0)
    return embeddings, rows, skipped


def write_embedding_folder(out: Path, embeddings: Tensor, rows: list[tuple[str, int]], chunk_seconds: float,
                           about: dict) -> None:
    """`bench embed`'s output: embeddings.npy (one row per chunk), index.csv (row, file, chunk,
    start_seconds) and about.json, written to ``out.partial`` and renamed into place whole."""
    import csv
    import json

    import numpy as np

    from ssl_music_bench.io import published_directory

    with published_directory(out) as partial:
        np.save(partial / "embeddings.npy", embeddings.numpy())
        with open(partial / "index.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "file", "chunk", "start_seconds"])
            writer.writerows((i, f, c, round(c * chunk_seconds, 4)) for i, (f, c) in enumerate(rows))
        (partial / "about.json").write_text(json.dumps(about, indent=2))
