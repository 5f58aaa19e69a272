"""The ``bench`` command.

    bench list                                   what is registered, and what pairs with what
    bench run --method M --encoder E --task T    pretrain (or reuse), embed, probe, record
    bench table                                  the leaderboard from the run records
    bench demo                                   the README's main job on the synthetic corpus
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from ssl_music_bench.cli.data import command_prepare, command_separate
from ssl_music_bench.cli.experiment import command_experiment
from ssl_music_bench.cli.export import command_export
from ssl_music_bench.cli.grid import command_grid
from ssl_music_bench.cli.parser import build_parser
from ssl_music_bench.cli.pipeline import command_demo, command_embed, command_run
from ssl_music_bench.cli.report import command_plot, command_status, command_table
from ssl_music_bench.cli.tools import command_cache, command_env, command_list, command_protocol, command_speed
from ssl_music_bench.errors import BenchError, Terminated

COMMANDS = {
    "list": command_list, "run": command_run, "table": command_table, "prepare": command_prepare,
    "separate": command_separate, "embed": command_embed, "status": command_status, "plot": command_plot,
    "speed": command_speed, "cache": command_cache, "protocol": command_protocol, "env": command_env,
    "demo": command_demo, "grid": command_grid, "experiment": command_experiment, "export": command_export,
}



def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    try:
        from ssl_music_bench.contracts.registry import load_plugin_file

        for plugin in getattr(args, "plugin", []):
            load_plugin_file(plugin)
        # the data a user asked for goes to stdout; progress and messages go to stderr
        COMMANDS[args.command](args, Console(soft_wrap=True) if args.command == "list" else console)
    except BenchError as error:
        # escaped: messages quote user input and file contents ("[pretrain]" is not markup)
        console.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True, highlight=False)
        return 2
    except BrokenPipeError:
        # the reader of stdout went away (`bench table | head`): stop quietly, as Unix tools do;
        # stdout is pointed at /dev/null so the interpreter's final flush cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as interruption:
        terminated = isinstance(interruption, Terminated)
        console.print(f"{'terminated (SIGTERM)' if terminated else 'interrupted'}: nothing half-written was kept; "
                      "run the command again to continue.")
        return 143 if terminated else 130
    except (ImportError, OSError, RuntimeError) as error:
        from ssl_music_bench.environment import is_stack_load_failure, stack_load_message

        if not is_stack_load_failure(error):
            raise
        console.print(f"[bold red]error:[/] {escape(stack_load_message(error))}", soft_wrap=True, highlight=False)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
