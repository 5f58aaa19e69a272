"""User-facing errors.

Every error a user can cause (a bad name, a missing dataset, an unwritable home, a bad config
value) is raised as a :class:`BenchError` whose message is one paragraph saying what was expected
and how to fix it. The CLI prints that paragraph and exits non-zero, without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """An error caused by the user's input, with a message that says how to fix it."""


class Terminated(KeyboardInterrupt):
    """The run received SIGTERM (``kill``, a SLURM preemption or time limit) during training.
    An interruption like a Ctrl-C, so every handler that keeps nothing half-written treats it as
    one; the CLI exits 143 (128 + SIGTERM) instead of 130. Lightning turns a SIGTERM inside
    ``fit`` into its SIGTERMException, a SystemExit without a code, which would otherwise end
    the process with status 0 and no record, as if it had succeeded."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean "x"?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f' Did you mean "{close[0]}"?' if close else ""
