"""The tested software stack: the exact torch family, the lock of the whole environment, and what
``bench`` says when the installed stack is not the tested one.

Why exact pins for torch, torchaudio and torchvision: the three ship compiled libraries built
against one torch, yet their metadata admits later ones. torchaudio 2.11.1 declares only
``torch>=2.11`` and its ``libtorchaudio.so`` does not load with torch 2.11.0, so the range
``torchaudio>=2.11,<2.12`` broke every fresh install on the day 2.11.1 appeared. pyproject.toml
pins the three to :data:`TESTED_STACK` (one set the whole suite passed with); every other
dependency has an upper bound at its next major version.

The lock (``lock.txt`` beside this module) lists every package of the environment the suite
passed in, with its exact version. ``pip install -e . -c ssl_music_bench/lock.txt`` reproduces
that environment; ``bench env --write-lock`` rewrites it from the current environment (run it
in a fresh virtual environment right after ``pip install -e ".[test]"``, then the suite). Each
run record names the lock's sha256 and the installed packages that depart from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

# The set pyproject.toml pins, chosen with measurements (README, "Install notes").
TESTED_STACK = {"torch": "2.11.0", "torchaudio": "2.11.0", "torchvision": "0.26.0"}
LOCK_FILE = Path(__file__).with_name("lock.txt")
# Not locked: the project itself, and the installer that reads the lock.
UNLOCKED = frozenset({"ssl-music-bench", "pip"})
# What an import of mismatched torch-family builds raises: a library that does not load
# (ImportError/OSError naming it), or torchvision's missing compiled operator (RuntimeError).
_LOAD_FAILURE = re.compile(r"libtorch\w*\.so|torchaudio|torchvision|undefined symbol")
_MISSING_OPERATOR = re.compile(r"operator torch\w*::\w+ does not exist")


def canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): ``PyYAML`` -> ``pyyaml``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(package: str) -> str | None:
    """The installed version without a local build tag (``2.14.1+cu130`` -> ``2.14.1``), or None."""
    try:
        return metadata.version(package).split("+")[0]
    except metadata.PackageNotFoundError:
        return None


def stack_departures() -> dict[str, str | None]:
    """The torch-family packages whose installed version is not the tested one: name -> installed."""
    installed = {name: installed_version(name) for name in TESTED_STACK}
    return {name: version for name, version in installed.items() if version != TESTED_STACK[name]}


def fix_command() -> str:
    pins = " ".join(f'"{name}=={version}"' for name, version in TESTED_STACK.items())
    return f"pip install {pins}"


def describe_stack() -> str:
    """'torch 2.14.1 (tested 2.11.0), ...' for the three packages."""
    parts = []
    for name, tested in TESTED_STACK.items():
        version = installed_version(name) or "not installed"
        parts.append(f"{name} {version}" + ("" if version == tested else f" (tested: {tested})"))
    return ", ".join(parts)


def is_stack_load_failure(error: BaseException) -> bool:
    """Whether an error comes from the torch family's compiled libraries not fitting together."""
    if isinstance(error, (ImportError, OSError)):
        return bool(_LOAD_FAILURE.search(str(error)))
    return isinstance(error, RuntimeError) and bool(_MISSING_OPERATOR.search(str(error)))


def stack_load_message(error: BaseException) -> str:
    """One paragraph for a torch family that cannot be loaded: installed, tested, and the fix."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (f"The torch libraries could not be loaded ({first_line}). Installed: {describe_stack()}. "
            f"ssl-music-bench is tested with torch {TESTED_STACK['torch']}, torchaudio "
            f"{TESTED_STACK['torchaudio']} and torchvision {TESTED_STACK['torchvision']}, which are built "
            f"against each other; another combination may not load. Fix it with: {fix_command()} "
            "(or reproduce the whole tested environment with: pip install -e . -c ssl_music_bench/lock.txt).")


def read_lock(path: Path = LOCK_FILE) -> dict[str, str]:
    """The lock's pins, canonical name -> version (comments and blank lines ignored)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonical(name)] = version.strip()
    return pins


def lock_sha256(path: Path = LOCK_FILE) -> str | None:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def installed_distributions() -> dict[str, str]:
    """Every installed distribution, canonical name -> exact version (the lock's form)."""
    return {canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
            if dist.metadata["Name"]}


def lock_departures(pins: dict[str, str], installed: dict[str, str]) -> dict[str, dict[str, str | None]]:
    """Locked packages that are missing or at another version: name -> {"locked", "installed"}."""
    return {name: {"locked": version, "installed": installed.get(name)}
            for name, version in sorted(pins.items()) if installed.get(name) != version}


def lock_state() -> dict[str, object]:
    """For the run record: the lock's hash and how the running environment departs from it."""
    sha = lock_sha256()
    if sha is None:
        return {"sha256": None, "departures": None}
    return {"sha256": sha, "departures": lock_departures(read_lock(), installed_distributions())}


def lock_text(installed: dict[str, str], excluded: Iterable[str] = UNLOCKED) -> str:
    skip = {canonical(name) for name in excluded}
    lines = [f"{name}=={version}" for name, version in sorted(installed.items()) if name not in skip]
    header = ("# The environment the test suite passed in: every package with its exact version.\n"
              "# Reproduce it: pip install -e . -c ssl_music_bench/lock.txt\n"
              "# Rewrite it (fresh virtual environment, after pip install -e \".[test]\" and a green pytest):\n"
              "#   bench env --write-lock\n")
    return header + "\n".join(lines) + "\n"


def write_lock(path: Path = LOCK_FILE) -> Path:
    # imported here: this module must load even when torch does not (records imports torch)
    from ssl_music_bench.io import write_text_atomic

    write_text_atomic(path, lock_text(installed_distributions()))
    return path
