"""Writing files and directories so that an interruption never leaves half of one.

Every artefact the tool stores (records, checkpoints, stores, embeddings, notes) goes through
these: a file is written under a temporary name in its own directory, synced, then renamed over
the target; a directory is filled under ``<name>.partial`` and renamed into place when complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write to a temporary file in the same directory, then rename over the target."""
    write_text_atomic(path, json.dumps(document, indent=2, default=str))


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same directory, synced to disk, then rename over the target."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, synced to disk, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def partial_path(final: Path) -> Path:
    """The temporary name a directory is written under before :func:`publish` renames it."""
    return final.with_name(final.name + ".partial")


def publish(partial: Path, final: Path) -> None:
    """Rename the complete ``partial`` into place over any older ``final``, so that ``final``
    is either absent, the old version or the new one, never half-written."""
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)


@contextlib.contextmanager
def published_directory(final: Path) -> Iterator[Path]:
    """Write a directory atomically: yields an empty ``<final>.partial`` and publishes it when
    the block ends normally (after an error it is left there, and cleared by the next try)."""
    partial = partial_path(final)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    yield partial
    publish(partial, final)
