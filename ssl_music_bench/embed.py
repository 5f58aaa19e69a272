"""Frozen embeddings of whole clips, chunk by chunk.

Each clip is resampled to the encoder's rate on the device and split into consecutive
non-overlapping chunks of the encoder's crop length (the last partial chunk is dropped; a clip
shorter than one chunk is zero-padded to one), as in CLMR's evaluation. Chunks of many clips
are embedded together in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from rich.progress import Progress
from torch import Tensor

from ssl_music_bench.audio import resample
from ssl_music_bench.store import ClipStore


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
