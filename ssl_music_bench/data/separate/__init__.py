"""``bench separate``: split every mixture of a prepared store into four stems with open-unmix.

Multi-source association (Garoufis et al., SMC 2023; cgaroufis/MSCOL_SMC23) pairs a mixture
excerpt with one of its sources, "separated with open-unmix into vocals, drums, bass and other
(accompaniment)", and marks a source excerpt silent when mean(|x|) <= 0.01 over its ~4 s window of
the 16 kHz stem. :func:`separate_store` turns a mixture store into a store of the same items with
the four stems aligned sample for sample, plus each item's per-window levels (field ``silence``),
so pretraining only slices arrays.

One concept per module:

- ``weights``: which separator (open-unmix's published models, their weights from torch hub or a
  local directory); a separator built with ``pretrained=False`` runs the same code path but its
  stems are meaningless (random masks of the mixture): it is for tests;
- ``chunks``: equal-length batches and cross-faded chunks, so memory stays bounded;
- ``work``: the resumable work directory ``<output>.work/`` and its fingerprint;
- ``writer``: the stems store itself, written atomically, or an existing one reused.

So ``output`` is either absent or complete, and an interrupted run resumes with what it separated;
one that fails on a full disk removes its work directory and partial store, so nothing fills the disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress, TaskID

from ssl_music_bench.data.separate.chunks import BatchSeparator, equal_length_batches
from ssl_music_bench.data.separate.weights import load_separator, target_positions
from ssl_music_bench.data.separate.work import SeparationWork, work_fingerprint
from ssl_music_bench.data.separate.writer import (
    SILENCE_WINDOW_SECONDS,
    reuse_stems_store,
    silence_window_samples,
    write_stems_store,
)
from ssl_music_bench.data.store import ClipStore, to_int16
from ssl_music_bench.devices import default_device
from ssl_music_bench.errors import BenchError
from ssl_music_bench.io import is_disk_full


# Nine parameters, all but the first two with defaults: they are `bench separate`'s options
# (which separator, its weights and settings, where it runs, how much audio per call), and
# callers name the few they set.
def separate_store(
    store: ClipStore,
    output: str | Path,
    separator: torch.nn.Module | None = None,
    weights: str | Path | None = None,
    model: str = "umxhq",
    device: torch.device | None = None,
    batch_seconds: float = 120.0,
    niter: int = 1,
    progress: Progress | None = None,
) -> ClipStore:
    """Write at ``output`` a store of ``store``'s items (same order, ids, splits, labels, fields and
    mixtures) with stems ``SOURCES`` separated by open-unmix and the field ``silence``.

    ``silence[source]`` lists mean(|stem|) of the stored (int16) stem per window of
    ``SILENCE_WINDOW_SECONDS``: windows start at 0, 4 s, 8 s, ...; a last partial window is
    dropped; a clip shorter than one window has one level, over the whole clip (exactly the grid of
    :func:`ssl_music_bench.data.multisource.excerpt_grid` with 4 s excerpts). MSA's threshold is 0.01.

    The separator is ``separator`` if given (any open-unmix ``Separator``-like module: a
    ``sample_rate`` buffer, ``target_models`` naming the four targets, ``forward`` from
    (batch, channels, time) to (batch, targets, channels, time)); else the model ``model``
    with the weights in the directory ``weights``; else open-unmix's pretrained ``model``.
    ``niter`` (Wiener EM iterations, open-unmix's default 1) applies to loaded models only.
    ``batch_seconds`` bounds the audio per separator call. An ``output`` already made from this
    store by the same separator is reused; any other existing ``output`` is refused.
    """
    output = Path(output)
    if output.resolve() == store.root.resolve():
        raise BenchError(f"The separated store must go to a new directory, not over its input {store.root}.")
    if batch_seconds <= 0:
        raise BenchError(f"batch_seconds must be positive, got {batch_seconds}.")
    device = device or default_device()
    if separator is None:
        separator = load_separator(model, weights, niter, device)
        described = {"model": model, "weights": str(weights) if weights else "pretrained (torch hub)"}
    else:
        described = {"model": type(separator).__name__, "weights": "given separator"}
    separator = separator.to(device).eval()
    targets = target_positions(separator)
    fingerprint = work_fingerprint(store, separator, batch_seconds)

    if output.exists():
        return reuse_stems_store(output, fingerprint, store, progress)

    work = SeparationWork(output.with_name(output.name + ".work"), fingerprint)
    batch_separator = BatchSeparator(separator, targets, store.sample_rate, batch_seconds, device)
    with _removing_on_failure(work):
        _separate_missing(store, work, batch_separator, batch_seconds, progress)
    separation = {
        **described,
        "separator_rate": batch_separator.rate,
        "niter": getattr(separator, "niter", None),
        "source_store": str(store.root),
        "silence_window_seconds": SILENCE_WINDOW_SECONDS,
        "silence_window_samples": silence_window_samples(store.sample_rate),
        "fingerprint": fingerprint,
    }
    with _removing_on_failure(work):
        result = write_stems_store(store, output, work, separation, progress)  # removes its .partial on failure
    work.remove()  # the store is published: the second copy of the stems goes
    return result


@contextlib.contextmanager
def _removing_on_failure(work: SeparationWork) -> Iterator[None]:
    """A full disk in the block removes the work directory, so nothing is left filling the disk
    (the space is what the user needs back); any other failure or an interruption (Ctrl-C, a
    kill) keeps it, and the next run with the same settings resumes from it."""
    try:
        yield
    except BenchError as error:
        if is_disk_full(error.__cause__):
            with contextlib.suppress(BenchError):  # foreign files in it: kept, and the first error shown
                work.remove()
        raise


def _separate_missing(store: ClipStore, work: SeparationWork, batch_separator: BatchSeparator,
                      batch_seconds: float, progress: Progress | None) -> None:
    """Separate every clip of ``store`` that ``work`` does not hold yet, batch by batch into ``work``."""
    pending = [i for i in range(len(store)) if i not in work.done]
    task: TaskID | None = None
    if progress is not None:
        resumed = f" (resuming: {len(work.done)} done before)" if work.done else ""
        task = progress.add_task(f"separating with open-unmix{resumed}", total=len(store), completed=len(work.done))
    with torch.inference_mode():
        for batch in equal_length_batches(store, pending, batch_seconds):
            audio = torch.from_numpy(np.stack([store.read(i) for i in batch])).to(batch_separator.device)
            stems = batch_separator(audio)
            work.save(batch, to_int16(stems.cpu().numpy()))
            if progress is not None and task is not None:
                progress.advance(task, len(batch))
