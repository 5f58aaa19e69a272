"""The resumable work directory of `bench separate`: separated batches kept until the store is written.

Results are kept per batch in ``<output>.work/`` (one int16 array per batch, listed in
``done.jsonl``) under a fingerprint of the input manifest, the separator's weights and settings;
a re-run with the same fingerprint separates only what is missing, and any other fingerprint
starts afresh. Until the stems store is published the work directory holds a second copy of the
stems; it is removed once the store is in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from ssl_music_bench.data.separate.chunks import CROSSFADE_SECONDS
from ssl_music_bench.data.store import ClipStore, save_npy
from ssl_music_bench.errors import BenchError
from ssl_music_bench.io import reporting_full_disk, write_json_atomic

WORK_FORMAT = 1


def work_fingerprint(store: ClipStore, separator: torch.nn.Module, batch_seconds: float) -> str:
    """What the stems depend on: the input items, the weights, the separation settings."""
    digest = hashlib.sha256()
    digest.update((store.root / "manifest.jsonl").read_bytes())
    settings = {
        "format": WORK_FORMAT,
        "store_rate": store.sample_rate,
        "batch_seconds": batch_seconds,
        "crossfade": CROSSFADE_SECONDS,
        **{name: getattr(separator, name, None) for name in ("niter", "softmask", "residual", "wiener_win_len")},
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for name, tensor in separator.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


class SeparationWork:
    """Separated batches kept on disk until the store is published: ``job.json`` (fingerprint),
    ``batch-<first index>.npy`` (int16, (clips, sources, time)), ``done.jsonl`` (which clips)."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.root = root
        self.done: dict[int, tuple[str, int]] = {}  # store index -> (file, row)
        job = root / "job.json"
        if root.exists() and _job_fingerprint(job) != fingerprint:
            self.remove()  # another input or separator: nothing to resume
        write_json_atomic(job, {"fingerprint": fingerprint})  # a cut write would fail the next run's read
        done = root / "done.jsonl"
        if done.is_file():
            for line in done.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line cut by an interruption
                    continue
                if (root / entry["file"]).is_file():
                    self.done.update({i: (entry["file"], row) for row, i in enumerate(entry["indices"])})
        self._arrays: dict[str, np.ndarray] = {}

    def save(self, indices: list[int], stems: np.ndarray) -> None:
        """Keep the int16 stems of the clips ``indices`` (one batch), then record them as done."""
        name = f"batch-{indices[0]:08d}.npy"
        temporary = self.root / f"{name}.tmp.npy"
        with reporting_full_disk(self.root.parent, f"the separated stems {name} (`bench separate`'s work)",
                                 stems.nbytes):
            save_npy(temporary, stems)
            os.replace(temporary, self.root / name)
            with open(self.root / "done.jsonl", "a", encoding="utf-8") as done:
                done.write(json.dumps({"file": name, "indices": indices}) + "\n")
                done.flush()
                os.fsync(done.fileno())
        self.done.update({i: (name, row) for row, i in enumerate(indices)})

    def stems(self, index: int) -> np.ndarray:
        """The int16 stems (sources, time) of store item ``index``, memory-mapped from its batch."""
        name, row = self.done[index]
        if name not in self._arrays:
            if len(self._arrays) >= 64:  # each memory map holds a file descriptor
                self._arrays.clear()
            self._arrays[name] = np.load(self.root / name, mmap_mode="r")
        return self._arrays[name][row]

    def remove(self) -> None:
        """Remove the work directory, which only ever holds what this class writes: anything else
        there is not the tool's, and is refused rather than deleted."""
        if not self.root.exists():
            return
        foreign = [] if self.root.is_dir() and not self.root.is_symlink() else [self.root]
        foreign += [p for p in self.root.iterdir() if not _is_work_file(p.name)] if not foreign else []
        if foreign:
            raise BenchError(
                f"{self.root} is where `bench separate` keeps its unfinished work, but it holds files the "
                f"tool did not write ({', '.join(p.name for p in foreign[:3])}). Nothing was deleted: move "
                "that folder elsewhere, then run `bench separate` again."
            )
        shutil.rmtree(self.root)


def _job_fingerprint(job: Path) -> str | None:
    """The fingerprint a work directory was started with, or None when job.json is absent or unreadable."""
    try:
        document = json.loads(job.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return document.get("fingerprint") if isinstance(document, dict) else None


def _is_work_file(name: str) -> bool:
    """Whether ``name`` is one of the files SeparationWork writes (job.json and its temporary
    copies, done.jsonl, batches and their temporary copies)."""
    return (name in ("job.json", "done.jsonl") or (name.startswith(".job.json.") and name.endswith(".tmp"))
            or (name.startswith("batch-") and name.endswith(".npy")))
