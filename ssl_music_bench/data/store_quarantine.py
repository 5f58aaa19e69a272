"""A damaged clip store is moved aside, never read and never deleted.

:class:`~ssl_music_bench.data.store.ClipStore` raises
:class:`~ssl_music_bench.data.store_integrity.CorruptStore` when a store fails its checks. The
store is then moved to ``HOME/quarantine/stores/`` (for the user to inspect or delete), so the
next run does not trip over it again: the synthetic corpus is regenerated at once
(ssl_music_bench/data/synthetic_corpus.py); a prepared real dataset cannot be rebuilt without the
user's files, so opening it says which command makes it again.
"""

from __future__ import annotations

from pathlib import Path

from ssl_music_bench.data.store import ClipStore
from ssl_music_bench.data.store_integrity import CorruptStore
from ssl_music_bench.errors import BenchError
from ssl_music_bench.home import quarantine_dir
from ssl_music_bench.io import quarantine


def quarantine_store(home: Path, error: CorruptStore) -> Path:
    """Move the store ``error`` is about to the quarantine; return where it went."""
    return quarantine(error.root, quarantine_dir(home, "stores"))


def open_or_quarantine(home: Path, root: Path, remake: str) -> ClipStore:
    """The store at ``root``; a damaged one is quarantined and reported with ``remake``, the
    command that makes it again (e.g. ``bench prepare --task gtzan --root DIR``)."""
    try:
        return ClipStore(root)
    except CorruptStore as error:
        moved = quarantine_store(home, error)
        raise BenchError(
            f"{error} It was not used: it was moved to {moved} (delete it when you no longer need "
            f"it). Make the store again with `{remake}`."
        ) from error


def open_prepared_store(home: Path, task: str, mixtures: Path, stems: Path) -> ClipStore:
    """A prepared real dataset's store: the stems store after `bench separate` (the same items
    plus their stems), else the mixtures; a damaged one is quarantined and the message says
    which command makes it again."""
    if (stems / "store.json").is_file():
        return open_or_quarantine(home, stems, f"bench separate --task {task}")
    return open_or_quarantine(home, mixtures, f"bench prepare --task {task} --root DIR")
