"""`bench list`, `speed`, `cache`, `protocol` and `env`: what is installed, cached and how fast it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ssl_music_bench.errors import BenchError


def command_list(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.contracts.compatibility import compatible_encoders
    from ssl_music_bench.contracts.protocol import builtin_protocols
    from ssl_music_bench.contracts.registry import ENCODERS, METHODS, TASKS

    # descriptions are docstrings, a plugin's among them: escaped, "[x]" in one is text, not markup
    console.print("[bold]methods[/]")
    for entry in METHODS.entries():
        console.print(f"  {entry.name:<18} {escape(entry.description)}")
        console.print(f"  {'':<18} encoders: {', '.join(compatible_encoders(entry.name))}")
    console.print("[bold]encoders[/]")
    for entry in ENCODERS.entries():
        cls = entry.obj
        console.print(f"  {entry.name:<18} {escape(entry.description)}")
        console.print(escape(f"  {'':<18} input {cls.input_kind}, {cls.sample_rate} Hz, crop {cls.crop_samples} "
                             f"samples, {cls.embed_dim}-d"))
    console.print("[bold]tasks[/]")
    for entry in TASKS.entries():
        console.print(f"  {entry.name:<18} {escape(entry.description)}")
    console.print(f"[bold]protocols[/]\n  {', '.join(builtin_protocols())}")
    encoders = ENCODERS.names()
    width = max(len(name) for name in METHODS.names())
    console.print("[bold]method x encoder[/] (yes: compatible)")
    console.print("  " + " " * width + "  " + "  ".join(encoders))
    for name in METHODS.names():
        accepted = set(compatible_encoders(name))
        cells = "  ".join(("yes" if e in accepted else "-").center(len(e)) for e in encoders)
        console.print(f"  {name:<{width}}  {cells}")


def command_speed(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.train.speed import run_speed
    from ssl_music_bench.train.speed.settings import SpeedSettings

    settings = SpeedSettings(
        batch_size=args.batch_size, steps=args.steps, warmup=args.warmup, device=args.device, protocol=args.protocol,
        synth_size=args.synth_size, compile=args.compile,
        channels_last={"auto": None, "on": True, "off": False}[args.channels_last],
    )
    run_speed(resolve_home(args.home), args.method, args.encoder, settings, Path(args.out), console)


def command_cache(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.evaluate.cache import cache_entries, clear_cache
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
    console.print(f"removed {len(removed)} entries, {sum(e.bytes for e in removed) / 1e6:.1f} MB")  # a message: stderr
    unreadable = [entry.path for entry in cache_entries(home) if entry.unreadable]
    if unreadable:
        console.print(f"left {len(unreadable)} unreadable file(s) the tool cannot prove it wrote, e.g. "
                      f"{escape(str(unreadable[0]))}: remove them by hand if they are yours to remove")


def command_protocol(args: argparse.Namespace, console: Console) -> None:
    from importlib import resources

    from ssl_music_bench.contracts.protocol import load_protocol

    protocol = load_protocol(args.name)  # validates, and refuses unknown names
    path = Path(args.name)
    if path.is_file():
        print(path.read_text(), end="")
    else:
        print(resources.files("ssl_music_bench.contracts.protocols").joinpath(f"{protocol.name}.toml").read_text(), end="")
    print(f"# sha256 {protocol.sha256}")
    from ssl_music_bench.report.budget import budget_lines  # the budget beside the papers', GPU-hours per run

    print("\n".join(budget_lines(protocol)))


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
