"""The clip store: decoded, mono, fixed-rate audio in memory-mappable shards plus a manifest.

Every dataset (the synthetic corpus, and real datasets after ``bench prepare``) is read through
this one format, so samplers and embedding extraction never decode audio: they slice arrays.

Layout of a store directory::

    store.json          format version, sample rate, sources (stems), number of items
    manifest.jsonl      one JSON object per item: id, split, labels, seconds, status,
                        shard, offset, length, and any task-specific fields
    mix-00000.npy       int16 samples of consecutive clips (memory-mapped on read)
    <source>-00000.npy  stems aligned sample for sample with the mix (optional)

Audio is kept as int16 (96 dB of range, half the size of float32). A store is written to a
temporary directory (``<name>.partial``) and renamed into place when complete, so an interrupted
run never leaves a half-written store behind; a failed write (a full disk is one paragraph saying
how much it needed) removes the partial. Every open checks the store first
(ssl_music_bench/data/store_integrity.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ssl_music_bench.data.store_integrity import (
    CorruptStore,
    check_header,
    check_shard,
    read_manifest_lines,
    shard_lengths,
)
from ssl_music_bench.io import megabytes, partial_path, publish, remove_partial, reporting_full_disk

FORMAT_VERSION = 1
INT16_SCALE = 32767.0
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class ClipInfo:
    """One manifest line."""

    id: str
    split: str
    labels: tuple[str, ...]
    seconds: float
    status: str = "ok"
    shard: int = -1
    offset: int = 0
    length: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        line = {
            "id": self.id,
            "split": self.split,
            "labels": list(self.labels),
            "seconds": round(self.seconds, 4),
            "status": self.status,
            "shard": self.shard,
            "offset": self.offset,
            "length": self.length,
        }
        line.update(self.extra)
        return line

    @classmethod
    def from_json(cls, line: Mapping[str, Any]) -> ClipInfo:
        known = {"id", "split", "labels", "seconds", "status", "shard", "offset", "length"}
        return cls(
            id=str(line["id"]),
            split=line["split"],
            labels=tuple(line.get("labels", ())),
            seconds=float(line.get("seconds", 0.0)),
            status=line.get("status", "ok"),
            shard=int(line.get("shard", -1)),
            offset=int(line.get("offset", 0)),
            length=int(line.get("length", 0)),
            extra={k: v for k, v in line.items() if k not in known},
        )


def to_int16(audio: np.ndarray) -> np.ndarray:
    return np.round(np.clip(audio, -1.0, 1.0) * INT16_SCALE).astype(np.int16)


def from_int16(samples: np.ndarray) -> np.ndarray:
    """Stored int16 samples as float32 in [-1, 1]: the one inverse of :func:`to_int16`."""
    # one float32 array on the loaders' hot path (astype then divide made two), and a plain
    # ndarray even when ``samples`` is a slice of a memory map
    return np.divide(samples, INT16_SCALE, dtype=np.float32)


class _PythonWrites:
    """A file that numpy writes through Python's ``write``: numpy's fast path for real files
    (``tofile``) reports a full disk as "N requested and M written" without an errno, so it could
    not be told from other failures; Python's write raises OSError(ENOSPC). Same bytes either way."""

    def __init__(self, handle: BinaryIO) -> None:
        self.write = handle.write


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` to ``path``, with a full disk raised as OSError(ENOSPC) (see _PythonWrites)."""
    with open(path, "wb") as handle:
        np.save(_PythonWrites(handle), array)  # type: ignore[arg-type]


def _read_header(root: Path) -> dict[str, Any]:
    """store.json, parsed and checked; FileNotFoundError when ``root`` holds no store at all."""
    path = root / "store.json"
    if not path.is_file():
        raise FileNotFoundError(f"{root} is not a clip store (no store.json)")
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptStore(root, f"store.json is not readable JSON ({error})") from error
    check_header(root, header, FORMAT_VERSION)
    return header


def _plain(value: Any) -> Any:
    """numpy scalars and arrays in task-specific fields -> plain JSON values."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class ClipStoreWriter:
    """Append clips (and their stems) to a new store; ``close()`` publishes it atomically."""

    def __init__(
        self,
        root: str | Path,
        sample_rate: int,
        sources: Sequence[str] = (),
        shard_samples: int = 16_000 * 60 * 20,
        metadata: Mapping[str, Any] | None = None,
        resume: bool = False,
    ) -> None:
        self.root = Path(root)
        self.partial = partial_path(self.root)
        self.sample_rate = sample_rate
        self.sources = tuple(sources)
        self.shard_samples = shard_samples
        self.metadata = dict(metadata or {})
        self._buffers: dict[str, list[np.ndarray]] = {name: [] for name in ("mix", *self.sources)}
        self._shard = 0
        self._offset = 0
        self._written_bytes = 0  # of shards, for the message when the disk fills up
        kept: list[str] = []
        with self._reporting_full_disk("its first files"):
            if resume and self.partial.is_dir():
                kept = self._recover()
            else:
                remove_partial(self.partial)  # a leftover of a killed run: the tool's own name
                self.partial.mkdir(parents=True)
            self.done_ids = {json.loads(line)["id"] for line in kept}
            self._manifest = open(self.partial / "manifest.jsonl", "w", encoding="utf-8")
            for line in kept:
                self._manifest.write(line)
        self._count = len(kept)

    def _reporting_full_disk(self, what: str, needed: int | None = None) -> contextlib.AbstractContextManager[None]:
        """A full disk while writing ``what`` of this store, as one paragraph (io.disk_full_error)."""
        written = f" (after {megabytes(self._written_bytes)} of its audio)" if self._written_bytes else ""
        return reporting_full_disk(self.root.parent, f"{what} of the clip store {self.root.name}{written}", needed)

    def _recover(self) -> list[str]:
        """Keep what an interrupted run finished: whole shards and the manifest lines that
        belong to them (an item's line names the shard it was written into)."""
        complete = 0
        while all((self.partial / f"{name}-{complete:05d}.npy").is_file() for name in self._buffers):
            complete += 1
        for stray in self.partial.glob("*.npy"):
            name, _, number = stray.stem.rpartition("-")
            if name in self._buffers and number.isdigit() and int(number) >= complete:  # only shards it writes
                stray.unlink()
        for name in self._buffers:  # a shard cut off while it was written
            for temporary in self.partial.glob(f"{name}-*.npy.tmp"):
                temporary.unlink()
        kept = []
        manifest = self.partial / "manifest.jsonl"
        lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True) if manifest.is_file() else []
        for line in lines:
            try:
                shard = json.loads(line)["shard"]
            except (json.JSONDecodeError, KeyError):
                break  # a line cut off by the interruption, and nothing after it
            if line.endswith("\n") and shard < complete:
                kept.append(line)
        self._shard = complete
        return kept

    def add(
        self,
        id: str,
        split: str,
        labels: Sequence[str],
        audio: np.ndarray,
        stems: Mapping[str, np.ndarray] | None = None,
        **extra: Any,
    ) -> None:
        """Add one clip (float audio in [-1, 1]); stems, if the store has sources, are required."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if set(stems or {}) != set(self.sources):
            raise ValueError(f"clip {id}: expected stems {self.sources}, got {sorted(stems or {})}")
        for name, stem in (stems or {}).items():
            if len(stem) != len(audio):
                raise ValueError(f"clip {id}: stem {name} has {len(stem)} samples, mix {len(audio)}")
        info = ClipInfo(
            id=id,
            split=split,
            labels=tuple(labels),
            seconds=len(audio) / self.sample_rate,
            shard=self._shard,
            offset=self._offset,
            length=len(audio),
            extra=extra,
        )
        self._buffers["mix"].append(to_int16(audio))
        for name in self.sources:
            self._buffers[name].append(to_int16(np.asarray(stems[name], dtype=np.float32)))
        self._offset += len(audio)
        self._write_line(info)
        if self._offset >= self.shard_samples:
            self._flush()

    def skip(self, id: str, split: str, reason: str, labels: Sequence[str] = (), **extra: Any) -> None:
        """Record an item that could not be stored (corrupt, missing, too short) and why."""
        # the line names the shard being filled, so that resuming keeps or redoes it with that shard
        info = ClipInfo(id, split, tuple(labels), 0.0, status=f"skipped: {reason}", shard=self._shard, extra=extra)
        self._write_line(info)

    def _write_line(self, info: ClipInfo) -> None:
        line = json.dumps(info.to_json(), default=_plain) + "\n"
        with self._reporting_full_disk("the manifest", len(line)):
            self._manifest.write(line)
        self._count += 1

    def _flush(self) -> None:
        if self._offset == 0:
            return
        with self._reporting_full_disk("the manifest"):
            self._manifest.flush()
        for name, chunks in self._buffers.items():
            # temporary name then rename: a shard file that exists is complete
            final = self.partial / f"{name}-{self._shard:05d}.npy"
            temporary = final.with_name(final.name + ".tmp")
            samples = np.concatenate(chunks)
            with self._reporting_full_disk(f"the shard {final.name}", samples.nbytes):
                save_npy(temporary, samples)
                temporary.rename(final)
            self._written_bytes += samples.nbytes
            chunks.clear()
        self._shard += 1
        self._offset = 0

    def close(self) -> ClipStore:
        self._flush()
        with self._reporting_full_disk("the manifest"):
            self._manifest.close()
        header = {
            "format": FORMAT_VERSION,
            "sample_rate": self.sample_rate,
            "sources": list(self.sources),
            "items": self._count,
            "shards": self._shard,
            **self.metadata,
        }
        with self._reporting_full_disk("store.json"):
            (self.partial / "store.json").write_text(json.dumps(header, indent=2))
            publish(self.partial, self.root)
        return ClipStore(self.root)

    def abort(self) -> None:
        """Remove the unfinished store. Closing the manifest flushes its buffer, which fails again
        on a full disk: that second error is dropped, so the first one is the one reported."""
        with contextlib.suppress(OSError):
            self._manifest.close()
        remove_partial(self.partial)

    def __enter__(self) -> ClipStoreWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.close()
        except BaseException:
            self.abort()
            raise


class ClipStore:
    """Read side of a store: the manifest in memory, the audio memory-mapped.

    Opening checks the store (ssl_music_bench/data/store_integrity.py says what is checked and
    what is not): a damaged store raises :class:`CorruptStore`, a BenchError naming the file and
    the problem, and is never read; a folder without store.json raises FileNotFoundError."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.header: dict[str, Any] = _read_header(self.root)
        self.sample_rate: int = int(self.header["sample_rate"])
        self.sources: tuple[str, ...] = tuple(self.header.get("sources", ()))
        lines = read_manifest_lines(self.root, self.header["items"], SPLITS)
        shards = self.header.get("shards")
        for shard, length in shard_lengths(self.root, lines, shards).items():
            for name in ("mix", *self.sources):
                check_shard(self.root, self.root / f"{name}-{shard:05d}.npy", length)
        self.manifest = [ClipInfo.from_json(line) for line in lines]
        self.items = [info for info in self.manifest if info.status == "ok"]
        self._shards: dict[tuple[str, int], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ClipInfo]:
        return iter(self.items)

    def indices(self, split: str) -> list[int]:
        return [i for i, info in enumerate(self.items) if info.split == split]

    def _array(self, name: str, shard: int) -> np.ndarray:
        key = (name, shard)
        if key not in self._shards:
            self._shards[key] = np.load(self.root / f"{name}-{shard:05d}.npy", mmap_mode="r")
        return self._shards[key]

    def read(self, index: int, start: int = 0, length: int | None = None, source: str = "mix") -> np.ndarray:
        """Samples [start, start+length) of item ``index`` as float32 in [-1, 1]."""
        info = self.items[index]
        if source != "mix" and source not in self.sources:
            raise KeyError(f"store {self.root} has no stem {source!r} (stems: {self.sources})")
        length = info.length - start if length is None else length
        if start < 0 or start + length > info.length:
            raise IndexError(f"samples [{start}, {start + length}) outside clip {info.id} of {info.length}")
        begin = info.offset + start
        return from_int16(self._array(source, info.shard)[begin : begin + length])

    def __getstate__(self) -> dict[str, Any]:
        # memory maps are reopened in each DataLoader worker rather than pickled
        state = self.__dict__.copy()
        state["_shards"] = {}
        return state
