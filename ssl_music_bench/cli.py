"""The ``bench`` command.

    bench list                                   what is registered, and what pairs with what
    bench run --method M --encoder E --task T    pretrain (or reuse), embed, probe, record
    bench table                                  the leaderboard from the run records
    bench demo                                   the README's main job on the synthetic corpus
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from ssl_music_bench.errors import BenchError

DEMO_METHOD = "clmr"
DEMO_ENCODERS = ("samplecnn", "effnet")
DEMO_TASKS = ("synth-tags", "synth-genre")


def _add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="directory for data, caches, checkpoints and records "
                        "(default: $BENCH_HOME or ~/.cache/ssl-music-bench)")


def _add_plugin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="a Python file that registers extra methods/encoders/tasks (repeatable)")


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
    run.add_argument("--protocol", default="v1", help="built-in protocol name (v1, cpu) or a .toml file")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--devices", type=int, default=1, help="training processes per node (DDP when > 1)")
    run.add_argument("--nodes", type=int, default=1, help="nodes (torchrun/SLURM launch, through Lightning)")
    run.add_argument("--label-fraction", type=float, default=1.0,
                     help="train the probe on this stratified fraction of the train labels (0.01, 0.1, 1.0)")
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                     help="override a method setting, e.g. --set sources=drums (repeatable)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")
    run.add_argument("--compile", action="store_true",
                     help="torch.compile the encoder for pretraining (same computation; pays off on long GPU runs)")
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
    embed.add_argument("--seed", type=int, default=0)
    embed.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings")
    embed.add_argument("--task", help="for the supervised baseline: the task its checkpoint was trained on")
    embed.add_argument("--out", required=True, help="output folder: embeddings.npy, index.csv, about.json")
    embed.add_argument("--no-progress", action="store_true")
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

    status = commands.add_parser("status", help="the grid of runs of a protocol: done, missing, failed")
    status.add_argument("--protocol", default="cpu")
    status.add_argument("--task", action="append", default=[], help="tasks of the grid (repeatable; default synth-*)")
    status.add_argument("--seeds", help="comma-separated seeds (default: the protocol's)")
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

    demo = commands.add_parser("demo", help="pretrain CLMR with both encoders on the synthetic corpus, "
                               "probe two tasks, print the leaderboard (CPU protocol, ~minutes)")
    demo.add_argument("--no-progress", action="store_true")
    _add_home(demo)
    return parser


def command_list(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.method import compatible_encoders
    from ssl_music_bench.protocol import builtin_protocols
    from ssl_music_bench.registry import ENCODERS, METHODS, TASKS

    console.print("[bold]methods[/]")
    for entry in METHODS.entries():
        console.print(f"  {entry.name:<18} {entry.description}")
        console.print(f"  {'':<18} encoders: {', '.join(compatible_encoders(entry.name))}")
    console.print("[bold]encoders[/]")
    for entry in ENCODERS.entries():
        cls = entry.obj
        console.print(f"  {entry.name:<18} {entry.description}")
        console.print(f"  {'':<18} input {cls.input_kind}, {cls.sample_rate} Hz, crop {cls.crop_samples} samples, "
                      f"{cls.embed_dim}-d")
    console.print("[bold]tasks[/]")
    for entry in TASKS.entries():
        console.print(f"  {entry.name:<18} {entry.description}")
    console.print(f"[bold]protocols[/]\n  {', '.join(builtin_protocols())}")
    encoders = ENCODERS.names()
    width = max(len(name) for name in METHODS.names())
    console.print("[bold]method x encoder[/] (yes: compatible)")
    console.print("  " + " " * width + "  " + "  ".join(encoders))
    for name in METHODS.names():
        accepted = set(compatible_encoders(name))
        cells = "  ".join(("yes" if e in accepted else "-").center(len(e)) for e in encoders)
        console.print(f"  {name:<{width}}  {cells}")


def command_run(args: argparse.Namespace, console: Console) -> None:
    import torch

    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.protocol import load_protocol
    from ssl_music_bench.method import method_label
    from ssl_music_bench.run import SecondaryRank, run_benchmark
    from ssl_music_bench.status import clear_failure, note_failure

    home = resolve_home(args.home)
    protocol = load_protocol(args.protocol)
    overrides = parse_settings(args.settings)
    if protocol.pretrain.steps > 1000 and not torch.cuda.is_available():
        console.print(f"[yellow]note:[/] protocol {protocol.name} pretrains for {protocol.pretrain.steps} steps, "
                      "a GPU budget; on this CPU-only machine use --protocol cpu for a run of minutes.")
    label = method_label(args.method, overrides)
    try:
        record, path = run_benchmark(args.method, args.encoder, args.task, protocol, args.seed, home,
                                     console=console, progress=not args.no_progress, overrides=overrides,
                                     label_fraction=args.label_fraction, devices=args.devices, nodes=args.nodes,
                                     compile=args.compile)
    except SecondaryRank:
        return  # another DDP process: the first one saves, embeds, probes and records
    except (BenchError, KeyboardInterrupt):
        raise
    except Exception as error:  # a crash: leave a note for `bench status`, then show the traceback
        note_failure(home, label, args.encoder, args.task, args.seed, protocol.name, error)
        raise
    clear_failure(home, label, args.encoder, args.task, args.seed, protocol.name)
    metrics = ", ".join(f"{k} {100 * v:.2f}" for k, v in record["metrics"].items() if k != "tags_scored")
    console.print(f"[bold]{record['method']} + {args.encoder} on {args.task}[/] (protocol {protocol.name}, seed "
                  f"{args.seed}): {metrics}  [{record['timings']['total_s']:.0f} s]")
    console.print(f"record: {path}")


def parse_settings(settings: list[str]) -> dict[str, str]:
    overrides = {}
    for setting in settings:
        name, separator, value = setting.partition("=")
        if not separator or not name.strip():
            raise BenchError(
                f"--set expects NAME=VALUE (e.g. --set sources=drums), got {setting!r}. "
                f"`bench list` shows the methods; each method's settings are the fields of its config."
            )
        overrides[name.strip()] = value.strip()
    return overrides


LEADERBOARD = "leaderboard"


def command_table(args: argparse.Namespace, console: Console) -> None:
    from pathlib import Path

    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.records import load_records, records_dir, write_text_atomic
    from ssl_music_bench.reported import reported_records
    from ssl_music_bench.table import render

    if args.write:
        directory = Path(args.records or Path(LEADERBOARD) / "records")
        if not directory.is_dir():
            raise BenchError(f"--write refreshes {LEADERBOARD}/LEADERBOARD.md from {directory}, which does not exist: "
                             "run it from the repository root, or give --records DIR.")
    else:
        directory = Path(args.records) if args.records else records_dir(resolve_home(args.home))
    records = load_records(directory) if directory.is_dir() else []
    if args.protocol:
        records = [r for r in records if r["protocol"]["name"] == args.protocol]
    if args.task:
        records = [r for r in records if r["task"] in args.task]
    if args.label_fraction is not None:
        records = [r for r in records if r.get("label_fraction", 1.0) == args.label_fraction]
    if args.reported and records:
        records += [r for r in reported_records({r["protocol"]["name"] for r in records})
                    if not args.task or r["task"] in args.task]
    text = render(records, args.format)
    if args.write:
        target = directory.parent / "LEADERBOARD.md"
        write_text_atomic(target, "# Leaderboard\n\nRendered by `bench table --write` from the run records in "
                          f"`{directory.name}/`.\n\n" + text)
        console.print(f"wrote {target}")
    else:
        sys.stdout.write(text)


def command_prepare(args: argparse.Namespace, console: Console) -> None:
    from pathlib import Path

    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.prepare import PreparedTask, prepare
    from ssl_music_bench.registry import TASKS

    task = TASKS.get(args.task).obj()
    if not isinstance(task, PreparedTask):
        raise BenchError(
            f'The task "{args.task}" needs no preparation: it is generated or read directly. '
            f"`bench prepare` is for real datasets: "
            f"{', '.join(e.name for e in TASKS.entries() if issubclass(e.obj, PreparedTask)) or '(none registered)'}."
        )
    prepare(task, Path(args.root).expanduser(), resolve_home(args.home), args.workers, console, not args.no_progress)


def command_separate(args: argparse.Namespace, console: Console) -> None:
    import openunmix
    import torch
    from rich.progress import Progress

    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.prepare import PreparedTask, prepared_path, stems_path
    from ssl_music_bench.registry import TASKS
    from ssl_music_bench.separate import openunmix_targets, separate_store
    from ssl_music_bench.store import ClipStore

    home = resolve_home(args.home)
    task = TASKS.get(args.task).obj()
    mixtures = prepared_path(home, getattr(task, "store_name", args.task))
    if not isinstance(task, PreparedTask) or not (mixtures / "store.json").is_file():
        raise BenchError(
            f'`bench separate` works on a prepared real dataset: run `bench prepare --task {args.task} --root DIR` '
            f"first (the synthetic corpus needs no separation: its stems are generated with it)."
        )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    separator = None
    if args.untrained:
        console.print("[yellow]untrained separator:[/] the stems are meaningless; use it only to check the plumbing")
        separator = getattr(openunmix, args.model)(targets=list(openunmix_targets()), niter=args.niter,
                                                   device=device, pretrained=False)
    with Progress(console=console, disable=args.no_progress) as bar:
        store = separate_store(ClipStore(mixtures), stems_path(home, task.store_name), separator=separator,
                               weights=args.weights, model=args.model, device=device, niter=args.niter, progress=bar)
    console.print(f"stems of {len(store)} clips written to {store.root}")


def command_embed(args: argparse.Namespace, console: Console) -> None:
    import csv
    import json
    import shutil
    from pathlib import Path

    import numpy as np
    import torch
    from rich.progress import Progress

    from ssl_music_bench.checkpoint import is_complete, load_checkpoint
    from ssl_music_bench.embed import audio_files, embed_files
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.protocol import load_protocol
    from ssl_music_bench.registry import TASKS
    from ssl_music_bench.run import checkpoint_for

    home = resolve_home(args.home)
    protocol = load_protocol(args.protocol)
    method, _, directory = checkpoint_for(args.method, args.encoder, protocol, args.seed, home,
                                          parse_settings(args.settings), args.task)
    if not is_complete(directory):
        raise BenchError(
            f"No trained checkpoint of {args.method} + {args.encoder} under protocol {protocol.name}, seed {args.seed} "
            f"in {home}. Train one first with `bench run --method {args.method} --encoder {args.encoder} --task T "
            f"--protocol {protocol.name} --seed {args.seed}` (the same --set options), then embed."
        )
    if type(method).uses_task_labels:
        if not args.task:
            raise BenchError(f"The {args.method} baseline's checkpoint belongs to one task: name it with --task T.")
        method.attach_task(TASKS.get(args.task).obj().load(home, protocol))
    load_checkpoint(directory, method)
    files = audio_files([Path(p).expanduser() for p in args.paths])
    if not files:
        raise BenchError(f"No audio files found in {', '.join(args.paths)} (looked for {', '.join(('wav', 'flac', 'mp3', 'ogg', 'au'))}).")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    method.to(device).eval()
    encoder = method.encoder
    with Progress(console=console, disable=args.no_progress, transient=True) as bar:
        embeddings, rows, skipped = embed_files(method.features, files, encoder.sample_rate, encoder.crop_samples,
                                                protocol.probe.embed_batch_size, device, bar)
    for path, reason in skipped:
        console.print(f"[yellow]skipped[/] {path}: {reason}")
    out = Path(args.out).expanduser()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    np.save(partial / "embeddings.npy", embeddings.numpy())
    with open(partial / "index.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "file", "chunk", "start_seconds"])
        writer.writerows((i, f, c, round(c * encoder.crop_seconds, 4)) for i, (f, c) in enumerate(rows))
    about = {"checkpoint": directory.name, "method": args.method, "encoder": args.encoder, "protocol": protocol.name,
             "seed": args.seed, "sample_rate": encoder.sample_rate, "chunk_samples": encoder.crop_samples,
             "files": len(files) - len(skipped), "skipped": dict(skipped)}
    (partial / "about.json").write_text(json.dumps(about, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    console.print(f"{len(rows)} chunk embeddings of {len(files) - len(skipped)} files -> {out}")


def command_plot(args: argparse.Namespace, console: Console) -> None:
    from pathlib import Path

    from ssl_music_bench import plots
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.records import load_records, records_dir

    directory = Path(args.records) if args.records else records_dir(resolve_home(args.home))
    records = load_records(directory) if directory.is_dir() else []
    if args.protocol:
        records = [r for r in records if r["protocol"]["name"] == args.protocol]
    if not records:
        raise BenchError(f"No run records in {directory}{' for protocol ' + args.protocol if args.protocol else ''}: "
                         "run `bench run ...` first.")
    out = Path(args.out)
    written = [
        plots.loss_curves(records, out / "loss_curves.png"),
        plots.label_fraction_curves(records, args.task, args.metric, out / f"label_fraction_{args.task}.png"),
        plots.per_tag_average_precision(records, args.task, out / f"per_tag_ap_{args.task}.png"),
    ]
    for path in written:
        console.print(f"wrote {path}")


def command_speed(args: argparse.Namespace, console: Console) -> None:
    from pathlib import Path

    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.speed import run_speed

    run_speed(resolve_home(args.home), args.method, args.encoder, args.batch_size, args.steps, args.device,
              Path(args.out), console, protocol=args.protocol, synth_size=args.synth_size, warmup=args.warmup,
              compile=args.compile, channels_last={"auto": None, "on": True, "off": False}[args.channels_last])


def command_status(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.protocol import load_protocol
    from ssl_music_bench.registry import TASKS
    from ssl_music_bench.status import grid, render_status

    protocol = load_protocol(args.protocol)
    tasks = args.task or TASKS.names("synth-*")
    for task in tasks:
        TASKS.get(task)  # refuse unknown names with a suggestion
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(protocol.seeds)
    sys.stdout.write(render_status(grid(resolve_home(args.home), protocol, tasks, seeds), protocol, tasks, seeds))


def command_cache(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.cache import cache_entries, clear_cache
    from ssl_music_bench.home import resolve_home

    home = resolve_home(args.home)
    if args.cache_command == "ls":
        entries = cache_entries(home)
        for entry in entries:
            about = " ".join(f"{k}={v}" for k, v in sorted(entry.about.items()))
            print(f"{entry.kind:<11} {entry.bytes / 1e6:9.1f} MB  {entry.path.name}  {about}")
        print(f"{len(entries)} entries, {sum(e.bytes for e in entries) / 1e6:.1f} MB in {home}")
        return
    if not (args.method or args.task or args.all):
        raise BenchError("`bench cache clear` needs --method M, --task T, or --all (to remove everything cached).")
    removed = clear_cache(home, args.method, args.task)
    print(f"removed {len(removed)} entries, {sum(e.bytes for e in removed) / 1e6:.1f} MB")


def command_protocol(args: argparse.Namespace, console: Console) -> None:
    from importlib import resources
    from pathlib import Path

    from ssl_music_bench.protocol import load_protocol

    protocol = load_protocol(args.name)  # validates, and refuses unknown names
    path = Path(args.name)
    if path.is_file():
        print(path.read_text(), end="")
    else:
        print(resources.files("ssl_music_bench.protocols").joinpath(f"{protocol.name}.toml").read_text(), end="")
    print(f"# sha256 {protocol.sha256}")


def command_demo(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.protocol import load_protocol
    from ssl_music_bench.records import load_records, records_dir
    from ssl_music_bench.run import run_benchmark
    from ssl_music_bench.table import render

    home = resolve_home(args.home)
    protocol = load_protocol("cpu")
    console.print(f"[bold]ssl-music-bench demo[/]: {DEMO_METHOD} x {', '.join(DEMO_ENCODERS)} x "
                  f"{', '.join(DEMO_TASKS)} under protocol cpu; home {home}")
    for encoder in DEMO_ENCODERS:
        for task in DEMO_TASKS:
            record, _ = run_benchmark(DEMO_METHOD, encoder, task, protocol, 0, home, console=console,
                                      progress=not args.no_progress)
            metrics = ", ".join(f"{k} {100 * v:.2f}" for k, v in record["metrics"].items() if k != "tags_scored")
            console.print(f"  {DEMO_METHOD} + {encoder} on {task}: {metrics}")
    records = [r for r in load_records(records_dir(home)) if r["protocol"]["name"] == "cpu"]
    sys.stdout.write("\n" + render(records, "md"))


COMMANDS = {"list": command_list, "run": command_run, "table": command_table, "prepare": command_prepare,
            "separate": command_separate, "status": command_status, "plot": command_plot, "speed": command_speed, "embed": command_embed, "cache": command_cache, "protocol": command_protocol, "demo": command_demo}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    try:
        from ssl_music_bench.registry import load_plugin_file

        for plugin in getattr(args, "plugin", []):
            load_plugin_file(plugin)
        # the data a user asked for goes to stdout; progress and messages go to stderr goes to stdout, progress and messages to stderr
        COMMANDS[args.command](args, Console(soft_wrap=True) if args.command == "list" else console)
    except BenchError as error:
        console.print(f"[bold red]error:[/] {error}", soft_wrap=True, highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted: nothing half-written was kept; run the command again to continue.")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
