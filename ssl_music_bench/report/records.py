"""Run records: one JSON document per finished run, written atomically.

A record carries everything needed to trust and re-derive its numbers: what ran (method and
its config, encoder, task, protocol with its hash, seed), what came out (metrics), how long it
took, and provenance (package versions, git SHA and dirty flag, hardware, dataset manifest hash).

Its file name is built from the method label, encoder, task, seed, protocol and (from version 2 on)
the synthetic corpus version and the protocol version, so each of them is checked to be a safe
name (no "..", no "/") before a path is made of it; a run on a new corpus, or under a new version
of its protocol, never overwrites the record of the old one. A record is checked
against its schema when it is read (:func:`record_problem`: the keys that the table, the plots
and `bench status` use, with their types); a file that is not a valid record is reported and
left out, never shown as a result.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ssl_music_bench.contracts.registry import check_safe_name
from ssl_music_bench.errors import BenchError
from ssl_music_bench.home import records_dir
from ssl_music_bench.io import write_json_atomic

if TYPE_CHECKING:
    from ssl_music_bench.contracts.protocol import Protocol

SCHEMA_VERSION = 1
PACKAGES = ("ssl-music-bench", "torch", "torchaudio", "torchvision", "lightly", "timm", "torchmetrics",
            "pytorch-lightning", "nnAudio", "numpy")
FAILURE_FOLDER = "failed"  # records/<protocol>/failed/<record name>: `bench run`'s failure notes, not records


def task_label(record: dict[str, Any]) -> str:
    """The task with its label fraction when below 1, e.g. ``mtat@0.01``: a record's file name and
    its leaderboard column (a probe on fewer labels is a different column)."""
    fraction = record.get("label_fraction", 1.0)
    return record["task"] if fraction == 1.0 else f"{record['task']}@{fraction:g}"


def corpus_version(record: dict[str, Any]) -> int | None:
    """The record's synthetic corpus version (``dataset.corpus_version``); None for real data.
    Records written before the field existed were all made on version 1 of the synthetic corpus."""
    dataset = record.get("dataset") or {}
    if "corpus_version" in dataset:
        return dataset["corpus_version"]
    return 1 if str(record["task"]).startswith("synth-") else None


def protocol_version(record: dict[str, Any]) -> int:
    """The version of the protocol a record was made under (every record stores it)."""
    return record["protocol"].get("version", 1)


def identity_of_run(method: str, encoder: str, task: str, seed: int, protocol: Protocol,
                    label_fraction: float = 1.0) -> dict[str, Any]:
    """The fields that name the record of a run made now (today's version of ``protocol``, on
    today's synthetic corpus): what `bench status` and the grid look up with :func:`recorded_path`."""
    from ssl_music_bench.data.synthetic_corpus import current_corpus_version

    return {"method": method, "encoder": encoder, "task": task, "seed": seed, "label_fraction": label_fraction,
            "protocol": {"name": protocol.name, "version": protocol.version},
            "dataset": {"corpus_version": current_corpus_version(task)}}


def recorded_path(home: Path, identity: dict[str, Any]) -> Path:
    """Where the record of ``identity`` is: :func:`record_path`, or, for a protocol version above 1
    recorded before the version entered the name, the name without it when that file holds a
    record of this version (so that such runs are not made again); else :func:`record_path`."""
    path = record_path(home, identity)
    if path.exists() or protocol_version(identity) == 1:
        return path
    unversioned = record_path(home, {**identity, "protocol": {**identity["protocol"], "version": 1}})
    record, _ = read_record(unversioned) if unversioned.exists() else (None, "")
    return unversioned if record is not None and protocol_version(record) == protocol_version(identity) else path


def record_path(home: Path, record: dict[str, Any]) -> Path:
    """HOME/records/<protocol>/<method>__<encoder>__<task>__seed<seed>[__corpus<N>][__protocol<V>].json;
    every part is checked to be a safe name first, so that no record or note is written outside
    the records folder. The corpus and protocol suffixes appear from version 2 on, so version-1
    records keep their names: two versions of a protocol, or of the corpus, never share a file."""
    method = re.sub(r"[^A-Za-z0-9._-]+", "_", str(record["method"])).strip("_")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", method):
        raise BenchError(f"The method label {record['method']!r} cannot name a record file: it must start with a "
                         "letter or digit (it starts with the method's registered name).")
    encoder, task = check_safe_name("encoder", record["encoder"]), check_safe_name("task", record["task"])
    protocol = check_safe_name("protocol", record["protocol"]["name"])
    seed, fraction = record["seed"], record.get("label_fraction", 1.0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not _is_number(fraction):
        raise BenchError(f"A record's seed is a whole number and its label fraction a number, not {seed!r} and "
                         f"{fraction!r}: they name its file.")
    version = corpus_version(record)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise BenchError(f"A record's corpus version is a whole number or null, not {version!r}: it names its file.")
    corpus = f"__corpus{version}" if version is not None and version > 1 else ""
    revision = protocol_version(record)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise BenchError(f"A record's protocol version is a whole number of at least 1, not {revision!r}: it names "
                         "its file.")
    versioned = f"__protocol{revision}" if revision > 1 else ""
    folder = records_dir(home) / protocol
    path = folder / f"{method}__{encoder}__{task_label({**record, 'task': task})}__seed{seed}{corpus}{versioned}.json"
    if path.parent != folder:  # safe names cannot do this; the check states the promise
        raise BenchError(f"The record path {path} would leave {folder}; names with '/' are refused.")
    return path


def write_record(home: Path, record: dict[str, Any]) -> Path:
    path = record_path(home, record)
    write_json_atomic(path, record)
    return path


def warn_on_stderr(message: str) -> None:
    """Warnings go to stderr, so that they never end up inside a table written to stdout."""
    print(f"warning: {message}", file=sys.stderr)


def run_identity(record: dict[str, Any]) -> tuple[Any, ...]:
    """What one run is: two records with the same identity are the same run done twice (one seed,
    counted once in a table)."""
    return (record["protocol"]["name"], protocol_version(record), record["method"], record["encoder"],
            task_label(record), record["seed"], corpus_version(record))


def load_records(directory: Path, warn: Callable[[str], None] = warn_on_stderr) -> list[dict[str, Any]]:
    """Every valid record below ``directory``; every other .json file (unreadable, not JSON, not of
    the record schema) is reported through ``warn`` and left out. Failure notes are not records.

    Two records of the same run (e.g. a copy, or a version-2 record written under the name version 1
    used before the corpus suffix existed) would count one seed twice: the newest (by "created") is
    kept and the other is reported, never deleted."""
    kept: dict[tuple[Any, ...], tuple[Path, dict[str, Any]]] = {}
    for path in sorted(directory.rglob("*.json")):
        if FAILURE_FOLDER in path.relative_to(directory).parts[:-1]:
            continue
        record, problem = read_record(path)
        if record is None:
            warn(f"skipping {path}: {problem}")
            continue
        identity = run_identity(record)
        if identity in kept:
            other_path, other = kept[identity]
            newer, older = ((path, record), (other_path, other)) if str(record.get("created", "")) >= str(
                other.get("created", "")) else ((other_path, other), (path, record))
            warn(f"skipping {older[0]}: it records the same run as {newer[0]} (same protocol, method, encoder, task, "
                 "seed, protocol version and corpus version), which is newer; one seed is counted once")
            kept[identity] = newer
            continue
        kept[identity] = (path, record)
    return [record for _, record in kept.values()]


def read_record(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(the record, "") when ``path`` holds a valid run record, else (None, what is wrong with it)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # ValueError: bad JSON or bad UTF-8
        return None, f"not a readable JSON file ({type(error).__name__}: {error})"
    problem = record_problem(document)
    return (None, problem) if problem else (document, "")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _key_problem(document: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> str:
    value = document.get(key)
    if isinstance(value, kind) and not (isinstance(value, bool) and kind is int):
        return ""
    return f'its "{key}" is {value!r}, not {what}' if key in document else f'it has no "{key}" ({what})'


def record_problem(document: Any) -> str:
    """What makes ``document`` not a run record this version can show ("" when it is one): the
    keys the table, the plots and `bench status` read, with their types, and finite metrics."""
    if not isinstance(document, dict):
        return f"it holds a JSON {type(document).__name__}, not an object (a run record)"
    if document.get("schema_version") != SCHEMA_VERSION:
        return (f"its schema_version is {document.get('schema_version')!r}; this version of the tool reads "
                f"records of schema {SCHEMA_VERSION}")
    required = [("protocol", dict, "an object"), ("method", str, "a string"), ("encoder", str, "a string"),
                ("task", str, "a string"), ("seed", int, "a whole number"), ("metrics", dict, "an object")]
    optional = [("method_name", str, "a string"), ("reported", bool, "true or false"),
                ("label_fraction", (int, float), "a number"), ("pretraining", dict, "an object"),
                ("per_tag_average_precision", dict, "an object"), ("resolution", dict, "an object"),
                ("dataset", dict, "an object")]
    for key, kind, what in required + [entry for entry in optional if entry[0] in document]:
        if problem := _key_problem(document, key, kind, what):
            return problem
    return _value_problem(document)


def _value_problem(record: dict[str, Any]) -> str:
    """The checks of :func:`record_problem` beyond keys and types."""
    if not isinstance(record["protocol"].get("name"), str):
        return 'its "protocol" has no "name" string'
    version = record["protocol"].get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return f'its "protocol.version" is {version!r}, not a whole number of at least 1'
    bad = {name: value for name, value in record["metrics"].items() if not _is_number(value)}
    if bad:
        return f"its metrics must be finite numbers, and {', '.join(f'{k}={v!r}' for k, v in bad.items())} are not"
    if not 0 < record.get("label_fraction", 1.0) <= 1:
        return f'its "label_fraction" is {record["label_fraction"]!r}, not a fraction in (0, 1]'
    if record.get("baseline") not in (None, "floor", "ceiling"):
        return f'its "baseline" is {record["baseline"]!r}, not "floor", "ceiling" or null'
    curve = record.get("pretraining", {}).get("loss_curve") or []
    if not isinstance(curve, list) or not all(isinstance(p, list) and len(p) == 2 and all(map(_is_number, p))
                                              for p in curve):
        return 'its "pretraining.loss_curve" is not a list of [step, loss] number pairs'
    if not all(_is_number(value) for value in record.get("resolution", {}).values()):
        return 'its "resolution" holds values that are not finite numbers'
    if not isinstance(record.get("pretraining", {}).get("convergence") or {}, dict):
        return 'its "pretraining.convergence" is neither an object nor null'
    corpus_version = record.get("dataset", {}).get("corpus_version")
    if corpus_version is not None and (isinstance(corpus_version, bool) or not isinstance(corpus_version, int)):
        return f'its "dataset.corpus_version" is {corpus_version!r}, not a whole number or null'
    precisions = record.get("per_tag_average_precision", {}).values()
    if not all(value is None or _is_number(value) for value in precisions):
        return 'its "per_tag_average_precision" holds values that are neither finite numbers nor null'
    return ""


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_state(package: Path = Path(__file__).resolve().parents[1]) -> dict[str, Any]:
    """SHA and dirty flag of the source tree this package runs from.

    From git when ``package`` sits in a git checkout (an editable install, as the README
    installs). Otherwise from ``SOURCE_SHA``, into which ``git archive`` writes the commit
    (.gitattributes ``export-subst``): copies shipped as archives, e.g. to a borrowed GPU
    machine, still name their code; whether they were edited since is then unknown (None).
    """
    try:
        sha = subprocess.run(
            ["git", "-C", str(package.parent), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(package.parent), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
        return {"sha": sha, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        archived = (package / "SOURCE_SHA").read_text().strip()
    except OSError:
        archived = ""
    # In a checkout the file holds the unexpanded placeholder, which is no SHA.
    sha = archived if re.fullmatch(r"[0-9a-f]{40}", archived) else None
    return {"sha": sha, "dirty": None}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (``getrusage``; Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory() -> dict[str, float | None]:
    """Peak resident memory of this process and peak GPU memory, in MB (None without a GPU)."""
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"peak_rss_mb": round(peak_rss_mb(), 1), "peak_gpu_mb": None if gpu_mb is None else round(gpu_mb, 1)}


def cpu_model() -> str | None:
    """The processor's name ("AMD EPYC 9654 ...") from /proc/cpuinfo; None where there is none (not Linux)."""
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        return None
    names = [line.partition(":")[2].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else None


def hardware() -> dict[str, Any]:
    """Where the run was made. ``cpu_capability`` is the instruction set torch's CPU kernels were
    dispatched to (AVX2, AVX512, ...): two machines with different ones sum floats in another order,
    so the same code, seed and versions can give results a few tenths of a point apart
    (docs/TASKS.md, "cpu-headroom version 4")."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {"device": device, "cpu": platform.processor() or platform.machine(), "cpu_model": cpu_model(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
