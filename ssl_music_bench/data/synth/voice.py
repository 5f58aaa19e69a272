"""A singing voice: a glottal pulse train shaped by vowel formants (source-filter model).

The source is Rosenberg's glottal pulse (Rosenberg 1971, JASA 49:583), differentiated for the
radiation at the lips, with a little aspiration noise, jitter and vibrato. The filter is a
cascade of formant resonators (Klatt 1980, JASA 67:971) tuned to the average vowel formants
that Peterson & Barney measured for men and women (Peterson & Barney 1952, JASA 24:175). Each
syllable is a note of the melody sung on one vowel, with an attack, a release and sometimes a
noisy consonant onset; the vowel filters are cross-faded so that the formants glide between
syllables as they do in real speech.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import lfilter, sosfilt

from ssl_music_bench.data.synth.dsp import SAMPLE_RATE, filtered, midi_to_hz, resonator_sos

# Average F1, F2, F3 in Hz (Peterson & Barney 1952, table II) for the vowels of
# heed, head, had, hod, hawed, who'd, hud.
FORMANTS: dict[str, dict[str, tuple[int, int, int]]] = {
    "male": {
        "i": (270, 2290, 3010), "e": (530, 1840, 2480), "ae": (660, 1720, 2410),
        "a": (730, 1090, 2440), "o": (570, 840, 2410), "u": (300, 870, 2240), "uh": (640, 1190, 2390),
    },
    "female": {
        "i": (310, 2790, 3310), "e": (610, 2330, 2990), "ae": (860, 2050, 2850),
        "a": (850, 1220, 2810), "o": (590, 920, 2710), "u": (370, 950, 2670), "uh": (760, 1400, 2780),
    },
}
VOWELS = tuple(FORMANTS["male"])
BANDWIDTHS = (80.0, 110.0, 160.0)  # Hz, typical of sung vowels
FOURTH_FORMANT = {"male": 3300.0, "female": 4100.0}  # fixed, it barely depends on the vowel

# MIDI ranges of the sung melody: roughly baritone-tenor and alto-soprano chest/head voice.
RANGES: dict[str, tuple[int, int]] = {"male": (45, 64), "female": (57, 76)}


@dataclass(frozen=True)
class Syllable:
    """One sung note: where it starts and ends (samples), its pitch (MIDI) and vowel."""

    start: int
    stop: int
    midi: float
    vowel: str
    consonant: bool


def rosenberg_pulse(phase: np.ndarray, open_: float = 0.4, close: float = 0.16) -> np.ndarray:
    """Glottal flow over one period as a function of phase in [0, 1) (Rosenberg's model C):
    a raised-cosine opening, a quarter-cosine closing, then the closed phase."""
    opening = 0.5 * (1.0 - np.cos(np.pi * phase / open_))
    closing = np.cos(0.5 * np.pi * (phase - open_) / close)
    return np.where(phase < open_, opening, np.where(phase < open_ + close, closing, 0.0))


def _pitch_curve(syllables: Sequence[Syllable], n: int, rng: np.random.Generator) -> np.ndarray:
    """MIDI pitch per sample: notes joined by short glides (portamento), plus vibrato that
    sets in a fraction of a second into each long note, as trained singers do."""
    midi = np.full(n, syllables[0].midi if syllables else 60.0)
    vib_env = np.zeros(n)
    for i, syl in enumerate(syllables):
        end = syllables[i + 1].start if i + 1 < len(syllables) else n  # hold pitch through rests
        lo, hi = min(max(syl.start, 0), n), min(max(syl.stop, 0), n)
        midi[lo : min(max(end, 0), n)] = syl.midi
        t = np.arange(lo - syl.start, hi - syl.start) / SAMPLE_RATE
        vib_env[lo:hi] = np.clip((t - 0.2) / 0.25, 0.0, 1.0)
    glide = np.exp(-1.0 / (0.03 * SAMPLE_RATE))  # 30 ms one-pole smoothing of note changes
    midi = lfilter([1.0 - glide], [1.0, -glide], midi, zi=[glide * midi[0]])[0]
    t = np.arange(n) / SAMPLE_RATE
    rate, depth = rng.uniform(4.8, 6.5), rng.uniform(0.2, 0.5)
    midi += depth * vib_env * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    drift = filtered(rng.standard_normal(n), "lowpass", 8.0, order=1)  # no one holds a pitch exactly
    return midi + 0.08 * drift / max(float(drift.std()), 1e-9)


def sing(syllables: Sequence[Syllable], gender: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Render the syllables (a melody) as a voice of ``gender`` ("male" or "female")."""
    if not syllables:
        return np.zeros(n)
    f0 = midi_to_hz(_pitch_curve(syllables, n, rng))
    phase = np.cumsum(f0 / SAMPLE_RATE) % 1.0
    open_quotient = rng.uniform(0.35, 0.5)
    flow = rosenberg_pulse(phase, open_quotient, rng.uniform(0.12, 0.2))
    source = np.diff(flow, prepend=flow[0]) * (SAMPLE_RATE / f0) * 0.25  # lip radiation
    source += rng.uniform(0.002, 0.02) * flow * rng.standard_normal(n)  # breath in the pulse

    amplitude = np.zeros(n)
    noise_env = np.zeros(n)
    weights = {vowel: np.zeros(n) for vowel in VOWELS}
    for syl in syllables:
        lo, hi = max(syl.start, 0), min(syl.stop, n)
        if hi <= lo:
            continue
        t = np.arange(lo - syl.start, hi - syl.start)
        length = syl.stop - syl.start
        attack, release = 0.04 * SAMPLE_RATE, 0.08 * SAMPLE_RATE
        env = np.minimum(1.0, t / attack) * np.clip((length - t) / release, 0.0, 1.0)
        amplitude[lo:hi] = np.maximum(amplitude[lo:hi], env * rng.uniform(0.7, 1.0))
        weights[syl.vowel][lo:hi] = 1.0
        if syl.consonant:  # a fricative or plosive onset: a short noise burst
            noise_env[lo:hi] = np.maximum(noise_env[lo:hi], np.exp(-t / (0.025 * SAMPLE_RATE)))

    out = np.zeros(n)
    total = np.zeros(n)
    for vowel, weight in weights.items():
        if not weight.any():
            continue
        weight = uniform_filter1d(weight, int(0.04 * SAMPLE_RATE))  # 40 ms formant glides
        formants = [*FORMANTS[gender][vowel], FOURTH_FORMANT[gender]]
        sos = np.stack([resonator_sos(f, bw) for f, bw in zip(formants, (*BANDWIDTHS, 250.0))])
        out += weight * sosfilt(sos, source)
        total += weight
    out = out / np.maximum(total, 1e-3) * amplitude
    hiss = filtered(rng.standard_normal(n), "bandpass", (3000, 7000)) * noise_env
    return out + rng.uniform(0.3, 1.0) * out.std() * hiss


def melody(
    chords: Sequence[tuple[int, Sequence[int]]], scale: Sequence[int], beat: float, n: int,
    voice_range: tuple[int, int], rng: np.random.Generator,
) -> list[Syllable]:
    """A sung line over ``chords`` ((start sample, MIDI notes) per chord, in order).

    Phrases of a few notes separated by breaths; notes of half a beat to two beats; the line
    moves by small scale steps and lands on chord tones on the beat, a crude but audible
    imitation of how vocal melodies are built.
    """
    lo, hi = voice_range
    pool = np.array([m for m in range(lo, hi + 1) if m % 12 in {s % 12 for s in scale}])
    current = int(rng.choice(pool[len(pool) // 4 : 3 * len(pool) // 4]))
    syllables: list[Syllable] = []
    origin = chords[0][0]  # the beat grid starts with the first chord
    pos = origin + int(rng.integers(0, 2)) * beat
    while pos < n:
        for _ in range(int(rng.integers(3, 8))):  # one phrase
            if pos >= n:
                break
            length = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0])) * beat
            chord = [m for start, m in chords if start <= pos] or [chords[0][1]]
            tones = {m % 12 for m in chord[-1]}
            step = int(rng.choice([-2, -1, -1, 0, 1, 1, 2]))
            idx = int(np.clip(np.searchsorted(pool, current) + step, 0, len(pool) - 1))
            on_beat = ((pos - origin) / beat) % 1.0 < 1e-6
            if on_beat:  # prefer the nearest chord tone on the beat
                candidates = [p for p in pool if p % 12 in tones]
                if candidates:
                    idx = int(np.searchsorted(pool, min(candidates, key=lambda p: abs(p - pool[idx]))))
            current = int(pool[idx])
            stop = pos + length * rng.uniform(0.8, 0.97)  # a short gap between syllables
            vowel, consonant = str(rng.choice(VOWELS)), bool(rng.uniform() < 0.4)
            syllables.append(Syllable(int(pos), int(stop), float(current), vowel, consonant))
            pos += length
        pos += float(rng.choice([1.0, 1.5, 2.0])) * beat  # breathe between phrases
    return syllables
