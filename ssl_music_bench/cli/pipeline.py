"""`bench run`, `bench demo` and `bench embed`: the commands that pretrain, embed and probe.

Each turns its options into a RunSpec (ssl_music_bench/run_spec.py: what the run is, checked
before any work) and RunOptions (how it executes); `run` and `demo` hand them to run_benchmark,
`embed` gets the spec's pretrained method from its checkpoint (train/pretrained.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from ssl_music_bench.cli.common import format_metrics, records_in
from ssl_music_bench.contracts.registry import resolve_encoder_name
from ssl_music_bench.contracts.settings import parse_settings
from ssl_music_bench.errors import BenchError

if TYPE_CHECKING:  # imported when --weights is given: reading weights files needs torch
    from ssl_music_bench.weights import ExternalWeights

DEMO_METHOD = "clmr"
# the floor and the ceiling of every column, so that the demo's table says what its clmr row is worth
DEMO_BASELINES = ("random-init", "supervised")
DEMO_ENCODERS = ("samplecnn", "effnet")
# The ceiling trains until its validation loss stops improving: minutes for EfficientNet-B0 on two
# cores, but SampleCNN's steps are 6-8x slower on a CPU (docs/PERFORMANCE.md's CPU tables), which
# would make the demo take tens of minutes; its ceiling is one `bench run` away, and the demo's
# line says so.
DEMO_CEILING_ENCODERS = ("effnet",)
DEMO_TASKS = ("synth-tags", "synth-genre")


def command_run(args: argparse.Namespace, console: Console) -> None:
    import torch

    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.contracts.settings import method_label
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.report.status import clear_failure, note_failure
    from ssl_music_bench.run import run_benchmark
    from ssl_music_bench.run_spec import RunOptions, RunSpec
    from ssl_music_bench.train.pretrained import SecondaryRank
    from ssl_music_bench.train.snapshots import probing_every

    home = resolve_home(args.home)
    protocol = probing_every(load_protocol(args.protocol), getattr(args, "probe_every", None))
    overrides = parse_settings(args.settings)
    args.encoder = resolve_encoder_name(args.encoder)  # hear:MODULE -> the registered hear-MODULE
    if protocol.pretrain.steps > 1000 and not torch.cuda.is_available():
        console.print(f"[yellow]note:[/] protocol {escape(protocol.name)} pretrains for {protocol.pretrain.steps} steps, "
                      "a GPU budget; on this CPU-only machine use --protocol cpu for a run of minutes.")
    label = method_label(args.method, overrides)
    if args.weights:
        label = f"{label} ({args.weights_label or 'weights'})"  # the failure note's row; the record's is the spec's
    options = RunOptions(devices=args.devices, nodes=args.nodes, compile=args.compile,
                         progress=not args.no_progress, console=console)
    try:
        spec = RunSpec(args.method, args.encoder, protocol, task=args.task, seed=args.seed, overrides=overrides,
                       label_fraction=args.label_fraction, weights=_weights_option(args))
        record, path = run_benchmark(spec, home, options)
    except SecondaryRank:
        return  # another DDP process: the first one saves, embeds, probes and records
    except (BenchError, KeyboardInterrupt):
        raise
    except Exception as error:  # a crash: leave a note for `bench status`, then show the traceback
        note_failure(home, label, args.encoder, args.task, args.seed, protocol, error)
        raise
    clear_failure(home, label, args.encoder, args.task, args.seed, protocol)
    # escaped: the label quotes --set values ("msa[sources=drums]" is not markup), names may come from plugins
    console.print(f"[bold]{escape(record['method'])} + {escape(args.encoder)} on {escape(args.task)}[/] (protocol "
                  f"{escape(protocol.name)}, seed {args.seed}): {format_metrics(record)}  "
                  f"\\[{record['timings']['total_s']:.0f} s]", highlight=False)
    console.print(f"record: {escape(str(path))}", highlight=False)


def command_demo(args: argparse.Namespace, console: Console) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.home import records_dir, resolve_home
    from ssl_music_bench.report.table import render
    from ssl_music_bench.run import run_benchmark
    from ssl_music_bench.run_spec import RunOptions, RunSpec

    home = resolve_home(args.home)
    protocol = load_protocol("cpu")
    methods = (DEMO_METHOD, *DEMO_BASELINES)
    console.print(f"[bold]ssl-music-bench demo[/]: {', '.join(methods)} x {', '.join(DEMO_ENCODERS)} x "
                  f"{', '.join(DEMO_TASKS)} under protocol cpu (supervised on {', '.join(DEMO_CEILING_ENCODERS)} "
                  f"only); home {escape(str(home))}")
    options = RunOptions(progress=not args.no_progress, console=console)
    demo_records = []
    for encoder in DEMO_ENCODERS:
        for task in DEMO_TASKS:
            for method in methods:
                if method == DEMO_BASELINES[1] and encoder not in DEMO_CEILING_ENCODERS:
                    continue
                record, _ = run_benchmark(RunSpec(method, encoder, protocol, task=task, seed=0), home, options)
                console.print(f"  {method} + {encoder} on {task}: {format_metrics(record)}")
                demo_records.append(record)
    records = records_in(records_dir(home), protocol.name)
    sys.stdout.write("\n" + render(records, "md"))
    sys.stdout.write(demo_summary(demo_records, protocol.pretrain.steps, protocol.pretrain.batch_size) + "\n")


def demo_summary(records: list[dict], steps: int, batch_size: int) -> str:
    """The demo's one line on what its numbers mean: in how many (encoder, task) columns clmr is
    above the random-init floor by more than the test split's resolution, and the budget."""
    by_cell = {(r["method"], r["encoder"], r["task"]): r for r in records}
    columns = [(encoder, task) for encoder in DEMO_ENCODERS for task in DEMO_TASKS]
    clear = sum(_clears_floor(by_cell, DEMO_METHOD, encoder, task) for encoder, task in columns)
    ceilings = [(encoder, task) for encoder in DEMO_CEILING_ENCODERS for task in DEMO_TASKS]
    ceiling_clear = sum(_clears_floor(by_cell, DEMO_BASELINES[1], encoder, task) for encoder, task in ceilings)
    skipped = [encoder for encoder in DEMO_ENCODERS if encoder not in DEMO_CEILING_ENCODERS]
    return (f"What this means: {steps} pretraining steps of batch {batch_size} and one seed make this a smoke test of "
            f"the pipeline, not a ranking: {DEMO_METHOD} is above the random-init floor by more than the test set's "
            f"resolution in {clear} of {len(columns)} columns (headline metric), and the supervised ceiling, "
            f"early-stopped within the cpu protocol's small [ceiling] budget, in {ceiling_clear} of {len(ceilings)} "
            "(`--protocol cpu-headroom` trains it until it converges, on three seeds: up to half an hour per ceiling here)"
            + (f" ({', '.join(skipped)}'s ceiling is left out: `bench run --method supervised --encoder {skipped[0]} "
               "--task synth-genre --protocol cpu` takes tens of minutes here)" if skipped else "")
            + "; compare methods with `--protocol synth` on a GPU (3 seeds, converged budgets).")


def _clears_floor(by_cell: dict, method: str, encoder: str, task: str) -> bool:
    """Whether ``method``'s cell is above the random-init floor's by more than its test resolution."""
    ours, floor = by_cell.get((method, encoder, task)), by_cell.get((DEMO_BASELINES[0], encoder, task))
    if ours is None or floor is None:
        return False
    from ssl_music_bench.evaluate.metrics import JUDGED_METRIC  # torch: the demo has loaded it by now

    metric = JUDGED_METRIC[ours["task_kind"]]  # the column's headline metric: PR-AUC for tagging (issue 12)
    return ours["metrics"][metric] - floor["metrics"][metric] > (ours.get("resolution") or {}).get(metric, 0.0)


def command_embed(args: argparse.Namespace, console: Console) -> None:
    from rich.progress import Progress

    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.devices import default_device
    from ssl_music_bench.evaluate.embed import (
        AUDIO_SUFFIXES,
        audio_files,
        check_output_folder,
        embed_files,
        write_embedding_folder,
    )
    from ssl_music_bench.home import resolve_home
    from ssl_music_bench.run_spec import RunOptions, RunSpec
    from ssl_music_bench.train.checkpoint import is_complete
    from ssl_music_bench.train.pretrained import load_pretrained

    out = check_output_folder(Path(args.out), [Path(p) for p in args.paths], args.force)  # before any work
    home = resolve_home(args.home)
    protocol = load_protocol(args.protocol)
    args.encoder = resolve_encoder_name(args.encoder)  # hear:MODULE -> the registered hear-MODULE
    spec = RunSpec(args.method, args.encoder, protocol, task=args.task, seed=args.seed,
                   overrides=parse_settings(args.settings), weights=_weights_option(args))
    directory = spec.checkpoint_directory(home)
    if spec.weights is None and not is_complete(directory):
        raise BenchError(
            f"No trained checkpoint of {args.method} + {args.encoder} under protocol {protocol.name}, seed {args.seed} "
            f"in {home}. Train one first with `bench run --method {args.method} --encoder {args.encoder} --task T "
            f"--protocol {protocol.name} --seed {args.seed}` (the same --set options), then embed."
        )
    if spec.method_class.uses_task_labels and not args.task:
        raise BenchError(f"The {args.method} baseline's checkpoint belongs to one task: name it with --task T.")
    method, _ = load_pretrained(spec, home, RunOptions(progress=not args.no_progress, console=console))
    files = audio_files([Path(p).expanduser() for p in args.paths])
    if not files:
        raise BenchError(f"No audio files found in {', '.join(args.paths)} (looked for "
                         f"{', '.join(sorted(s.lstrip('.') for s in AUDIO_SUFFIXES))}).")
    device = default_device()
    method.to(device).eval()
    encoder = method.encoder
    with Progress(console=console, disable=args.no_progress, transient=True) as bar:
        embeddings, rows, skipped = embed_files(method.features, files, encoder.sample_rate, encoder.crop_samples,
                                                protocol.probe.embed_batch_size, device, bar)
    for path, reason in skipped:
        console.print(f"[yellow]skipped[/] {escape(path)}: {escape(reason)}")
    about = {"checkpoint": directory.name if spec.weights is None else None,
             "weights": spec.weights.describe() if spec.weights is not None else None,
             "method": spec.label, "encoder": args.encoder, "protocol": protocol.name,
             "seed": args.seed, "sample_rate": encoder.sample_rate, "chunk_samples": encoder.crop_samples,
             "files": len(files) - len(skipped), "skipped": dict(skipped)}
    write_embedding_folder(out, embeddings, rows, encoder.crop_seconds, about)
    console.print(f"{len(rows)} chunk embeddings of {len(files) - len(skipped)} files -> {escape(str(out))}")


def _weights_option(args: argparse.Namespace) -> ExternalWeights | None:
    """--weights FILE, read and checked (ssl_music_bench/weights/); None without it."""
    if not getattr(args, "weights", None):
        if getattr(args, "weights_label", None):
            raise BenchError("--weights-label names the row of a --weights run: give --weights FILE with it.")
        return None
    from ssl_music_bench.weights import load_external_weights

    return load_external_weights(args.weights, args.weights_label)
