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


# Parameters: what to run (features), on which clips (store, indices), the encoder's chunking (rate,
# chunk length), and how (batch, device, progress bar and its label): each is needed, none derivable.
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


# Parameters: as embed_clips, with files instead of a store.
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
    from ssl_music_bench.data.audio import read_audio, unusable_audio

    rows: list[tuple[str, int]] = []
    skipped: list[tuple[str, str]] = []
    outputs: list[Tensor] = []
    task = progress.add_task("embedding files", total=len(files)) if progress else None
    for path in files:
        try:
            audio, rate = read_audio(path)
        except Exception as error:  # soundfile raises several types for unreadable input
            skipped.append((str(path), (str(error).splitlines() or [type(error).__name__])[0][:160]))
            problem = "unreadable"
        else:
            problem = unusable_audio(audio, rate)
            if problem is not None:
                skipped.append((str(path), problem))
        if problem is None:
            wave = resample(torch.from_numpy(audio).to(device), rate, sample_rate)
            chunks = chunk(wave, chunk_samples)
            outputs += [features(batch).float().cpu() for batch in chunks.split(batch_size)]
            rows += [(str(path), i) for i in range(chunks.shape[0])]
        if progress is not None and task is not None:
            progress.advance(task)
    if not outputs:  # no usable file: an empty (0, dim) matrix, not a (0,) vector
        dim = features(torch.zeros(1, chunk_samples, device=device)).shape[-1]
        return torch.zeros(0, dim), rows, skipped
    return torch.cat(outputs), rows, skipped


OUTPUT_FILES = ("embeddings.npy", "index.csv", "about.json")  # what `bench embed` writes, nothing else
WRITER = "bench embed"  # about.json's "written_by": how a later run knows a folder is the tool's own


def is_embedding_folder(folder: Path) -> bool:
    """Whether ``folder`` holds only an earlier `bench embed` output (so replacing it loses nothing)."""
    import json

    names = {p.name for p in folder.iterdir()}
    if not names or not names <= set(OUTPUT_FILES) or "about.json" not in names:
        return not names
    try:
        about = json.loads((folder / "about.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # records before "written_by" existed name their checkpoint and method
    return isinstance(about, dict) and (about.get("written_by") == WRITER or {"checkpoint", "method"} <= set(about))


def check_output_folder(out: Path, inputs: list[Path], force: bool) -> Path:
    """Refuse, before any work, an ``--out`` whose writing could destroy a user's files.

    Refused: a file; a folder equal to or above an input (the output would replace the music);
    an existing folder holding anything `bench embed` did not write, unless ``force`` (then only
    the three output files in it are replaced, everything else stays). Returns ``out`` resolved.
    """
    from ssl_music_bench.errors import BenchError

    target = out.expanduser().resolve()
    for given in inputs:
        source = given.expanduser().resolve()
        if source == target or target in source.parents:
            raise BenchError(
                f"--out {out} is {'the input' if source == target else 'a folder above the input'} {given}: "
                f"writing the embeddings there would replace the audio. Choose an output folder outside the "
                f"inputs, e.g. --out {source.parent / (source.name + '-embeddings')}.")
    if target.exists() and not target.is_dir():
        raise BenchError(f"--out {out} is an existing file, not a folder. Give a folder for embeddings.npy, "
                         "index.csv and about.json (it is created if it does not exist).")
    if target.is_dir() and not force and not is_embedding_folder(target):
        raise BenchError(
            f"--out {out} already holds files that `bench embed` did not write. Nothing was changed. Choose "
            f"a new or empty folder, or add --force to write {', '.join(OUTPUT_FILES)} into it (only those "
            "three files are replaced; the others are kept).")
    return target


def write_embedding_folder(out: Path, embeddings: Tensor, rows: list[tuple[str, int]], chunk_seconds: float,
                           about: dict) -> None:
    """`bench embed`'s output: embeddings.npy (one row per chunk, shape (chunks, dim) even for none),
    index.csv (row, file, chunk, start_seconds) and about.json.

    ``out`` is checked by :func:`check_output_folder` first. A new folder is written to
    ``<out>.partial`` and renamed into place whole. An existing folder is never removed (it may be
    the working directory, or hold the user's files under ``--force``): each output file is written
    under a temporary name and renamed over its own name, about.json last, so that about.json
    always describes complete files and no other file is touched.
    """
    import csv
    import io as text_io
    import json

    import numpy as np

    from ssl_music_bench.io import published_directory, write_bytes_atomic

    table = text_io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["row", "file", "chunk", "start_seconds"])
    writer.writerows((i, f, c, round(c * chunk_seconds, 4)) for i, (f, c) in enumerate(rows))
    array = text_io.BytesIO()
    np.save(array, embeddings.numpy())
    contents = {"embeddings.npy": array.getvalue(), "index.csv": table.getvalue().encode("utf-8"),
                "about.json": json.dumps({**about, "written_by": WRITER}, indent=2).encode("utf-8")}
    if out.is_dir():
        for name in OUTPUT_FILES:  # about.json last: it names a complete output
            write_bytes_atomic(out / name, contents[name])
        return
    with published_directory(out) as partial:
        for name in OUTPUT_FILES:
            (partial / name).write_bytes(contents[name])
