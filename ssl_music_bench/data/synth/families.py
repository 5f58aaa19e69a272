"""Sound recipes for the 11 NSynth instrument families (Engel et al. 2017, "Neural Audio
Synthesis of Musical Notes with WaveNet Autoencoders").

Each family is a function ``(freq, params, rng) -> samples`` that plays one note held for
``HOLD`` seconds inside a ``NOTE_SECONDS`` buffer, the way NSynth notes were recorded (key held
3 s, then 1 s of release). Families that also accompany the songs re-use the song timbres
(instruments.py); the others are built here from the same primitives. ``draw_family_params``
draws one "instrument" of a family: a fixed sound whose recipe parameters the notes share.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ssl_music_bench.data.synth import instruments
from ssl_music_bench.data.synth.dsp import (
    SAMPLE_RATE,
    envelope,
    filtered,
    harmonic_table,
    midi_to_hz,
    oscillate,
    saw_amplitudes,
)
from ssl_music_bench.data.synth.instruments import Params, vibrato
from ssl_music_bench.data.synth.voice import FORMANTS, Syllable, sing

NOTE_SECONDS = 4.0
HOLD = 3.0
N = int(NOTE_SECONDS * SAMPLE_RATE)

# Mode frequency ratios of struck bars (Fletcher & Rossing, "The Physics of Musical
# Instruments", ch. 19): a marimba bar is tuned to 1:4:10, a free bar of a glockenspiel is not.
MALLET_RATIOS = ((1.0, 3.93, 9.54), (1.0, 4.0, 10.0), (1.0, 2.76, 5.40))


def _brass(freq: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Lip-reed brass: the spectrum brightens as the note swells ("blare"), a crossfade from a
    dark to a bright harmonic table following the attack."""
    f = vibrato(N, freq, p["vib_rate"], p["vib_depth"], 0.4)
    phase = rng.uniform()
    dark = oscillate(harmonic_table(saw_amplitudes(48, p["rolloff"] + 1.2), freq * 1.02), f, N, phase)
    bright = oscillate(harmonic_table(saw_amplitudes(48, p["rolloff"]), freq * 1.02), f, N, phase)
    env = envelope(N, p["attack"], 0.15, hold=HOLD)
    return (dark * (1 - env) + bright * env) * env


def _flute(freq: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Air jet: a nearly sinusoidal tone with weak upper harmonics plus breath noise."""
    f = vibrato(N, freq, p["vib_rate"], p["vib_depth"], 0.3)
    tone = oscillate(harmonic_table([1.0, p["h2"], p["h3"], 0.05], freq * 1.02), f, N, rng.uniform())
    breath = filtered(rng.standard_normal(N), "bandpass", (min(freq * 2, 6000), 7000)) * p["breath"]
    return (tone + breath) * envelope(N, p["attack"], 0.12, hold=HOLD)


def _mallet(freq: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Struck bar: a few inharmonic modes, the higher ones damped faster, plus a strike."""
    t = np.arange(N) / SAMPLE_RATE
    out = np.zeros(N)
    for i, ratio in enumerate(MALLET_RATIOS[int(p["bar"])]):
        if ratio * freq < 0.45 * SAMPLE_RATE:
            mode = np.sin(2 * np.pi * ratio * freq * t + rng.uniform(0, 2 * np.pi))
            out += p["brightness"] ** i * mode * np.exp(-t * (1 + 2 * i) / p["decay"])
    strike = filtered(rng.standard_normal(N), "bandpass", (800, 5000)) * np.exp(-t / 0.004) * 0.3
    return (out + strike) * envelope(N, 0.001, 0.3, hold=HOLD)


def _reed(freq: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Single reed: a clarinet's cylindrical bore weakens even harmonics (``even`` near 0), a
    saxophone's conical bore keeps them (``even`` near 1)."""
    k = np.arange(1, 41)
    amps = saw_amplitudes(40, p["rolloff"]) * np.where(k % 2 == 0, p["even"], 1.0)
    f = vibrato(N, freq, p["vib_rate"], p["vib_depth"], 0.3)
    tone = oscillate(harmonic_table(amps, freq * 1.02), f, N, rng.uniform())
    return filtered(tone, "lowpass", p["cutoff"]) * envelope(N, p["attack"], 0.1, hold=HOLD)


def _string(freq: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Solo bowed string: a sawtooth (Helmholtz motion) with vibrato through a wooden body,
    here two broad resonances (the main air and wood modes of a violin-family body)."""
    f = vibrato(N, freq, p["vib_rate"], p["vib_depth"], 0.25)
    saw = oscillate(harmonic_table(saw_amplitudes(64, p["rolloff"]), freq * 1.02), f, N, rng.uniform())
    body = filtered(saw, "bandpass", (p["body"], p["body"] * 4)) + 0.5 * saw
    return filtered(body, "lowpass", p["cutoff"]) * envelope(N, p["attack"], 0.2, hold=HOLD)


def _synth_lead(freq: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Mono synth lead: two detuned oscillators (sawtooth or square) through a low-pass whose
    cutoff depends on the note (keyboard tracking)."""
    k = np.arange(1, 65)
    amps = saw_amplitudes(64) * (np.where(k % 2 == 0, 0.0, 1.0) if p["square"] > 0.5 else 1.0)
    table = harmonic_table(amps, freq * 1.02)
    detuned = (freq * 2 ** (-p["detune"] / 1200), freq * 2 ** (p["detune"] / 1200))
    tone = oscillate(table, detuned[0], N, rng.uniform()) + oscillate(table, detuned[1], N, rng.uniform())
    return filtered(tone, "lowpass", min(freq * p["tracking"], 7000)) * envelope(N, 0.01, 0.1, hold=HOLD)


def _vocal(freq: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """One sung vowel (voice.py's source-filter model), held for the whole key press."""
    gender = "female" if p["female"] > 0.5 else "male"
    vowel = list(FORMANTS[gender])[int(p["vowel"])]
    midi = 69 + 12 * np.log2(freq / 440.0)
    return sing([Syllable(0, int(HOLD * SAMPLE_RATE), float(midi), vowel, False)], gender, N, rng)


def _song_timbre(name: str) -> Callable[[float, Params, np.random.Generator], np.ndarray]:
    """A song accompaniment timbre, played as a 3 s note in a 4 s buffer."""

    def play(freq: float, p: Params, rng: np.random.Generator) -> np.ndarray:
        note = instruments.RENDERERS[name](freq, HOLD, p, rng)[:N]
        return np.pad(note, (0, N - len(note)))

    return play


FAMILY_RENDERERS: dict[str, Callable[[float, Params, np.random.Generator], np.ndarray]] = {
    "bass": _song_timbre("bass"),
    "brass": _brass,
    "flute": _flute,
    "guitar": _song_timbre("guitar"),
    "keyboard": _song_timbre("piano"),
    "mallet": _mallet,
    "organ": _song_timbre("organ"),
    "reed": _reed,
    "string": _string,
    "synth_lead": _synth_lead,
    "vocal": _vocal,
}


def draw_family_params(family: str, rng: np.random.Generator) -> Params:
    """Parameters of one instrument of ``family``."""
    u = rng.uniform
    vib = {"vib_rate": u(4.5, 6.5), "vib_depth": u(0.0, 0.3)}
    if family in ("bass", "guitar", "organ"):
        return instruments.draw_params(family, rng)
    if family == "keyboard":
        return instruments.draw_params("piano", rng)
    if family == "brass":
        return {**vib, "rolloff": u(0.8, 1.3), "attack": u(0.03, 0.12)}
    if family == "flute":
        return {**vib, "h2": u(0.05, 0.4), "h3": u(0.02, 0.2), "breath": u(0.02, 0.12),
                "attack": u(0.05, 0.15)}
    if family == "mallet":
        return {"bar": float(rng.integers(len(MALLET_RATIOS))), "brightness": u(0.1, 0.5),
                "decay": u(0.4, 2.0)}
    if family == "reed":
        return {**vib, "rolloff": u(0.8, 1.4), "even": u(0.0, 1.0), "cutoff": u(2500, 6000),
                "attack": u(0.02, 0.08)}
    if family == "string":
        return {**vib, "vib_depth": u(0.1, 0.35), "rolloff": u(0.9, 1.3), "body": u(250, 500),
                "cutoff": u(3000, 6000), "attack": u(0.06, 0.25)}
    if family == "synth_lead":
        return {"square": float(u() < 0.5), "detune": u(3.0, 20.0), "tracking": u(3.0, 12.0)}
    if family == "vocal":
        return {"female": float(u() < 0.5), "vowel": float(rng.integers(len(FORMANTS["male"])))}
    raise ValueError(f"unknown family {family!r}")


def play_family(family: str, midi: int, params: Params, rng: np.random.Generator) -> np.ndarray:
    """One note of ``family`` at MIDI pitch ``midi``: ``N`` samples, peak 1."""
    note = FAMILY_RENDERERS[family](float(midi_to_hz(midi)), params, rng)
    return note / max(float(np.abs(note).max()), 1e-9)
