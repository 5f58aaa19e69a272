"""The embedding cache, and listing/clearing of everything cached under the home directory.

Embeddings of a split are keyed by the weights' content hash, the store's manifest hash, the
clips embedded and the chunking, so every probe seed, label fraction and task that embeds the
same clips with the same checkpoint reuses them (synth-tags and synth-genre share their songs).
Entries are written to a temporary name and renamed into place, with the sha256 of their
tensors in the file's metadata; an entry that is unreadable or fails that check when read is
reported, moved to HOME/quarantine/embeddings/ (never silently deleted) and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from ssl_music_bench.home import checkpoints_dir, embeddings_dir, quarantine_dir
from ssl_music_bench.io import exclusive_lock, quarantine
from ssl_music_bench.train.checkpoint import CONFIG


def embedding_key(weights_sha256: str, manifest_sha256: str, ids: list[str], sample_rate: int, chunk: int) -> str:
    digest = hashlib.sha256(json.dumps([weights_sha256, manifest_sha256, ids, sample_rate, chunk]).encode())
    return digest.hexdigest()[:24]


def tensors_sha256(embeddings: Tensor, owner: Tensor) -> str:
    """The checksum stored with an entry: its two tensors' bytes, dtypes and shapes."""
    digest = hashlib.sha256()
    for tensor in (embeddings, owner):
        array = tensor.contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def load_embeddings(home: Path, key: str) -> tuple[Tensor, Tensor] | None:
    """(embeddings, owner) when cached and intact; None when absent, or when unreadable or altered
    (then the entry is moved to the quarantine and the caller rebuilds it)."""
    path = embeddings_dir(home) / f"{key}.safetensors"
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:  # one open: checksum and tensors
            stored = (handle.metadata() or {}).get("sha256")
            embeddings, owner = handle.get_tensor("embeddings"), handle.get_tensor("owner")
        if stored is None:
            problem = "it carries no checksum (written before entries were verified)"
        elif tensors_sha256(embeddings, owner) != stored:
            problem = "its contents do not match the checksum stored with them"
        else:
            return embeddings, owner
    except (SafetensorError, KeyError, OSError) as error:
        problem = f"it is unreadable ({error})"
    moved = quarantine(path, quarantine_dir(home, "embeddings"))
    print(f"warning: the cached embeddings {path.name} were not used: {problem}; moved to {moved}, "
          "rebuilding them", file=sys.stderr)
    return None


@contextlib.contextmanager
def embedding_lock(home: Path, key: str) -> Iterator[None]:
    """Held while one process looks up, and if need be embeds and saves, the entry ``key``: a
    second run of the same embedding waits, then reuses the entry instead of embedding again."""
    with exclusive_lock(embeddings_dir(home) / f"{key}.lock",
                        f"waiting for another run that is embedding the same clips ({key}) ..."):
        yield


def save_embeddings(home: Path, key: str, embeddings: Tensor, owner: Tensor, about: dict[str, str]) -> None:
    directory = embeddings_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{key}.", suffix=".tmp")
    os.close(handle)
    metadata = {**about, "sha256": tensors_sha256(embeddings, owner)}
    try:
        save_file({"embeddings": embeddings.contiguous(), "owner": owner.contiguous()}, temporary, metadata=metadata)
        os.replace(temporary, directory / f"{key}.safetensors")
    finally:
        Path(temporary).unlink(missing_ok=True)


@dataclass(frozen=True)
class CacheEntry:
    kind: str  # "checkpoint", "resume" (an interrupted pretraining's state), "snapshots" (train/snapshots.py) or "embeddings"
    path: Path
    bytes: int
    about: dict[str, str]

    @property
    def unreadable(self) -> bool:
        """Its own description (metadata, config.json, spec.json) could not be read: nothing proves
        the tool made it, so it is listed, never removed."""
        return self.about == UNREADABLE

    def matches(self, method: str | None, task: str | None) -> bool:
        return (method is None or self.about.get("method") == method) and (
            task is None or self.kind in PRETRAINING_KINDS or self.about.get("task") == task
        )


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


PRETRAINING_KINDS = ("checkpoint", "resume", "snapshots")  # shared by every task, so a task filter keeps them


def _about_pretraining(spec: dict[str, Any]) -> dict[str, str]:
    return {"method": str(spec.get("method")), "encoder": str(spec.get("encoder")), "seed": str(spec.get("seed"))}


UNREADABLE = {"state": "unreadable"}  # what an entry says about itself when its own description cannot be read


def _described_pretraining(description: Path, spec_key: str | None) -> dict[str, str]:
    """The method, encoder and seed that a checkpoint's config.json (its "spec") or a resume or
    snapshots folder's spec.json names; UNREADABLE when that file is not the JSON object the tool
    writes (cut short, edited, or another program's), so that listing goes on and clearing leaves
    the folder alone: nothing proves the tool made it."""
    try:
        spec = json.loads(description.read_text())
        if spec_key is not None:
            spec = spec.get(spec_key, {}) if isinstance(spec, dict) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return dict(UNREADABLE)
    return _about_pretraining(spec) if isinstance(spec, dict) else dict(UNREADABLE)


def cache_entries(home: Path) -> list[CacheEntry]:
    from safetensors import safe_open

    entries = []
    for directory in sorted(checkpoints_dir(home).glob("*")):
        if directory.is_dir() and (directory / CONFIG).is_file():
            about = _described_pretraining(directory / CONFIG, "spec")
            entries.append(CacheEntry("checkpoint", directory, _size(directory), about))
        elif (directory.is_dir() and directory.name.endswith((".resume", ".snapshots"))
              and (directory / "spec.json").is_file()):
            about = _described_pretraining(directory / "spec.json", None)  # an interrupted pretraining, or kept steps
            kind = "resume" if directory.name.endswith(".resume") else "snapshots"
            entries.append(CacheEntry(kind, directory, _size(directory), about))
    for path in sorted(embeddings_dir(home).glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                about = dict(handle.metadata() or {})
        except (SafetensorError, OSError):
            about = dict(UNREADABLE)
        entries.append(CacheEntry("embeddings", path, _size(path), about))
    return entries


def clear_cache(home: Path, method: str | None = None, task: str | None = None) -> list[CacheEntry]:
    """Remove the entries of a method and/or a task (all when neither is given); return them.

    A task filter removes embeddings only: checkpoints are shared by every task. A ``.safetensors``
    file under HOME/embeddings that cannot be read, or a checkpoint, resume or snapshots folder
    whose JSON description cannot be, carries none of the metadata the tool writes, so nothing
    proves it is the tool's: it is left where it is (``bench cache clear`` names it).
    """
    removed = []
    for entry in cache_entries(home):
        if (task is not None and entry.kind in PRETRAINING_KINDS) or entry.unreadable:
            continue
        if entry.matches(method, task):
            shutil.rmtree(entry.path) if entry.path.is_dir() else entry.path.unlink()
            removed.append(entry)
    return removed
