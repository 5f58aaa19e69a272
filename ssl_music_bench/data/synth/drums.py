"""The drum kit: kick, snare and hi-hats synthesised the way analogue drum machines do it, and
a step sequencer that plays a style's pattern.

The recipes follow the classic analogue designs (e.g. the Roland TR-808/909 circuits, and
Gordon Reid's "Synth Secrets" series, Sound On Sound 2001-2002): a kick is a sine whose pitch
drops fast after the hit; a snare is a short tone for the drum shell plus filtered noise for
the snare wires; a hi-hat is high-passed noise with a very short (closed) or longer (open)
decay. A kit's tuning and decays are drawn per song, and every hit gets a little velocity and
timing variation so that loops are not sample-identical.
"""

from __future__ import annotations

import numpy as np

from ssl_music_bench.data.synth.dsp import SAMPLE_RATE, add_at, filtered

Kit = dict[str, float]

STEPS_PER_BAR = 16  # a pattern string has one character per sixteenth note of a 4/4 bar


def draw_kit(rng: np.random.Generator) -> Kit:
    """Tuning and decay times of one drum kit (seconds, Hz)."""
    u = rng.uniform
    return {
        "kick_hz": u(45, 65), "kick_sweep": u(2.0, 4.0), "kick_decay": u(0.12, 0.35),
        "snare_hz": u(160, 240), "snare_decay": u(0.08, 0.2), "snare_tone": u(0.2, 0.6),
        "hat_cutoff": u(5000, 7000), "hat_decay": u(0.02, 0.06), "open_decay": u(0.15, 0.35),
    }


def kick(kit: Kit, rng: np.random.Generator) -> np.ndarray:
    """Sine with an exponential pitch drop from ``sweep`` times the body pitch, plus a click."""
    n = int(5 * kit["kick_decay"] * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    freq = kit["kick_hz"] * (1.0 + (kit["kick_sweep"] - 1.0) * np.exp(-t / 0.03))
    body = np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE) * np.exp(-t / kit["kick_decay"])
    click = filtered(rng.standard_normal(n), "bandpass", (1000, 4000)) * np.exp(-t / 0.002)
    return body + 0.3 * click


def snare(kit: Kit, rng: np.random.Generator) -> np.ndarray:
    """Two detuned shell modes plus band-passed noise (the wires), decaying separately."""
    n = int(5 * kit["snare_decay"] * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    shell = (np.sin(2 * np.pi * kit["snare_hz"] * t) + 0.6 * np.sin(2 * np.pi * 1.47 * kit["snare_hz"] * t))
    shell *= np.exp(-t / 0.05)
    wires = filtered(rng.standard_normal(n), "bandpass", (1500, 7000)) * np.exp(-t / kit["snare_decay"])
    return kit["snare_tone"] * shell + wires


def hihat(kit: Kit, rng: np.random.Generator, open_: bool) -> np.ndarray:
    """High-passed noise; an open hat decays several times slower than a closed one."""
    decay = kit["open_decay"] if open_ else kit["hat_decay"]
    n = int(5 * decay * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    return filtered(rng.standard_normal(n), "highpass", kit["hat_cutoff"], order=4) * np.exp(-t / decay)


def drum_track(
    patterns: dict[str, str], kit: Kit, tempo: float, n: int, start: int, rng: np.random.Generator,
    swing: float = 0.0,
) -> np.ndarray:
    """Play ``patterns`` (one 16-step string per drum) in a loop for ``n`` samples.

    Characters: ``x`` a hit, ``X`` an accented hit, ``o`` an open hi-hat, ``.`` silence.
    ``start`` is where bar 0 begins relative to sample 0 (negative: the clip starts mid-bar).
    ``swing`` delays every second eighth note by that fraction of a sixteenth (0.33 is the
    triplet feel of jazz). Each drum's one-shots are rendered once per song and re-used with a
    random gain (a drummer never hits twice alike, but a sample-exact copy costs nothing).
    """
    step = 60.0 / tempo / 4 * SAMPLE_RATE
    bars = int(np.ceil((n - start) / (step * STEPS_PER_BAR))) + 1
    shots = {
        "kick": kick(kit, rng),
        "snare": snare(kit, rng),
        "hat": hihat(kit, rng, open_=False),
        "open": hihat(kit, rng, open_=True),
    }
    gains = {"kick": 1.0, "snare": 0.8, "hat": 0.25, "open": 0.25}
    out = np.zeros(n)
    for drum, pattern in patterns.items():
        for bar in range(bars):
            for i, char in enumerate(pattern):
                if char == ".":
                    continue
                shot = "open" if char == "o" else drum
                onset = start + (bar * STEPS_PER_BAR + i + (swing if i % 4 == 2 else 0.0)) * step
                onset += rng.normal(0.0, 0.004) * SAMPLE_RATE  # a few ms of human timing
                velocity = (1.0 if char in "Xo" else 0.7) * rng.uniform(0.8, 1.0)
                add_at(out, gains[shot] * velocity * shots[shot], int(onset))
    return out
