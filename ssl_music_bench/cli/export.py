"""`bench export --hear`: a trained encoder as a HEAR 2021 API module (ssl_music_bench/hear/export.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape


def command_export(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.hear.export import export_hear
    from ssl_music_bench.home import resolve_home

    package = export_hear(args.hear, Path(args.out).expanduser(), resolve_home(args.home), args.name, args.hop_ms)
    console.print(f"HEAR module [bold]{escape(package.name)}[/] -> {escape(str(package))}; install it with "
                  f"`pip install {escape(str(package.parent))}` (or PYTHONPATH={escape(str(package.parent))}), then "
                  f"`hear-validator {escape(package.name)}`", highlight=False)
