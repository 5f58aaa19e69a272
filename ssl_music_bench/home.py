"""The benchmark's home directory: every dataset, cache, checkpoint and record lives under it.

``--home`` wins, then ``$BENCH_HOME``, then ``~/.cache/ssl-music-bench``. Every path below the
home is built here, so its layout reads in one place::

    HOME/data/synth-<kind>-<size>-seed<seed>/   the synthetic corpus (clip stores)
    HOME/data/prepared/<store>[-stems]/         real datasets after `bench prepare` / `bench separate`
    HOME/checkpoints/<method>-<encoder>-<key>/  pretrained weights (+ <...>.resume/ while training)
    HOME/cache/embeddings/<key>.safetensors     frozen embeddings
    HOME/records/<protocol>/<row>.json          run records (failure notes in records/<protocol>/failed/)
    HOME/quarantine/<kind>/                     corrupt artefacts moved aside (never deleted silently)
    HOME/experiments/protocols/<name>.toml      `bench experiment`: the protocols it derives (batch size, data, probe_every)
    HOME/grid/logs/<protocol>/<row>.log         `bench grid`: the output of each failed cell
    HOME/grid/slurm/<timestamp>/                `bench grid --launcher slurm`: submitit's job folder
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from ssl_music_bench.errors import BenchError

DEFAULT_HOME = Path("~/.cache/ssl-music-bench")


def resolve_home(option: str | Path | None = None) -> Path:
    """The home directory, created and checked to be writable."""
    chosen = option or os.environ.get("BENCH_HOME") or DEFAULT_HOME
    home = Path(chosen).expanduser()
    probe = home / f".write-test-{uuid.uuid4().hex}"
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise BenchError(
            f"The home directory {home} is not writable ({error.strerror or error}). Every dataset, "
            f"checkpoint and result is kept there: choose a writable directory with --home DIR or "
            f"the BENCH_HOME environment variable."
        ) from error
    return home


def synth_store_path(home: Path, kind: str, size: str, seed: int) -> Path:
    """Where ``ensure_corpus`` keeps a synthetic corpus of one kind (songs, notes)."""
    return Path(home) / "data" / f"synth-{kind}-{size}-seed{seed}"


def prepared_path(home: Path, store_name: str) -> Path:
    """Where `bench prepare` writes a real dataset's store."""
    return home / "data" / "prepared" / store_name


def stems_path(home: Path, store_name: str) -> Path:
    """Where `bench separate` writes the store with stems (mixtures included)."""
    return home / "data" / "prepared" / f"{store_name}-stems"


def checkpoints_dir(home: Path) -> Path:
    return home / "checkpoints"


def embeddings_dir(home: Path) -> Path:
    return home / "cache" / "embeddings"


def records_dir(home: Path) -> Path:
    return home / "records"


def quarantine_dir(home: Path, kind: str) -> Path:
    """Where a corrupt artefact of one kind (embeddings, checkpoints, ...) is moved for inspection."""
    return home / "quarantine" / kind


def grid_log_path(home: Path, protocol: str, row: str) -> Path:
    """Where `bench grid` keeps the output of a failed cell (``row``: its record's file stem)."""
    return home / "grid" / "logs" / protocol / f"{row}.log"


def grid_slurm_dir(home: Path, timestamp: str) -> Path:
    """submitit's folder (job scripts, pickled jobs, logs) for one `bench grid --launcher slurm`."""
    return home / "grid" / "slurm" / timestamp


def experiment_protocol_path(home: Path, name: str) -> Path:
    """Where `bench experiment` keeps a protocol it derived from the given one (e.g. ``cpu-batch48``)."""
    return home / "experiments" / "protocols" / f"{name}.toml"
