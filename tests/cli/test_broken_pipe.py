"""`bench ... | head`: a reader that closes stdout early ends the command quietly, no traceback."""

from __future__ import annotations

import subprocess
import sys

# stdout is a pipe whose reading end is already closed: every write fails with EPIPE
CLOSED_READER = ("import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
                 "from ssl_music_bench.cli import main; sys.exit(main(['env']))")


def test_output_into_a_closed_pipe_is_no_traceback() -> None:
    result = subprocess.run([sys.executable, "-c", CLOSED_READER], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
