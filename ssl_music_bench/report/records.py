"""Run records: one JSON document per finished run, written atomically.

A record carries everything needed to trust and re-derive its numbers: what ran (method and
its config, encoder, task, protocol with its hash, seed), what came out (metrics), how long it
took, and provenance (package versions, git SHA and dirty flag, hardware, dataset manifest hash).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from ssl_music_bench.home import records_dir
from ssl_music_bench.io import write_json_atomic

SCHEMA_VERSION = 1
PACKAGES = ("ssl-music-bench", "torch", "torchaudio", "torchvision", "lightly", "timm", "torchmetrics",
            "pytorch-lightning", "nnAudio", "numpy")


def task_label(record: dict[str, Any]) -> str:
    """The task with its label fraction when below 1, e.g. ``mtat@0.01``: a record's file name and
    its leaderboard column (a probe on fewer labels is a different column)."""
    fraction = record.get("label_fraction", 1.0)
    return record["task"] if fraction == 1.0 else f"{record['task']}@{fraction:g}"


def record_path(home: Path, record: dict[str, Any]) -> Path:
    method = re.sub(r"[^A-Za-z0-9._-]+", "_", record["method"]).strip("_")
    name = f"{method}__{record['encoder']}__{task_label(record)}__seed{record['seed']}.json"
    return records_dir(home) / record["protocol"]["name"] / name


def write_record(home: Path, record: dict[str, Any]) -> Path:
    path = record_path(home, record)
    write_json_atomic(path, record)
    return path


def load_records(directory: Path) -> list[dict[str, Any]]:
    """Every record below ``directory`` (unreadable files are skipped with a warning)."""
    records = []
    for path in sorted(directory.rglob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            print(f"warning: skipping unreadable record {path}: {error}")
            continue
        if isinstance(record, dict) and record.get("schema_version") == SCHEMA_VERSION:
            records.append(record)
    return records


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


def hardware() -> dict[str, Any]:
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {"device": device, "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
