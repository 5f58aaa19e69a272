"""One generic registry for encoders, methods, tasks and probes.

A new piece is one file with one decorator::

    @register_method("clmr", paper="Spijkervet & Burgoyne, ISMIR 2021")
    class CLMR(Method): ...

What describes a piece to a reader (its paper, whether a method is a baseline) is given to the
decorator and nowhere else, and read back from its :class:`Entry` (``METHODS.get("clmr").paper``).
What the code itself relies on (an encoder's ``input_kind``, a method's ``accepts``) is a class
attribute of the contract, read from ``Entry.obj``, so that a directly constructed object has it too.

Built-in modules are imported automatically the first time a registry is read (a registry that
only fills when someone happens to import a module is a known trap), third-party packages
register through the entry-point group ``ssl_music_bench.plugins``, and ``bench run --plugin
FILE`` loads a user's file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, get_args

from ssl_music_bench.errors import BenchError, did_you_mean

T = TypeVar("T")

# A method that is not a self-supervised contender: "floor", the untrained encoder every
# self-supervised row must beat; "ceiling", the encoder trained on the evaluated task's labels.
Baseline = Literal["floor", "ceiling"]

PLUGIN_GROUP = "ssl_music_bench.plugins"
BUILTIN_PACKAGES = ("ssl_music_bench.encoders", "ssl_music_bench.methods", "ssl_music_bench.tasks")
# A registered name becomes part of file and folder names under the home (run records, failure
# notes, checkpoints): so letters, digits, '.', '_' and '-' only, starting with a letter or digit,
# which can neither climb out of a folder ("..") nor open a new one ("a/b").
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SAFE_NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def check_safe_name(kind: str, name: object) -> str:
    """``name`` when it may be part of a path under the home; a BenchError saying why not otherwise."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise BenchError(
            f"The {kind} name {name!r} cannot be used: names become parts of file names under the home, so a "
            f"{kind} name is {SAFE_NAME_RULE} (e.g. \"my-{kind}\"). Rename it where it is registered or given."
        )
    return name


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object with the metadata given at registration."""

    name: str
    obj: T
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        """One line: the metadata's description, else the first line of the docstring."""
        text = self.metadata.get("description") or inspect.getdoc(self.obj) or ""
        return text.strip().splitlines()[0] if text.strip() else ""

    @property
    def paper(self) -> str:
        """The publication (or reference code) the piece follows; "" when none was given."""
        return str(self.metadata.get("paper", ""))

    @property
    def baseline(self) -> Baseline | None:
        """The baseline role of a method (see :func:`register_method`); None for a contender."""
        return self.metadata.get("baseline")


class Registry(Generic[T]):
    """Name -> object map with decorator registration, wildcard listing and clear errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, **metadata: Any) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name`` (duplicates and unsafe names raise)."""
        check_safe_name(self.kind, name)

        def decorator(obj: T) -> T:
            if name in self._entries:
                existing = self._entries[name].obj
                raise BenchError(
                    f'A {self.kind} named "{name}" is already registered (by '
                    f"{getattr(existing, '__module__', '?')}.{getattr(existing, '__qualname__', existing)}). "
                    f"Each {self.kind} needs a unique name: rename the new one."
                )
            self._entries[name] = Entry(name, obj, dict(metadata))
            return obj

        return decorator

    def unregister(self, name: str) -> None:
        """Remove an entry (tests and interactive sessions use this)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> Entry[T]:
        """The entry registered as ``name``; an unknown name raises with a suggestion."""
        load_builtins()
        if name not in self._entries:
            names = sorted(self._entries)
            raise BenchError(
                f'Unknown {self.kind} "{name}".{did_you_mean(name, names)} Known {self.kind}s: '
                f"{', '.join(names) or '(none)'}. Run `bench list` to see them all, or load your "
                f"own with `--plugin path/to/file.py`."
            )
        return self._entries[name]

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted names matching a shell-style wildcard such as ``"synth-*"``."""
        load_builtins()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def entries(self, pattern: str = "*") -> list[Entry[T]]:
        return [self._entries[n] for n in self.names(pattern)]

    def __contains__(self, name: object) -> bool:
        load_builtins()
        return name in self._entries


ENCODERS: Registry[Any] = Registry("encoder")
METHODS: Registry[Any] = Registry("method")
TASKS: Registry[Any] = Registry("task")
PROBES: Registry[Any] = Registry("probe")

register_task = TASKS.register
register_probe = PROBES.register


def register_method(name: str, *, paper: str = "", baseline: Baseline | None = None) -> Callable[[T], T]:
    """Decorator: register a pretext method under ``name``.

    ``paper`` names the publication it follows. ``baseline`` marks a method that is a reference
    point rather than a self-supervised contender, with its role: "floor" (the untrained
    encoder: the leaderboard marks every self-supervised cell whose interval clears it) or
    "ceiling" (trained on the evaluated task's own labels). Baseline rows never compete for
    "best" and are listed after the contenders.
    """
    if baseline is not None and baseline not in get_args(Baseline):
        raise BenchError(
            f'register_method("{name}", baseline={baseline!r}): baseline must be one of '
            f"{', '.join(repr(role) for role in get_args(Baseline))}, or None (the default) for a "
            f"self-supervised method."
        )
    return METHODS.register(name, paper=paper, baseline=baseline)


def register_encoder(name: str, *, paper: str = "") -> Callable[[T], T]:
    """Decorator: register an encoder under ``name``; ``paper`` names the publication it follows.

    Its contract (sample rate, input kind, crop, embedding size) is its class attributes."""
    return ENCODERS.register(name, paper=paper)


HEAR_ENCODER_PREFIX = "hear:"  # --encoder hear:MODULE[:WEIGHTS], any installed HEAR 2021 module


def resolve_encoder_name(name: str) -> str:
    """The registered name an ``--encoder`` option stands for: itself, or for ``hear:MODULE[:WEIGHTS]``
    the HEAR module's encoder, registered now (ssl_music_bench/hear/encoder.py) as ``hear-MODULE``."""
    if not name.startswith(HEAR_ENCODER_PREFIX):
        return name
    from ssl_music_bench.hear.encoder import register_hear_encoder  # lazily: it imports the user's module

    return register_hear_encoder(name[len(HEAR_ENCODER_PREFIX):])

_loaded = False


def load_builtins() -> None:
    """Import the built-in encoders, methods and tasks, then the installed plugins (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # set first: the modules imported below may read the registries
    try:
        for package in (*BUILTIN_PACKAGES, "ssl_music_bench.evaluate.probe"):
            importlib.import_module(package)
    except BaseException:
        _loaded = False
        raise
    for entry_point in entry_points(group=PLUGIN_GROUP):
        try:
            entry_point.load()
        except Exception as error:  # a broken third-party plugin must not hide the built-ins
            raise BenchError(
                f'The installed plugin "{entry_point.name}" ({entry_point.value}) failed to load: '
                f"{error}. Fix or uninstall the package that declares it in the "
                f'"{PLUGIN_GROUP}" entry-point group.'
            ) from error


def load_plugin_file(path: str | Path) -> None:
    """Import a user's Python file so that its decorators register what it defines."""
    load_builtins()
    path = Path(path)
    if not path.is_file():
        raise BenchError(
            f"The plugin file {path} does not exist. --plugin expects the path of a Python file "
            f"that registers a method, encoder or task with a decorator (see examples/)."
        )
    module_name = plugin_module_name(path)
    if module_name in sys.modules:
        return  # this very file was loaded already: loading it again would register its names twice
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise BenchError(f"Could not import {path} as a Python module; --plugin expects a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BenchError:
        del sys.modules[module_name]
        raise
    except Exception as error:
        del sys.modules[module_name]
        raise BenchError(f"The plugin file {path} raised {type(error).__name__}: {error}") from error


def plugin_module_name(path: Path) -> str:
    """The module name a plugin file is imported as: its stem plus a hash of its resolved path, so
    that two files with the same stem in different folders are two modules, and one file is one."""
    resolved = str(path.resolve())
    stem = re.sub(r"\W", "_", path.stem)
    return f"ssl_music_bench_plugin_{stem}_{hashlib.sha256(resolved.encode()).hexdigest()[:12]}"


def import_submodules(package_name: str, package_path: list[str]) -> None:
    """Import every module of a package (the built-in encoders/, methods/, tasks/ use this)."""
    import pkgutil

    for info in pkgutil.iter_modules(package_path):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package_name}.{info.name}")
