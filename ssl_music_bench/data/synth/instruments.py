"""Pitched instruments of the synthetic corpus: one function per timbre, one note per call.

Each timbre is a cheap caricature of a physical or classic electronic instrument, chosen so
that the timbres differ in the cues a music encoder relies on: spectral envelope (organ
drawbars vs. dark bass), onset (hammer, pluck, slow bow), decay (piano and guitar die away,
organ and pad sustain), and modulation (string vibrato, organ tremolo). Parameters are drawn
once per song (or per NSynth-like "instrument"), so two songs with a "piano" do not sound
identical, and a classifier has to learn the family rather than one waveform.

Every renderer has the signature ``(freq, hold, params, rng) -> samples``: ``hold`` is how
long the key is held, in seconds; the returned note includes its release.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ssl_music_bench.data.synth.dsp import (
    SAMPLE_RATE,
    envelope,
    filtered,
    harmonic_table,
    karplus_strong,
    oscillate,
    saw_amplitudes,
)

Params = dict[str, float]
Renderer = Callable[[float, float, Params, np.random.Generator], np.ndarray]

# Hammond drawbar footages 16', 5 1/3', 8', 4', 2 2/3', 2', 1 3/5', 1 1/3', 1' as harmonic
# numbers of the 16' (sub-octave) fundamental, so one table holds the whole registration.
_DRAWBAR_HARMONICS = (1, 3, 2, 4, 6, 8, 10, 12, 16)


def _samples(seconds: float) -> int:
    return max(1, int(round(seconds * SAMPLE_RATE)))


def vibrato(n: int, freq: float, rate: float, depth_semitones: float, delay: float) -> np.ndarray:
    """Per-sample frequency with a sinusoidal vibrato that fades in after ``delay`` seconds."""
    t = np.arange(n, dtype=np.float32) / np.float32(SAMPLE_RATE)  # float32: a slow curve, fast sines
    fade_in = np.clip((t - delay) / 0.3, 0.0, 1.0)
    wobble = np.sin(np.float32(2 * np.pi * rate) * t)
    return freq * np.exp2(np.float32(depth_semitones / 12.0) * fade_in * wobble)


def piano(freq: float, hold: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Struck string: stretched partials ``f_k = k f0 sqrt(1 + B k^2)`` (Fletcher 1964, JASA
    36:203) each decaying faster the higher it is, plus a short hammer thump."""
    hold = min(hold, 3.0)  # a piano note has died away after a few seconds anyway
    n = _samples(hold + 0.2)
    t = (np.arange(n) / SAMPLE_RATE).astype(np.float32)  # float32 sines are several times faster
    k = np.arange(1, 13)
    partials = k * freq * np.sqrt(1.0 + p["inharmonicity"] * k * k)
    keep = partials < 0.45 * SAMPLE_RATE
    k, partials = k[keep], partials[keep]
    amps = k ** -p["rolloff"]
    # low notes ring longer (longer, heavier strings): tau scales like f0^-0.5 around middle C
    tau = p["decay"] * (261.6 / freq) ** 0.5 / (1.0 + 0.6 * (k - 1))
    tone = np.zeros(n)
    for amp, f, tau_k in zip(amps, partials, tau):
        m = min(n, int(7 * tau_k * SAMPLE_RATE))  # a partial is inaudible after 7 time constants
        phase = np.float32(2 * np.pi * f) * t[:m] + np.float32(rng.uniform(0, 2 * np.pi))
        tone[:m] += amp * np.exp(t[:m] * np.float32(-1.0 / tau_k)) * np.sin(phase)
    thump = filtered(rng.standard_normal(n), "lowpass", 4 * freq) * np.exp(-t / 0.01) * 0.3
    return (tone + thump) * envelope(n, 0.002, 0.15, hold=hold)


def organ(freq: float, hold: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Tonewheel organ: a drawbar registration of sine harmonics, no decay, a key click, and
    the amplitude tremolo of a rotating (Leslie) speaker."""
    n = _samples(hold + 0.05)
    amps = np.zeros(17)
    for bar, harmonic in enumerate(_DRAWBAR_HARMONICS):
        amps[harmonic - 1] = p[f"drawbar{bar}"]
    tone = oscillate(harmonic_table(amps, freq / 2), freq / 2, n, rng.uniform())
    t = np.arange(n) / SAMPLE_RATE
    tremolo = 1.0 + p["tremolo"] * np.sin(2 * np.pi * p["leslie_hz"] * t + rng.uniform(0, 2 * np.pi))
    click = filtered(rng.standard_normal(n), "highpass", 2000) * np.exp(-t / 0.003) * 0.2
    return (tone * tremolo + click) * envelope(n, 0.005, 0.04, hold=hold)


def strings(freq: float, hold: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Bowed-string section: a few sawtooth voices, slightly detuned and each with its own
    vibrato (the chorus of an ensemble), slow bow attack, darkened by a low-pass "body"."""
    n = _samples(hold + 0.35)
    table = harmonic_table(saw_amplitudes(48, p["rolloff"]), freq * 1.05)
    tone = np.zeros(n)
    for _ in range(3):
        detuned = freq * 2.0 ** (rng.normal(0.0, p["detune_cents"]) / 1200)
        vib = vibrato(n, detuned, rng.uniform(4.8, 6.2), p["vibrato"], 0.2)
        tone += oscillate(table, vib, n, rng.uniform())
    tone = filtered(tone, "lowpass", p["cutoff"])
    return tone * envelope(n, p["attack"], 0.35, hold=hold)


def guitar(freq: float, hold: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Plucked steel string (Karplus-Strong), damped by the fretting hand when released."""
    hold = min(hold, 2.5)
    n = _samples(hold + 0.08)
    string = karplus_strong(freq, n, rng, p["t60"], p["brightness"], rng.uniform(0.1, 0.3))
    return string * envelope(n, 0.0005, 0.08, hold=hold)


def pad(freq: float, hold: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Analogue-style synth pad: a detuned stack of sawtooths ("supersaw") through a
    low-pass filter, with a slow attack and a long release."""
    n = _samples(hold + p["release"])
    table = harmonic_table(saw_amplitudes(64), freq * 1.05)
    tone = np.zeros(n)
    for cents in np.linspace(-p["detune_cents"], p["detune_cents"], 5):
        tone += oscillate(table, freq * 2.0 ** (cents / 1200), n, rng.uniform())
    tone = filtered(tone, "lowpass", min(p["cutoff"], 0.4 * SAMPLE_RATE), order=4)
    return tone * envelope(n, p["attack"], p["release"], hold=hold)


def bass(freq: float, hold: float, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Electric / synth bass: a bright attack that darkens quickly (crossfading a bright and a
    dark harmonic table), the way a plucked or filter-enveloped bass note behaves."""
    hold = min(hold, 2.0)
    n = _samples(hold + 0.06)
    t = np.arange(n) / SAMPLE_RATE
    phase = rng.uniform()
    bright = oscillate(harmonic_table(saw_amplitudes(40, p["rolloff"]), freq), freq, n, phase)
    dark = oscillate(harmonic_table(saw_amplitudes(40, p["rolloff"] + 1.5), freq), freq, n, phase)
    fall = np.exp(-t / p["brightness_decay"])
    tone = bright * fall + dark * (1.0 - fall)
    return tone * envelope(n, 0.004, 0.06, hold=hold, decay=p["decay"])


def draw_params(timbre: str, rng: np.random.Generator) -> Params:
    """Random parameters of one instrument of a timbre (one "player" with one sound)."""
    u = rng.uniform
    if timbre == "piano":
        return {"inharmonicity": u(5e-5, 4e-4), "rolloff": u(0.9, 1.6), "decay": u(0.5, 1.2)}
    if timbre == "organ":
        # the 8' drawbar (the note's pitch) is always out; the 16' sub-octave only sometimes
        # and weaker, or the note would be heard an octave low
        bars = {f"drawbar{i}": u(0.0, 0.8) * (u() < 0.6) for i in range(9)}
        bars["drawbar0"] *= 0.5
        bars["drawbar2"] = u(0.6, 1.0)
        return {**bars, "tremolo": u(0.0, 0.25), "leslie_hz": u(0.8, 7.0)}
    if timbre == "strings":
        return {"rolloff": u(1.0, 1.6), "detune_cents": u(3.0, 10.0), "vibrato": u(0.08, 0.25),
                "cutoff": u(2000, 5000), "attack": u(0.08, 0.35)}
    if timbre == "guitar":
        return {"t60": u(1.0, 3.0), "brightness": u(0.3, 0.9)}
    if timbre == "synth":
        return {"detune_cents": u(6.0, 25.0), "cutoff": u(900, 4000), "attack": u(0.05, 0.6),
                "release": u(0.2, 0.6)}
    if timbre == "bass":
        return {"rolloff": u(0.9, 1.6), "brightness_decay": u(0.03, 0.2), "decay": u(0.4, 2.0)}
    raise ValueError(f"unknown timbre {timbre!r}")


RENDERERS: dict[str, Renderer] = {
    "piano": piano,
    "organ": organ,
    "strings": strings,
    "guitar": guitar,
    "synth": pad,
    "bass": bass,
}
