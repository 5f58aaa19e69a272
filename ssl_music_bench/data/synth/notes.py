"""NSynth-like notes: 4 s at 16 kHz, 11 instrument families, pitch and velocity labels, each
labelled note sounding inside a denser mix of two quieter notes of other families.

As in NSynth (Engel et al. 2017), every family has several "instruments" (a fixed sound), the
training split uses other instruments than the validation and test splits (so family
classification must generalise across instruments, not recognise one), velocities come from
NSynth's five values, and softer notes are darker as well as quieter, as on real instruments.
Each note also perturbs its instrument's parameters by a few percent (no two notes of a real
instrument are identical either).

Since corpus version 3 the labelled note is not alone: ``ACCOMPANIMENT`` notes of other families
(other instruments of the same split, any pitch, the same velocity) sound with it, each 4 to 10
dB below its peak. The labels are the labelled note's: its family and pitch are those of the loudest
note of the mix. Since version 4 that holds at every moment, not only at the peaks
(:func:`under_lead`): in version 3 a decaying lead (guitar, keyboard, mallet, bass) fell below a
sustained accompaniment within half a second, so most 1 s crops of such a mix were led by a
note of another family and pitch than the label's. On isolated notes (version 2) an untrained encoder's pooled features already
told the families apart: random-init scored 88.41 % on synth-instrument, leaving at most 11.6
points of headroom to any ceiling (issue 12 asks for 15). In the mix the whole-clip spectrum
holds three timbres, and a network has to learn which one leads: random-init fell to 31.82 %
(chance 9.1 %) and on synth-pitch from 30.91 % to 8.64 % (chance 2.0 %), docs/TASKS.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssl_music_bench.data.synth.dsp import SAMPLE_RATE, filtered, midi_to_hz
from ssl_music_bench.data.synth.families import NOTE_SECONDS, draw_family_params, play_family
from ssl_music_bench.data.synthetic_corpus import NOTE_FAMILIES, NOTE_PITCHES

NOTE_VELOCITIES: tuple[int, ...] = (25, 50, 75, 100, 127)  # the five velocities of NSynth
# Per family, instruments 0-47 play the training split and 48-55 the validation and test splits
# (as in NSynth, no instrument is in both). Version 5: with 6 training instruments per family the
# supervised ceiling learned those 6 and reached 51.82 % on unseen ones, below random-init's
# 69.77 % (docs/TASKS.md); NSynth's 289,205 training notes come from about a thousand instruments.
TRAIN_INSTRUMENTS = 48
HELD_OUT_INSTRUMENTS = 8
NOTE_SAMPLES = int(NOTE_SECONDS * SAMPLE_RATE)
_JITTER = 0.05  # relative spread of a note's parameters around its instrument's
_CHOICES = {"bar", "square", "female", "vowel"}  # discrete parameters, never jittered
ACCOMPANIMENT = 2  # other families' notes sounding with the labelled one
ACCOMPANIMENT_DB = (4.0, 10.0)  # how far below the labelled note's peak each one is
LEAD_MARGIN_DB = ACCOMPANIMENT_DB[0]  # and how far below the labelled note it stays at every moment (version 4)
ENVELOPE_FRAME = 256  # samples (16 ms) per frame of the loudness envelopes that the margin compares


@dataclass(frozen=True)
class Note:
    """One rendered note (float32, peak below 1) and its labels."""

    audio: np.ndarray
    family: str
    pitch: int
    velocity: int
    instrument: str


def instrument_name(family: str, number: int) -> str:
    """NSynth-style instrument name, e.g. ``brass_synthetic_003``."""
    return f"{family}_synthetic_{number:03d}"


def instrument_params(seed: int, family: str, number: int) -> dict[str, float]:
    """The fixed parameters of instrument ``number`` of ``family`` (the same in every split)."""
    # a 4-word seed with a non-zero tag cannot coincide with a 3-word per-note seed
    rng = np.random.default_rng([seed, NOTE_FAMILIES.index(family), number, 1000])
    return draw_family_params(family, rng)


def _render(seed: int, family: str, number: int, pitch: int, velocity: int, rng: np.random.Generator) -> np.ndarray:
    """One note of instrument ``number`` of ``family`` (its parameters jittered per note), at its
    velocity's brightness and loudness."""
    params = {  # choices (which bar, which waveform, ...) stay; amounts vary by a few percent
        name: value if name in _CHOICES else value * float(np.exp(rng.normal(0.0, _JITTER)))
        for name, value in instrument_params(seed, family, number).items()
    }
    note = play_family(family, pitch, params, rng)
    # softer notes are darker: a gentle low-pass that opens with velocity, never below the
    # fundamental's 4th harmonic so the pitch stays clear
    strength = velocity / 127.0
    cutoff = max(4 * float(midi_to_hz(pitch)), 1500.0 + 5500.0 * strength**2)
    if cutoff < 0.45 * SAMPLE_RATE:
        note = filtered(note, "lowpass", cutoff, order=1)
        note /= max(float(np.abs(note).max()), 1e-9)
    return note * (0.1 + 0.8 * strength**1.5)  # peak about -15 dBFS at velocity 25, -1 dBFS at 127


def envelope(x: np.ndarray, frame: int = ENVELOPE_FRAME) -> np.ndarray:
    """The RMS of ``x`` per frame, interpolated linearly to every sample."""
    frames = max(len(x) // frame, 1)
    rms = np.sqrt(np.mean(np.square(x[:frames * frame].reshape(frames, -1)), axis=1))
    return np.interp(np.arange(len(x)), (np.arange(frames) + 0.5) * frame, rms)


def under_lead(lead: np.ndarray, accompaniment: np.ndarray, margin_db: float = LEAD_MARGIN_DB) -> np.ndarray:
    """``accompaniment`` turned down wherever it would come within ``margin_db`` of ``lead``'s
    loudness (never up), so that the labelled note leads every moment of the mix, not only its
    peak: a guitar falls 15 dB in its first half second, and an organ drawn 4 dB below its peak
    would lead everything after it (corpus version 3 did that)."""
    limit = 10 ** (-margin_db / 20) * envelope(lead)
    level = envelope(accompaniment)
    gain = np.minimum(1.0, limit / np.maximum(level, 1e-12))
    return accompaniment * gain


def _instrument(split_index: int, rng: np.random.Generator) -> int:
    if split_index == 0:
        return int(rng.integers(TRAIN_INSTRUMENTS))
    return TRAIN_INSTRUMENTS + int(rng.integers(HELD_OUT_INSTRUMENTS))


def generate_note(seed: int, split_index: int, index: int) -> Note:
    """Note ``index`` of split ``split_index`` (0 train, 1 valid, 2 test).

    Families are dealt round-robin, so every split of at least 11 notes holds every family;
    everything else is drawn from the note's own generator, so notes can be made in any order.
    """
    family = NOTE_FAMILIES[index % len(NOTE_FAMILIES)]
    rng = np.random.default_rng([seed, split_index, index])
    number = _instrument(split_index, rng)
    pitch = int(rng.choice(NOTE_PITCHES))
    velocity = int(rng.choice(NOTE_VELOCITIES))
    lead = _render(seed, family, number, pitch, velocity, rng)
    note = lead
    others = [f for f in NOTE_FAMILIES if f != family]
    for other in rng.choice(len(others), size=ACCOMPANIMENT, replace=False):
        level = 10 ** (-float(rng.uniform(*ACCOMPANIMENT_DB)) / 20)
        accompaniment = _render(seed, others[int(other)], _instrument(split_index, rng), int(rng.choice(NOTE_PITCHES)),
                                velocity, rng)
        note = note + under_lead(lead, level * accompaniment)
    return stored_note(note, family, pitch, velocity, number)


def stored_note(mix: np.ndarray, family: str, pitch: int, velocity: int, number: int) -> Note:
    """The mix as it is stored, scaled down to a peak of 0.99 where it would clip (never up), with
    the labelled note's labels."""
    peak = float(np.abs(mix).max())
    if peak > 0.99:
        mix = mix * (0.99 / peak)
    return Note(mix.astype(np.float32), family, pitch, velocity, instrument_name(family, number))
