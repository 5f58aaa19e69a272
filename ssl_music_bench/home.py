"""The benchmark's home directory: every dataset, cache, checkpoint and record lives under it.

``--home`` wins, then ``$BENCH_HOME``, then ``~/.cache/ssl-music-bench``.
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
