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
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ssl_music_bench.cli_parser import build_parser
from ssl_music_bench.errors import BenchError

DEMO_METHOD = "clmr"
DEMO_ENCODERS = ("samplecnn", "effnet")
DEMO_TASKS = ("synth-tags", "synth-genre")


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
    console.print(f"[bold]{record['method']} + {args.encoder} on {args.task}[/] (protocol {protocol.name}, seed "
                  f"{args.seed}): {format_metrics(record)}  [{record['timings']['total_s']:.0f} s]")
    console.print(f"record: {path}")


def records_in(directory: Path, protocol: str | None = None) -> list[dict]:
    """The run records below ``directory`` (none when it does not exist), of one protocol if named."""
    from ssl_music_bench.records import load_records

    records = load_records(directory) if directory.is_dir() else []
    return [r for r in records if protocol is None or r["protocol"]["name"] == protocol]


def format_metrics(record: dict) -> str:
    """A record's metrics in percent on one line, e.g. "roc_auc 88.84, pr_auc 74.59"."""
    return ", ".join(f"{k} {100 * v:.2f}" for k, v in record["metrics"].items() if k != "tags_scored")


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

    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.records import records_dir, write_text_atomic
    from ssl_music_bench.reported import reported_records
    from ssl_music_bench.table import render

    if args.write:
        directory = Path(args.records or Path(LEADERBOARD) / "records")
        if not directory.is_dir():
            raise BenchError(f"--write refreshes {LEADERBOARD}/LEADERBOARD.md from {directory}, which does not exist: "
                             "run it from the repository root, or give --records DIR.")
    else:
        directory = Path(args.records) if args.records else records_dir(resolve_home(args.home))
    records = records_in(directory, args.protocol)
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

    import torch
    from rich.progress import Progress

    from ssl_music_bench.checkpoint import is_complete, load_checkpoint
    from ssl_music_bench.embed import AUDIO_SUFFIXES, audio_files, embed_files, write_embedding_folder
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
        raise BenchError(f"No audio files found in {', '.join(args.paths)} (looked for "
                         f"{', '.join(sorted(s.lstrip('.') for s in AUDIO_SUFFIXES))}).")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    method.to(device).eval()
    encoder = method.encoder
    with Progress(console=console, disable=args.no_progress, transient=True) as bar:
        embeddings, rows, skipped = embed_files(method.features, files, encoder.sample_rate, encoder.crop_samples,
                                                protocol.probe.embed_batch_size, device, bar)
    for path, reason in skipped:
        console.print(f"[yellow]skipped[/] {path}: {reason}")
    about = {"checkpoint": directory.name, "method": args.method, "encoder": args.encoder, "protocol": protocol.name,
             "seed": args.seed, "sample_rate": encoder.sample_rate, "chunk_samples": encoder.crop_samples,
             "files": len(files) - len(skipped), "skipped": dict(skipped)}
    out = Path(args.out).expanduser()
    write_embedding_folder(out, embeddings, rows, encoder.crop_seconds, about)
    console.print(f"{len(rows)} chunk embeddings of {len(files) - len(skipped)} files -> {out}")


def command_plot(args: argparse.Namespace, console: Console) -> None:

    from ssl_music_bench import plots
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.records import records_dir

    directory = Path(args.records) if args.records else records_dir(resolve_home(args.home))
    records = records_in(directory, args.protocol)
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

    from ssl_music_bench.protocol import load_protocol

    protocol = load_protocol(args.name)  # validates, and refuses unknown names
    path = Path(args.name)
    if path.is_file():
        print(path.read_text(), end="")
    else:
        print(resources.files("ssl_music_bench.protocols").joinpath(f"{protocol.name}.toml").read_text(), end="")
    print(f"# sha256 {protocol.sha256}")


def command_env(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench import environment

    if args.write_lock:
        path = environment.write_lock()
        console.print(f"wrote {path} ({len(environment.read_lock(path))} packages, sha256 "
                      f"{environment.lock_sha256(path)}); commit it with the pyproject change it goes with.")
        return
    print(f"torch stack: {environment.describe_stack()}")
    departures = environment.stack_departures()
    print("  the tested set." if not departures else f"  NOT the tested set; to install it: {environment.fix_command()}")
    state = environment.lock_state()
    print(f"lock: {environment.LOCK_FILE} sha256 {state['sha256']}")
    for name, versions in (state["departures"] or {}).items():
        print(f"  {name}: installed {versions['installed'] or 'not installed'}, locked {versions['locked']}")
    if state["departures"] == {}:
        print("  every locked package is installed at its locked version.")


def command_demo(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.protocol import load_protocol
    from ssl_music_bench.records import records_dir
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
            console.print(f"  {DEMO_METHOD} + {encoder} on {task}: {format_metrics(record)}")
    records = records_in(records_dir(home), protocol.name)
    sys.stdout.write("\n" + render(records, "md"))


COMMANDS = {
    "list": command_list, "run": command_run, "table": command_table, "prepare": command_prepare,
    "separate": command_separate, "embed": command_embed, "status": command_status, "plot": command_plot,
    "speed": command_speed, "cache": command_cache, "protocol": command_protocol, "env": command_env,
    "demo": command_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    try:
        from ssl_music_bench.registry import load_plugin_file

        for plugin in getattr(args, "plugin", []):
            load_plugin_file(plugin)
        # the data a user asked for goes to stdout; progress and messages go to stderr
        COMMANDS[args.command](args, Console(soft_wrap=True) if args.command == "list" else console)
    except BenchError as error:
        console.print(f"[bold red]error:[/] {error}", soft_wrap=True, highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted: nothing half-written was kept; run the command again to continue.")
        return 130
    except (ImportError, OSError, RuntimeError) as error:
        from ssl_music_bench.environment import is_stack_load_failure, stack_load_message

        if not is_stack_load_failure(error):
            raise
        console.print(f"[bold red]error:[/] {escape(stack_load_message(error))}", soft_wrap=True, highlight=False)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
