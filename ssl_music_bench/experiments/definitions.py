"""Named experiments as data: one TOML file each in ssl_music_bench/contracts/experiments/.

The files sit beside the protocols because they are of the same kind: declarations of what is
run, read and checked before any work, that a user can read without the code. Each names the
table or figure of a seed paper it reproduces (``reproduces``) and what the paper reports where
FACTS.md has it (``paper``, and per row). The layout says how the experiment expands into grid
cells (ssl_music_bench/experiments/expansion.py) and how its records become the table:

- ``variants``: one row per variant, a variant being ``--set`` settings (and optionally another
  method) of the experiment's methods; ``chain = [...]`` adds, for CLMR's augmentations, the whole
  chain, the chain without each transform (its probability 0) and each transform alone.
- ``batch``: one row per batch size, each under a protocol derived from the given one.
- ``fractions``: one row per method + encoder, columns per label fraction.
- ``transfer``: one row per pretraining dataset, each under a derived protocol.
- ``along``: one row per method + encoder, columns per pretraining step (probing along pretraining).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ssl_music_bench.errors import BenchError, did_you_mean

LAYOUTS = ("variants", "batch", "fractions", "transfer", "along")
STEP_SCALINGS = ("examples", "none")  # batch layout: keep steps x batch (equal epochs), or the steps


@dataclass(frozen=True)
class Variant:
    """One row of a ``variants`` experiment: its label, the method (None: the experiment's),
    its ``--set`` settings and what the paper reports for it (text, from FACTS.md)."""

    row: str
    method: str | None = None
    settings: tuple[tuple[str, str], ...] = ()
    paper: str = ""


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    reproduces: str  # the paper, table or figure it reproduces
    layout: str
    methods: tuple[str, ...]
    tasks: tuple[str, ...]
    encoders: tuple[str, ...] | None = None  # None: every encoder each method accepts
    paper: str = ""  # what the paper reports (FACTS.md), shown under the table
    variants: tuple[Variant, ...] = ()
    batch_sizes: tuple[int, ...] = ()
    step_scaling: str = "examples"
    label_fractions: tuple[float, ...] = (1.0,)
    pretrain_data: tuple[str, ...] = ()
    probe_points: int = 0
    source: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def experiment_names() -> list[str]:
    folder = resources.files("ssl_music_bench.contracts.experiments")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_experiment(name: str) -> Experiment:
    """A named experiment, parsed and checked; an unknown name is refused with the known ones."""
    names = experiment_names()
    if name not in names:
        raise BenchError(f'Unknown experiment "{name}".{did_you_mean(name, names)} The experiments are: '
                         f"{', '.join(names)} (`bench experiment` without a name lists them with their papers).")
    text = resources.files("ssl_music_bench.contracts.experiments").joinpath(f"{name}.toml").read_text()
    return parse_experiment(text, origin=f"{name}.toml")


def parse_experiment(text: str, origin: str = "<text>") -> Experiment:
    """Parse and check one experiment file: every key known, every value of its kind."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BenchError(f"The experiment {origin} is not valid TOML: {error}.") from error

    def fail(key: str, allowed: str) -> BenchError:
        return BenchError(f"The experiment {origin} sets {key} = {raw.get(key)!r}, which is not allowed: {key} must "
                          f"be {allowed}. Fix that line of the file (ssl_music_bench/contracts/experiments/).")

    known = {"name", "title", "reproduces", "paper", "layout", "methods", "encoders", "tasks", "variants", "chain",
             "batch_sizes", "step_scaling", "label_fractions", "pretrain_data", "probe_points"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BenchError(f"The experiment {origin} has no setting {', '.join(unknown)}; its settings are "
                         f"{', '.join(sorted(known))}.")
    for key in ("name", "title", "reproduces", "layout"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise fail(key, "a non-empty quoted string")
    if raw["layout"] not in LAYOUTS:
        raise fail("layout", f"one of {', '.join(LAYOUTS)}")
    for key in ("methods", "tasks", "encoders", "chain", "pretrain_data"):
        if key in raw and (not isinstance(raw[key], list) or not raw[key]
                           or not all(isinstance(item, str) and item for item in raw[key])):
            raise fail(key, "a non-empty list of quoted names")
    for key in ("methods", "tasks"):
        if key not in raw:
            raise fail(key, "given: a non-empty list of quoted names")
    variants = tuple(_variant(entry, origin) for entry in raw.get("variants", []))
    variants += _chain_variants(raw.get("chain", []))
    layout = raw["layout"]
    batch_sizes = tuple(raw.get("batch_sizes", ()))
    fractions = tuple(float(f) for f in raw.get("label_fractions", [1.0])) if isinstance(
        raw.get("label_fractions", [1.0]), list) else ()
    if layout == "variants" and not variants:
        raise fail("variants", "given ([[variants]] tables or a chain) for the variants layout")
    if layout == "batch" and (not batch_sizes or not all(isinstance(b, int) and b >= 2 for b in batch_sizes)):
        raise fail("batch_sizes", "a non-empty list of whole numbers of at least 2")
    if raw.get("step_scaling", "examples") not in STEP_SCALINGS:
        raise fail("step_scaling", f"one of {', '.join(STEP_SCALINGS)}")
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise fail("label_fractions", "a non-empty list of fractions in (0, 1]")
    if layout == "transfer" and not raw.get("pretrain_data"):
        raise fail("pretrain_data", "a non-empty list of task names for the transfer layout")
    points = raw.get("probe_points", 0)
    if layout == "along" and (isinstance(points, bool) or not isinstance(points, int) or points < 1):
        raise fail("probe_points", "a whole number of at least 1 for the along layout")
    return Experiment(
        name=raw["name"], title=raw["title"], reproduces=raw["reproduces"], layout=layout,
        methods=tuple(raw["methods"]), tasks=tuple(raw["tasks"]),
        encoders=tuple(raw["encoders"]) if "encoders" in raw else None, paper=str(raw.get("paper", "")),
        variants=variants, batch_sizes=batch_sizes, step_scaling=raw.get("step_scaling", "examples"),
        label_fractions=fractions, pretrain_data=tuple(raw.get("pretrain_data", ())), probe_points=points,
        source=raw,
    )


def _variant(entry: Any, origin: str) -> Variant:
    if not isinstance(entry, dict) or not isinstance(entry.get("row"), str) or not entry["row"]:
        raise BenchError(f"The experiment {origin} has a [[variants]] table without a row label: each variant "
                         'needs row = "..." (and may have method, set = { NAME = "VALUE" }, paper).')
    unknown = sorted(set(entry) - {"row", "method", "set", "paper"})
    settings = entry.get("set", {})
    if unknown or not isinstance(settings, dict) or not all(isinstance(v, str) for v in settings.values()):
        raise BenchError(f'The experiment {origin}\'s variant "{entry["row"]}" is not valid: its keys are row, method, '
                         'set (a table of quoted values, e.g. set = { sources = "drums" }) and paper.')
    return Variant(entry["row"], entry.get("method"), tuple(sorted(settings.items())), str(entry.get("paper", "")))


def _chain_variants(chain: list[str]) -> tuple[Variant, ...]:
    """CLMR's ablation rows from the chain's probability fields: the whole chain, the chain
    without each transform, each transform alone (every other probability 0)."""
    if not chain:
        return ()
    name = {field: field.removesuffix("_p") for field in chain}
    removed = [Variant(f"without {name[f]}", settings=((f"augment.{f}", "0"),)) for f in chain]
    alone = [Variant(f"{name[f]} only", settings=tuple(sorted((f"augment.{o}", "0") for o in chain if o != f)))
             for f in chain]
    return (Variant("whole chain"), *removed, *alone)
