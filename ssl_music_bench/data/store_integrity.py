"""What a clip store is checked for every time it is opened, so a damaged store is never read.

Checked on every open (all of it costs a few file headers and one pass over the manifest, far
less than reading the audio):

- ``store.json`` is a JSON object with the keys and types the writer gives it: ``format`` (the
  reader's version), a positive integer ``sample_rate``, ``sources`` a list of names, ``items``
  and ``shards`` non-negative integers (``shards`` optional, as in the first stores);
- ``manifest.jsonl`` has one JSON object per line, ``items`` of them, each with a string ``id``,
  a known ``split``, a list of string ``labels``, a number ``seconds``, a string ``status`` and
  integer ``shard``, ``offset``, ``length``; a stored (``ok``) item's shard is one of the store's;
- every shard the manifest names exists for the mix and every source, as a one-dimensional int16
  ``.npy`` whose header's length is exactly the end of its last clip, and whose file size is
  what that header promises (a truncated or cut shard is caught here, from its header and size).

Not checked: the sample values themselves (a flipped bit inside the audio). Hashing every shard
would read the whole store on every open (tens of gigabytes for MSD), and int16 samples cannot be
NaN or infinite, so such damage stays bounded to a click in one clip.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ssl_music_bench.errors import BenchError


class CorruptStore(BenchError):
    """A clip store that fails its checks: ``problem`` says which file and what is wrong."""

    def __init__(self, root: Path, problem: str) -> None:
        self.root = root
        self.problem = problem
        super().__init__(f"The clip store {root} is damaged: {problem}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_header(root: Path, header: Any, format_version: int) -> None:
    """Raise CorruptStore unless ``header`` (store.json, parsed) has the writer's keys and types."""
    if not isinstance(header, dict):
        raise CorruptStore(root, f"store.json holds a JSON {type(header).__name__}, not an object")
    if header.get("format") != format_version:
        raise CorruptStore(root, f"store.json says format {header.get('format')!r}, this reader reads "
                                 f"format {format_version}")
    rate = header.get("sample_rate")
    if not _is_int(rate) or rate <= 0:
        raise CorruptStore(root, f"store.json's sample_rate is {rate!r}, not a positive integer")
    sources = header.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(name, str) and name for name in sources):
        raise CorruptStore(root, f"store.json's sources are {sources!r}, not a list of stem names")
    for key in ("items", "shards"):
        value = header.get(key, 0)
        if not _is_int(value) or value < 0:
            raise CorruptStore(root, f"store.json's {key} is {value!r}, not a count")
    if "items" not in header:
        raise CorruptStore(root, "store.json has no item count")


_LINE_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "split": (str,), "labels": (list,), "seconds": (int, float), "status": (str,),
    "shard": (int,), "offset": (int,), "length": (int,),
}


def check_manifest_line(root: Path, number: int, line: Any, splits: Sequence[str]) -> None:
    """Raise CorruptStore unless manifest line ``number`` (parsed) is an item the writer wrote."""
    where = f"manifest.jsonl line {number}"
    if not isinstance(line, dict):
        raise CorruptStore(root, f"{where} is a JSON {type(line).__name__}, not an item")
    for key, types in _LINE_TYPES.items():
        value = line.get(key)
        if not isinstance(value, types) or isinstance(value, bool):
            expected = " or ".join(t.__name__ for t in types)
            raise CorruptStore(root, f"{where} has {key} = {value!r}, expected {expected}")
    if line["split"] not in splits:
        raise CorruptStore(root, f"{where} has split {line['split']!r}, not one of {', '.join(splits)}")
    if not all(isinstance(label, str) for label in line["labels"]):
        raise CorruptStore(root, f"{where} has labels that are not strings: {line['labels']!r}")
    if not math.isfinite(line["seconds"]) or line["offset"] < 0 or line["length"] < 0:
        raise CorruptStore(root, f"{where} has an impossible position or duration "
                                 f"(offset {line['offset']}, length {line['length']}, seconds {line['seconds']})")


def read_manifest_lines(root: Path, expected_items: int, splits: Sequence[str]) -> list[dict[str, Any]]:
    """The manifest's lines, each checked; raise CorruptStore on the first bad one or a wrong count."""
    path = root / "manifest.jsonl"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise CorruptStore(root, "manifest.jsonl is missing") from error
    except (OSError, UnicodeDecodeError) as error:
        raise CorruptStore(root, f"manifest.jsonl cannot be read ({error})") from error
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as error:
            raise CorruptStore(root, f"manifest.jsonl line {number} is not JSON ({error.msg})") from error
        check_manifest_line(root, number, line, splits)
        lines.append(line)
    if len(lines) != expected_items:
        raise CorruptStore(root, f"manifest.jsonl lists {len(lines)} items, store.json says {expected_items}")
    return lines


def shard_lengths(root: Path, lines: Sequence[Mapping[str, Any]], shards: int | None) -> dict[int, int]:
    """Each shard's length in samples as the manifest implies it: the end of its last stored clip."""
    ends: dict[int, int] = {}
    for line in lines:
        if line["status"] != "ok":
            continue
        shard = line["shard"]
        if shard < 0 or (shards is not None and shard >= shards):
            raise CorruptStore(root, f"item {line['id']} is in shard {shard}, but the store has "
                                     f"{shards if shards is not None else 'no such'} shards")
        ends[shard] = max(ends.get(shard, 0), line["offset"] + line["length"])
    return ends


_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def check_shard(root: Path, path: Path, expected_length: int) -> None:
    """Raise CorruptStore unless ``path`` is an int16 vector of ``expected_length`` samples, whole.

    Reads only the .npy header (a few hundred bytes) and the file's size."""
    name = path.name
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = _HEADER_READERS.get(version)
            if read_header is None:
                raise ValueError(f".npy format version {version}, which the writer never uses")
            shape, _, dtype = read_header(handle)
            data_start = handle.tell()
        size = path.stat().st_size
    except FileNotFoundError as error:
        raise CorruptStore(root, f"the shard {name} is missing") from error
    except (OSError, ValueError) as error:
        raise CorruptStore(root, f"the shard {name} is not a readable .npy file ({error})") from error
    if dtype != np.int16 or len(shape) != 1:
        raise CorruptStore(root, f"the shard {name} holds {dtype} of shape {shape}, expected a vector of int16")
    if shape[0] != expected_length:
        raise CorruptStore(root, f"the shard {name} holds {shape[0]} samples, the manifest needs {expected_length}")
    if size != data_start + 2 * expected_length:
        raise CorruptStore(root, f"the shard {name} is {size} bytes, its header promises "
                                 f"{data_start + 2 * expected_length} (the file was cut or extended)")
