"""Worker processes for decoding and rendering that an interruption never leaves hanging.

`bench prepare` decodes files and the synthetic corpus renders songs in worker processes. Two
ways of stopping them hung before this module (both seen here, the first in CI):
``multiprocessing.Pool.terminate()`` after an exception in the main process blocked forever in
the pool's task feeder, and Ctrl-C, which the terminal sends to every process of the
foreground group, interrupted the workers in the middle of reading a job or sending a result,
leaving the pool's pipes holding half a message that the other side then waited on.

So here only the main process handles Ctrl-C (the workers ignore SIGINT), and stopping never
kills a worker: the jobs not yet started are cancelled and the running ones, a few at most
because callers submit in blocks, are waited for. Then the caller's own clean-up runs (its
writer keeps the completed shards for the next run to resume from).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


def _ignore_interrupts() -> None:
    """Worker initialiser: Ctrl-C is the main process's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def worker_pool(processes: int) -> Iterator[ProcessPoolExecutor]:
    """``processes`` workers, all started before the caller's code runs.

    Callers enter it before any progress display: forking while the display's refresh thread
    holds the terminal's lock would leave that lock held in the workers. Fork on Linux: the
    workers share the imported modules, and unlike spawn/forkserver it never re-runs the
    user's main script (which breaks scripts read from stdin or lacking a main guard).
    """
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    pool = ProcessPoolExecutor(max(1, processes), mp_context=context, initializer=_ignore_interrupts)
    try:
        pool.submit(int).result()  # a forking executor starts its whole pool at the first job
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
