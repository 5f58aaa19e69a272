"""Why a dataset's file cannot be decoded, told from the file system alone, before it is opened.

`bench prepare` reports each skipped file with a reason the user can act on: a dangling link
names its target, a directory or a device where an audio file belongs is said to be one. A
device, a pipe or a socket is never opened (reading /dev/zero or a pipe would never end).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a directory, not an audio file"),
    (stat.S_ISCHR, "not a regular file (a device)"),
    (stat.S_ISBLK, "not a regular file (a device)"),
    (stat.S_ISFIFO, "not a regular file (a named pipe)"),
    (stat.S_ISSOCK, "not a regular file (a socket)"),
)


def unreadable_source(path: Path) -> str | None:
    """Why ``path`` cannot be an audio file to decode, or None when it is a readable regular file."""
    try:
        mode = os.stat(path).st_mode  # follows links: a link to a good file is a good file
    except FileNotFoundError:
        if path.is_symlink():
            return f"a symbolic link to {os.readlink(path)}, which does not exist"
        return "missing file"
    except OSError as error:
        return f"cannot be examined ({error.strerror or error})"
    link = f"a symbolic link to {os.readlink(path)}, " if path.is_symlink() else ""
    for is_kind, reason in _KINDS:
        if is_kind(mode):
            return link + reason
    if not stat.S_ISREG(mode):
        return link + "not a regular file"
    if not os.access(path, os.R_OK):
        return link + "not readable (permission denied)"
    return None
