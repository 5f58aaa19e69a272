"""The ``bench`` command line: every subcommand and its options (the commands are in cli.py).

Kept apart from the commands so that the whole grammar reads in one place and ``bench --help``
needs no heavy import: each command imports what it uses when it runs.
"""

from __future__ import annotations

import argparse
from importlib import resources

MAX_SEED = 2**32 - 1  # numpy's and Lightning's seeds are 32-bit (as protocol seeds, contracts/protocol.py)

# the built-in protocol files' names (no import of the protocol parser: the parser stays light)
PROTOCOL_HELP = "built-in protocol name ({}) or a .toml file".format(", ".join(sorted(
    entry.name[: -len(".toml")] for entry in resources.files("ssl_music_bench.contracts.protocols").iterdir()
    if entry.name.endswith(".toml"))))


def _seed(text: str) -> int:
    """A seed option: a whole number 0..2**32-1, refused by argparse (usage, exit 2) otherwise."""
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to {MAX_SEED}, not {text!r}")
    return seed


def _seed_list(text: str) -> list[int]:
    """Comma-separated seeds, e.g. "0,1,2"."""
    return [_seed(item.strip()) for item in text.split(",") if item.strip()] or [_seed(text)]


def _fraction_list(text: str) -> list[float]:
    """Comma-separated label fractions in (0, 1], e.g. "0.01,0.1,1" (`bench grid`)."""
    try:
        fractions = [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        fractions = []
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions in (0, 1], e.g. 0.01,0.1,1, not {text!r}")
    return fractions


def _at_least_one(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return count


def _add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="directory for data, caches, checkpoints and records "
                        "(default: $BENCH_HOME or ~/.cache/ssl-music-bench)")


def _add_plugin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="a Python file that registers extra methods/encoders/tasks (repeatable)")


def _add_weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", metavar="FILE", help="evaluate external weights instead of pretraining: a "
                        "CLMR checkpoint (release 1.0 .pt, release 2.0 .zip or its .pt, a Lightning .ckpt; read "
                        "with torch.load(weights_only=True), or .safetensors)")
    parser.add_argument("--weights-label", metavar="TEXT", help="the row's label for --weights (default from the "
                        "file's layout, e.g. \"released 2.0\" -> clmr (released 2.0))")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description="ssl-music-bench: self-supervised music "
                                     "representations compared under one protocol.")
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="methods, encoders, tasks and which encoders each method accepts")
    _add_plugin(listing)

    run = commands.add_parser("run", help="pretrain (or reuse), embed, probe and record one run")
    run.add_argument("--method", required=True)
    run.add_argument("--encoder", required=True)
    run.add_argument("--task", required=True)
    run.add_argument("--protocol", default="v1", help=PROTOCOL_HELP)
    run.add_argument("--seed", type=_seed, default=0)
    run.add_argument("--devices", type=_at_least_one, default=1, help="training processes per node (DDP when > 1)")
    run.add_argument("--nodes", type=_at_least_one, default=1, help="nodes (torchrun/SLURM launch, through Lightning)")
    run.add_argument("--label-fraction", type=float, default=1.0,
                     help="train the probe on this stratified fraction of the train labels (0.01, 0.1, 1.0)")
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                     help="override a method setting, e.g. --set sources=drums (repeatable)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")
    run.add_argument("--compile", action="store_true",
                     help="torch.compile the encoder for pretraining (same computation; pays off on long GPU runs)")
    run.add_argument("--probe-every", type=int, metavar="N",
                     help="keep the weights every N pretraining steps and probe each: the record's "
                     "along_pretraining curve, drawn by `bench plot` (default: the protocol's pretrain.probe_every)")
    _add_weights(run)
    _add_home(run)
    _add_plugin(run)

    table = commands.add_parser("table", help="render the leaderboard from the run records")
    table.add_argument("--format", choices=("md", "csv", "latex"), default="md")
    table.add_argument("--protocol", help="only records of this protocol")
    table.add_argument("--records", help="directory of records (default: HOME/records)")
    table.add_argument("--task", action="append", default=[], help="only these tasks (repeatable)")
    table.add_argument("--label-fraction", type=float, help="only runs with this label fraction")
    table.add_argument("--reported", action="store_true", help="add the papers' published numbers as rows")
    table.add_argument("--write", action="store_true",
                       help="refresh leaderboard/LEADERBOARD.md from the records in leaderboard/records/")
    _add_home(table)

    prepare = commands.add_parser("prepare", help="decode a real dataset as published into the prepared store")
    prepare.add_argument("--task", required=True)
    prepare.add_argument("--root", required=True, help="the folder holding the dataset as distributed")
    prepare.add_argument("--workers", type=int, default=2, help="decoding processes (default 2)")
    prepare.add_argument("--no-progress", action="store_true")
    _add_home(prepare)
    _add_plugin(prepare)

    separate = commands.add_parser("separate", help="separate a prepared dataset into drums, bass, vocals, other "
                                   "with open-unmix (for the multi-source method)")
    separate.add_argument("--task", required=True)
    separate.add_argument("--weights", help="local open-unmix weights directory (vocals.pth, drums.pth, bass.pth, other.pth)")
    separate.add_argument("--model", default="umxhq", help="open-unmix model: umxhq (default), umx, umxl")
    separate.add_argument("--niter", type=int, default=1, help="Wiener filter iterations (open-unmix's default 1)")
    separate.add_argument("--untrained", action="store_true",
                          help="an untrained separator: meaningless stems, only to check the plumbing offline")
    separate.add_argument("--no-progress", action="store_true")
    _add_home(separate)

    embed = commands.add_parser("embed", help="embed your own audio files or folders with a trained checkpoint")
    embed.add_argument("paths", nargs="+", help="audio files or folders (any format soundfile reads)")
    embed.add_argument("--method", required=True)
    embed.add_argument("--encoder", required=True)
    embed.add_argument("--protocol", default="v1")
    embed.add_argument("--seed", type=_seed, default=0)
    embed.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings")
    embed.add_argument("--task", help="for the supervised baseline: the task its checkpoint was trained on")
    embed.add_argument("--out", required=True, help="output folder: embeddings.npy, index.csv, about.json "
                       "(new, empty, or an earlier `bench embed` output; never an input or a folder above one)")
    embed.add_argument("--force", action="store_true",
                       help="write into an --out that holds other files (only the three output files are replaced)")
    embed.add_argument("--no-progress", action="store_true")
    _add_weights(embed)
    _add_home(embed)
    _add_plugin(embed)

    plot = commands.add_parser("plot", help="PNG plots from the run records: loss curves, label fractions, per-tag AP")
    plot.add_argument("--out", default="plots", help="output folder (default ./plots)")
    plot.add_argument("--protocol", help="only records of this protocol")
    plot.add_argument("--task", default="synth-tags", help="task of the label-fraction and per-tag plots")
    plot.add_argument("--metric", default="pr_auc", help="metric of the label-fraction plot")
    plot.add_argument("--records", help="directory of records (default: HOME/records)")
    _add_home(plot)

    speed = commands.add_parser("speed", help="steps/s with the full pipeline vs the batch on the device, "
                                "augmentation and embedding throughput, peak memory (JSON + markdown)")
    speed.add_argument("--method", action="append", default=[], help="methods (wildcards; repeatable; default all)")
    speed.add_argument("--encoder", action="append", default=[], help="encoders (wildcards; repeatable; default all)")
    speed.add_argument("--batch-size", type=int, help="batch size (default: the protocol's on a GPU, at most 8 on a CPU)")
    speed.add_argument("--steps", type=int, default=2, help="timed steps per path")
    speed.add_argument("--protocol", default="cpu")
    speed.add_argument("--synth-size", help="synthetic corpus size (default: the protocol's)")
    speed.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    speed.add_argument("--out", default="speed", help="output folder for speed.json and speed.md")
    speed.add_argument("--compile", action="store_true", help="torch.compile each encoder (the warm-up pays it)")
    speed.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                       help="memory format of 2-D conv weights (auto: the encoder's preference, on a GPU)")
    speed.add_argument("--warmup", type=int, default=1, help="untimed warm-up steps per pair")
    _add_home(speed)

    grid = commands.add_parser("grid", help="run every missing cell of a method x encoder x task x seed grid, "
                               "several at once, resumable (or submit it to SLURM)")
    grid.add_argument("--config", metavar="GRID.toml", help="the grid in a TOML file (keys: ssl_music_bench/grid/"
                      "config.py); the options below override its values")
    grid.add_argument("--protocol", help=PROTOCOL_HELP)
    grid.add_argument("--methods", nargs="+", action="extend", help="methods, names or wildcards (default: all)")
    grid.add_argument("--encoders", nargs="+", action="extend", help="encoders (default: all each method accepts)")
    grid.add_argument("--tasks", nargs="+", action="extend", help="tasks (default: synth-*)")
    grid.add_argument("--seeds", type=_seed_list, help="comma-separated seeds (default: the protocol's)")
    grid.add_argument("--label-fractions", type=_fraction_list,
                      help="comma-separated label fractions, e.g. 0.01,0.1,1 (default 1)")
    grid.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                      help="override a method setting in every cell (repeatable)")
    grid.add_argument("--jobs", type=_at_least_one, help="concurrent worker processes per device (default 1)")
    grid.add_argument("--devices", nargs="+", action="extend",
                      help="GPUs to use (0 1, or cuda:0,cuda:1; each gets --jobs workers) or cpu")
    grid.add_argument("--launcher", choices=("local", "slurm"), help="local processes (default) or a SLURM job "
                      "array through submitit")
    grid.add_argument("--partition", help="SLURM partition")
    grid.add_argument("--time", type=_at_least_one, help="SLURM time limit per job, minutes")
    grid.add_argument("--gpus", type=int, help="SLURM GPUs per job")
    grid.add_argument("--cpus", type=_at_least_one, help="SLURM CPU cores per job (default 4)")
    grid.add_argument("--slurm-cluster", choices=("slurm", "local", "debug"),
                      help="submitit's executor: slurm (default), or local/debug to check the job array here")
    grid.add_argument("--dry-run", action="store_true", help="list the cells, done or missing, and run nothing")
    grid.add_argument("--no-progress", action="store_true", help="no progress display (one line per cell)")
    _add_home(grid)
    _add_plugin(grid)

    experiment = commands.add_parser("experiment", help="one of the seed papers' experiments (CLMR's ablations, "
                                     "the multi-source poster's tables), run through the grid and printed as its table")
    experiment.add_argument("name", nargs="?", help="the experiment (without it: the list, with the papers)")
    experiment.add_argument("--protocol", help=PROTOCOL_HELP)
    experiment.add_argument("--tasks", nargs="+", action="extend", help="tasks (default: the experiment's)")
    experiment.add_argument("--seeds", type=_seed_list, help="comma-separated seeds (default: the protocol's)")
    experiment.add_argument("--encoders", nargs="+", action="extend", help="encoders (default: the experiment's)")
    experiment.add_argument("--jobs", type=_at_least_one, help="concurrent runs per device (default 1)")
    experiment.add_argument("--devices", nargs="+", action="extend", help="GPU indices or cpu (default: this machine)")
    experiment.add_argument("--out", default="plots", help="folder for the figures (default ./plots/NAME/)")
    experiment.add_argument("--render-only", action="store_true", help="print the table from the records there "
                            "are; run nothing")
    experiment.add_argument("--no-progress", action="store_true", help="no progress display (one line per cell)")
    _add_home(experiment)
    _add_plugin(experiment)

    status = commands.add_parser("status", help="the grid of runs of a protocol: done, missing, failed")
    status.add_argument("--protocol", default="cpu")
    status.add_argument("--task", action="append", default=[], help="tasks of the grid (repeatable; default synth-*)")
    status.add_argument("--seeds", type=_seed_list, help="comma-separated seeds (default: the protocol's)")
    _add_home(status)
    _add_plugin(status)

    cache = commands.add_parser("cache", help="list or clear cached checkpoints and embeddings")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True)
    cache_ls = cache_commands.add_parser("ls", help="cached entries with sizes")
    _add_home(cache_ls)
    cache_clear = cache_commands.add_parser("clear", help="remove cached entries")
    cache_clear.add_argument("--method", help="only this method's entries")
    cache_clear.add_argument("--task", help="only embeddings made for this task (checkpoints are shared by all tasks)")
    cache_clear.add_argument("--all", action="store_true", help="everything (needed when no filter is given)")
    _add_home(cache_clear)

    protocol = commands.add_parser("protocol", help="show a protocol's settings")
    protocol_commands = protocol.add_subparsers(dest="protocol_command", required=True)
    protocol_show = protocol_commands.add_parser("show", help="print every setting of a protocol with its sources")
    protocol_show.add_argument("name", help="built-in protocol name (v1, cpu) or a .toml file")

    env = commands.add_parser("env", help="the installed torch stack against the tested one, and the lock")
    env.add_argument("--write-lock", action="store_true",
                     help="rewrite ssl_music_bench/lock.txt from this environment (maintainers: a fresh venv "
                     "after pip install -e \".[test]\" and a green pytest)")

    export = commands.add_parser("export", help="a trained encoder as a HEAR 2021 API module (hear-eval-kit, "
                                 "hear-validator)")
    export.add_argument("--hear", required=True, metavar="CHECKPOINT_OR_RUN",
                        help="a checkpoint folder or name, a run record (.json), or a CLMR weights file")
    export.add_argument("--out", required=True, help="folder for pyproject.toml and the module's package")
    export.add_argument("--name", help="the module's name (default sslmb_<method>_<encoder>)")
    export.add_argument("--hop-ms", type=float, default=50.0, help="interval of the timestamp embeddings (default 50)")
    _add_home(export)
    _add_plugin(export)

    demo = commands.add_parser("demo", help="pretrain CLMR with both encoders on the synthetic corpus, "
                               "probe two tasks, print the leaderboard (CPU protocol, ~minutes)")
    demo.add_argument("--no-progress", action="store_true")
    _add_home(demo)
    return parser
