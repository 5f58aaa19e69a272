"""`bench grid --config grid.toml`: a grid written down once, instead of a long command line.

    protocol = "cpu"                      # a built-in name, or a .toml path (relative to this file)
    methods = ["clmr", "cola*"]           # names or wildcards; left out: every method
    encoders = ["samplecnn", "effnet"]    # left out: every encoder each method accepts
    tasks = ["synth-tags", "synth-genre"] # left out: the synth-* tasks
    seeds = [0, 1, 2]                     # left out: the protocol's seeds
    label_fractions = [1.0]
    jobs = 2                              # concurrent workers per device
    devices = ["0", "1"]                  # GPUs (each gets `jobs` workers); left out: this machine as it is
    launcher = "local"                    # or "slurm"
    plugins = ["my_method.py"]            # relative to this file
    [set]                                 # --set overrides for every method
    temperature = "0.1"
    [slurm]                               # launcher = "slurm" (see grid/slurm.py)
    partition = "gpu"
    time = 120
    gpus = 1

Options given on the command line win over the file's. Every key and type is checked, and a bad
one is refused in one paragraph naming the file, the key and what is expected.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssl_music_bench.errors import BenchError
from ssl_music_bench.grid.slurm import CLUSTERS, PARAMETERS

LISTS_OF_TEXT = ("methods", "encoders", "tasks", "devices", "plugins")
EXAMPLE = ('e.g. protocol = "cpu", methods = ["clmr"], seeds = [0, 1, 2], jobs = 2 (the keys are listed in '
           "ssl_music_bench/grid/config.py)")


@dataclass
class GridConfig:
    """A grid's axes and how to run it; None: not given (the default applies)."""

    protocol: str | None = None
    methods: list[str] | None = None
    encoders: list[str] | None = None
    tasks: list[str] | None = None
    seeds: list[int] | None = None
    label_fractions: list[float] | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    jobs: int | None = None
    devices: list[str] | None = None
    launcher: str | None = None
    plugins: list[str] = field(default_factory=list)
    slurm: dict[str, Any] = field(default_factory=dict)


def load_grid_config(path: Path) -> GridConfig:
    """The grid of a TOML file, every key checked; relative paths are taken from the file's folder."""
    path = Path(path).expanduser()
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise BenchError(f"The grid file {path} cannot be read ({error.strerror or error}): give the path of a "
                         f"grid TOML file to --config, {EXAMPLE}.") from error
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise BenchError(f"The grid file {path} is not valid UTF-8 TOML ({error}): {EXAMPLE}.") from error
    return parse_grid_config(raw, path)


def parse_grid_config(raw: dict[str, Any], origin: Path) -> GridConfig:
    def fail(key: str, what: str) -> BenchError:
        return BenchError(f"The grid file {origin}: {key} = {raw.get(key)!r} is not valid: {what}. Fix that key, "
                          f"{EXAMPLE}.")

    known = {"protocol", "label_fractions", "seeds", "jobs", "launcher", "set", "slurm", *LISTS_OF_TEXT}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BenchError(f"The grid file {origin} has unknown keys {', '.join(unknown)}; a grid file takes "
                         f"{', '.join(sorted(known))} ({EXAMPLE}).")
    folder = origin.parent
    config = GridConfig()
    if "protocol" in raw:
        if not isinstance(raw["protocol"], str) or not raw["protocol"]:
            raise fail("protocol", "it is a built-in protocol name or the path of a protocol .toml, as text")
        protocol = raw["protocol"]
        config.protocol = str(folder / protocol) if protocol.endswith(".toml") else protocol
    for key in LISTS_OF_TEXT:
        if key in raw:
            value = raw[key]
            if not isinstance(value, list) or not all(isinstance(item, str | int) and not isinstance(item, bool)
                                                      for item in value):
                raise fail(key, "it is a list of names, e.g. [\"a\", \"b\"]")
            setattr(config, key, [str(item) for item in value])
    config.plugins = [str(folder / plugin) for plugin in config.plugins]
    if "seeds" in raw:
        if not isinstance(raw["seeds"], list) or not all(_whole(s) and s >= 0 for s in raw["seeds"]):
            raise fail("seeds", "it is a list of whole numbers of at least 0, e.g. [0, 1, 2]")
        config.seeds = list(raw["seeds"])
    if "label_fractions" in raw:
        fractions = raw["label_fractions"]
        if not isinstance(fractions, list) or not all(_number(f) and 0 < f <= 1 for f in fractions):
            raise fail("label_fractions", "it is a list of fractions in (0, 1], e.g. [0.01, 0.1, 1.0]")
        config.label_fractions = [float(f) for f in fractions]
    if "jobs" in raw:
        if not _whole(raw["jobs"]) or raw["jobs"] < 1:
            raise fail("jobs", "it is the number of concurrent workers per device, a whole number of at least 1")
        config.jobs = raw["jobs"]
    if "launcher" in raw:
        if raw["launcher"] not in ("local", "slurm"):
            raise fail("launcher", 'it is "local" (this machine) or "slurm" (a job array through submitit)')
        config.launcher = raw["launcher"]
    if "set" in raw:
        if not isinstance(raw["set"], dict) or any(isinstance(v, dict) or (isinstance(v, list) and any(
                isinstance(item, dict | list) for item in v)) for v in raw["set"].values()):
            raise fail("set", 'it is a table of method settings, e.g. [set] followed by sources = ["drums"]')
        config.overrides = {str(name): _text(value) for name, value in raw["set"].items()}
    if "slurm" in raw:
        config.slurm = _slurm_table(raw["slurm"], fail)
    return config


def _slurm_table(table: Any, fail) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise fail("slurm", "it is a table, e.g. [slurm] followed by partition = \"gpu\"")
    unknown = sorted(set(table) - set(PARAMETERS) - {"cluster"})
    if unknown:
        raise fail("slurm", f"it has unknown keys {', '.join(unknown)}; it takes {', '.join(PARAMETERS)} and cluster")
    if "cluster" in table and table["cluster"] not in CLUSTERS:
        raise fail("slurm", f"its cluster is one of {', '.join(CLUSTERS)}")
    for key in ("time", "gpus", "cpus", "mem_gb", "array_parallelism"):
        if key in table and (not _whole(table[key]) or table[key] < (0 if key == "gpus" else 1)):
            raise fail("slurm", f"its {key} is a whole number ({'minutes per job' if key == 'time' else 'a count'})")
    for key in ("partition", "account", "qos"):
        if key in table and not isinstance(table[key], str):
            raise fail("slurm", f"its {key} is text")
    return dict(table)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A setting as `--set` would give it: TOML's true/false as the text the settings parser reads, a
    list as comma-separated values (``sources = ["drums", "bass"]`` is ``--set sources=drums,bass``)."""
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
