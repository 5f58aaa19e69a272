"""Writing files and directories so that an interruption never leaves half of one.

Every artefact the tool stores (records, checkpoints, stores, embeddings, notes) goes through
these: a file is written under a temporary name in its own directory, synced, then renamed over
the target; a directory is filled under ``<name>.partial`` and renamed into place when complete.
A full disk (ENOSPC, EDQUOT) while writing is one BenchError paragraph (which directory, what the
write needed, what was free), and the temporary file or ``.partial`` is removed on every failure.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ssl_music_bench.errors import BenchError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left, quota exceeded: the user must free space


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` is a write that failed because the disk (or the user's quota) is full."""
    return isinstance(error, OSError) and error.errno in DISK_FULL


def megabytes(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


def disk_full_error(directory: Path, what: str, needed_bytes: int | None, error: OSError) -> BenchError:
    """The one paragraph for a write that ran out of space: which directory's disk is full, what
    the write needed and what is free there, and how to go on (nothing half-written is kept)."""
    try:
        free = f"{megabytes(shutil.disk_usage(directory).free)} were free there when it failed"
    except OSError:
        free = "its free space could not be read"
    needed = f"that write needed {megabytes(needed_bytes)}; " if needed_bytes is not None else ""
    quota = " (the disk quota is exceeded)" if error.errno == errno.EDQUOT else ""
    return BenchError(
        f"The disk holding {directory} is full{quota}: writing {what} failed ({needed}{free}). Nothing "
        "half-written was kept. Free space on that disk, or choose a bench home on a larger disk with "
        "--home DIR or the BENCH_HOME environment variable, then run the command again."
    )


@contextlib.contextmanager
def reporting_full_disk(directory: Path, what: str, needed_bytes: int | None = None) -> Iterator[None]:
    """Turn a disk-full OSError raised in the block into :func:`disk_full_error`'s BenchError;
    every other error passes unchanged."""
    try:
        yield
    except OSError as error:
        if not is_disk_full(error):
            raise
        raise disk_full_error(directory, what, needed_bytes, error) from error


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write to a temporary file in the same directory, then rename over the target."""
    write_text_atomic(path, json.dumps(document, indent=2, default=str))


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same directory, synced to disk, then rename over the target."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, synced to disk, then rename over the target.

    A full disk is a BenchError naming the directory and the size of ``data``; the temporary file
    is removed on every failure, so the target is the old version or the new one, never half."""
    with reporting_full_disk(path.parent, path.name, len(data)):
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


PARTIAL_SUFFIX = ".partial"


def partial_path(final: Path) -> Path:
    """The temporary name a directory is written under before :func:`publish` renames it."""
    return final.with_name(final.name + PARTIAL_SUFFIX)


def remove_partial(partial: Path) -> None:
    """Remove a ``<name>.partial`` the tool made (a file or a directory); any other name is refused,
    so that a mistake can never delete something of the user's."""
    if not partial.name.endswith(PARTIAL_SUFFIX):
        raise ValueError(f"{partial} is not a .partial the tool writes; it is not removed")
    if partial.is_dir() and not partial.is_symlink():
        shutil.rmtree(partial, ignore_errors=True)
    else:
        partial.unlink(missing_ok=True)


def publish(partial: Path, final: Path) -> None:
    """Rename the complete ``partial`` into place over any older ``final``, so that ``final``
    is either absent, the old version or the new one, never half-written: the old version is
    renamed aside first and removed only once the new one is in place."""
    replaced = final.with_name(final.name + ".replaced" + PARTIAL_SUFFIX)
    remove_partial(replaced)  # a leftover of an interrupted publish
    if final.exists():
        final.rename(replaced)
    partial.rename(final)
    remove_partial(replaced)


@contextlib.contextmanager
def published_directory(final: Path) -> Iterator[Path]:
    """Write a directory atomically: yields an empty ``<final>.partial`` and publishes it when
    the block ends normally. On any failure (a full disk is a BenchError saying so) the partial
    is removed, so nothing half-written stays behind; a leftover of a killed process is cleared
    by the next try."""
    partial = partial_path(final)
    remove_partial(partial)
    with reporting_full_disk(final.parent, final.name):
        partial.mkdir(parents=True)
    try:
        yield partial
        publish(partial, final)
    except OSError as error:
        written = sum(p.stat().st_size for p in partial.rglob("*") if p.is_file()) if partial.is_dir() else 0
        remove_partial(partial)
        if not is_disk_full(error):
            raise
        what = f"{final.name} ({megabytes(written)} of it were written when the disk filled)"
        raise disk_full_error(final.parent, what, None, error) from error
    except BaseException:
        remove_partial(partial)
        raise


@contextlib.contextmanager
def exclusive_lock(path: Path, waiting_message: str) -> Iterator[None]:
    """Hold the file lock ``path`` for the block, so that two processes never build the same
    artefact at once: the second says ``waiting_message`` on stderr, waits, and then finds the
    first one's work. A killed holder releases it (the operating system drops its lock)."""
    import sys

    from filelock import FileLock, Timeout  # the maintained lock library (a torch dependency)

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(waiting_message, file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def quarantine(path: Path, directory: Path) -> Path:
    """Move a corrupt artefact (file or directory) aside under a unique name and return where it
    went: the tool never deletes what a user may want to inspect."""
    import time

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
    shutil.move(str(path), target)
    return target
