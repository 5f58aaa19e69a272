"""Would another note generator give synth-instrument its headroom? Floor and ceiling of variants.

synth-instrument misses issue 12's targets on the CPU: the random-init floor reads the lead's
family from its timbre (67.95 % under cpu-headroom version 2, corpus v5) and the supervised
ceiling trained from scratch stays below it (54.09 %; docs/TASKS.md). This script measures the
floor (``random-init``) and the ceiling (``supervised``) of synth-instrument under a protocol for
variants of the note generator, without changing the corpus version: each variant replaces the
generator inside this process only, in a home of its own (``--home``, which must be new or one
this script made for the same variant), so nothing it makes can be mistaken for a corpus-v5 run.

Variants (docs/TASKS.md, "synth-instrument redesigns measured"):

- ``base``: the generator as it is (corpus v5);
- ``body``: every instrument through a body of its own, broad resonances and a tilt drawn from
  one distribution for every family (``--resonances``, ``--resonance-db``, ``--tilt``), so that
  a note's long-term spectrum no longer names its family;
- ``lowest``: the labelled note is the lowest of three at about the same loudness (the others
  5-19 semitones above it, -3 to +3 dB, never louder than it at any moment), so that its family
  is told by its register, not by its level;

and ``--accompaniment 0`` for isolated notes. ``--train-notes`` changes the number of training
notes (the valid and test splits stay those of the protocol's size).

    python benchmarks/instrument_variants.py --variant body --home /tmp/body --methods random-init
    python benchmarks/instrument_variants.py --variant body --home /tmp/body-4400 --train-notes 4400

Prints one JSON line per finished run (test and valid accuracy, the ceiling's valid curve). It
measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.data import synthetic_corpus
from ssl_music_bench.data.synth import notes, render
from ssl_music_bench.data.synth.dsp import SAMPLE_RATE
from ssl_music_bench.run import run_benchmark
from ssl_music_bench.run_spec import RunOptions, RunSpec

MARKER = "instrument-variant.json"  # what this script writes into a home it made


def body_gain_db(freqs: np.ndarray, rng: np.random.Generator, resonances: int, gain_db: float,
                 tilt: float, jitter: float) -> np.ndarray:
    """One instrument's body: ``resonances`` Gaussian bumps in log frequency (centres 150 Hz-7 kHz,
    widths 0.3-1.2 octaves, gains uniform in +-gain_db, scaled by this note's ``jitter``) plus a
    tilt (+-tilt dB per octave at 1 kHz, the same for every note of the instrument)."""
    octave = np.log2(np.maximum(freqs, 20.0))
    centres = rng.uniform(np.log2(150.0), np.log2(7000.0), resonances)
    widths = rng.uniform(0.3, 1.2, resonances)
    gains = rng.uniform(-gain_db, gain_db, resonances)
    slope = rng.uniform(-tilt, tilt)
    bumps = sum(g * np.exp(-0.5 * ((octave - c) / w) ** 2) for c, w, g in zip(centres, widths, gains * jitter))
    return bumps + slope * (octave - np.log2(1000.0))


def install_body(resonances: int, gain_db: float, tilt: float) -> None:
    """Every rendered note (labelled or accompanying) passes through its instrument's body; the
    body varies from note to note by the instruments' usual few percent."""
    plain = notes._render

    def render_through_body(seed: int, family: str, number: int, pitch: int, velocity: int,
                            rng: np.random.Generator) -> np.ndarray:
        note = plain(seed, family, number, pitch, velocity, rng)
        body = np.random.default_rng([seed, notes.NOTE_FAMILIES.index(family), number, 2000])
        freqs = np.fft.rfftfreq(len(note), 1.0 / SAMPLE_RATE)
        gain = body_gain_db(freqs, body, resonances, gain_db, tilt, float(np.exp(rng.normal(0.0, notes._JITTER))))
        coloured = np.fft.irfft(np.fft.rfft(note) * 10.0 ** (gain / 20.0), n=len(note))
        return coloured * (float(np.abs(note).max()) / max(float(np.abs(coloured).max()), 1e-9))

    notes._render = render_through_body


def install_lowest(accompaniment: int) -> None:
    """The labelled note is the lowest (C2-C5); the others sound 5-19 semitones above it."""

    def generate_note(seed: int, split_index: int, index: int) -> notes.Note:
        family = notes.NOTE_FAMILIES[index % len(notes.NOTE_FAMILIES)]
        rng = np.random.default_rng([seed, split_index, index])
        number = notes._instrument(split_index, rng)
        pitch, velocity = int(rng.integers(36, 73)), int(rng.choice(notes.NOTE_VELOCITIES))
        lead = notes._render(seed, family, number, pitch, velocity, rng)
        mix = lead
        others = [f for f in notes.NOTE_FAMILIES if f != family]
        for other in rng.choice(len(others), size=accompaniment, replace=False):
            level = 10 ** (float(rng.uniform(-3.0, 3.0)) / 20)
            played = notes._render(seed, others[int(other)], notes._instrument(split_index, rng),
                                   pitch + int(rng.integers(5, 20)), velocity, rng)
            mix = mix + notes.under_lead(lead, level * played, 0.0)
        return notes.stored_note(mix, family, pitch, velocity, number)

    render.generate_note = generate_note  # render.py imported it by name


def claim_home(home: Path, settings: dict[str, object]) -> None:
    """Use ``home`` only when it is new or was made by this script for the same settings."""
    marker = home / MARKER
    if home.exists() and any(home.iterdir()):
        if not marker.is_file() or json.loads(marker.read_text()) != settings:
            raise SystemExit(f"{home} is not empty and was not made by this script for these settings; "
                             "give a new --home (a variant's corpus must never meet another's).")
        return
    home.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(settings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=("base", "body", "lowest"), required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--protocol", default="cpu-headroom")
    parser.add_argument("--methods", nargs="+", default=["random-init", "supervised"])
    parser.add_argument("--encoder", default="effnet")
    parser.add_argument("--accompaniment", type=int, default=notes.ACCOMPANIMENT)
    parser.add_argument("--train-notes", type=int, default=None)
    parser.add_argument("--resonances", type=int, default=4)
    parser.add_argument("--resonance-db", type=float, default=18.0)
    parser.add_argument("--tilt", type=float, default=3.0, help="dB per octave")
    args = parser.parse_args()

    claim_home(args.home, {k: str(v) for k, v in vars(args).items() if k not in ("home", "methods")})
    protocol = load_protocol(args.protocol)
    notes.ACCOMPANIMENT = args.accompaniment
    if args.variant == "body":
        install_body(args.resonances, args.resonance_db, args.tilt)
    elif args.variant == "lowest":
        install_lowest(args.accompaniment)
    if args.train_notes is not None:
        size = synthetic_corpus.SIZES[protocol.synth_size]
        synthetic_corpus.SIZES[protocol.synth_size] = synthetic_corpus.CorpusSize(
            size.songs, size.song_seconds, (args.train_notes, *size.notes[1:]))

    quiet = RunOptions(progress=False, console=Console(quiet=True))
    started = time.perf_counter()
    for method in args.methods:
        record, _ = run_benchmark(RunSpec(method, args.encoder, protocol, "synth-instrument", seed=0), args.home, quiet)
        stopping = (record.get("pretraining") or {}).get("early_stopping") or {}
        print(json.dumps({"variant": args.variant, "method": method, "test": record["metrics"],
                          "valid": record["valid_metrics"], "valid_curve": stopping.get("valid_metric_curve"),
                          "seconds": round(time.perf_counter() - started)}), flush=True)


if __name__ == "__main__":
    main()
