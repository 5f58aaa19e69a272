"""Synthetic multi-source songs: a mix that is the exact sum of drums, bass, vocals and other.

A song is fully determined by (seed, split, index). Its song-level factors (style, tempo, key,
loudness, which sources play, on which timbres) are drawn first (``plan_song``), then the four
stems are rendered and mixed (``render_song``). Two decisions make small corpora well-behaved:

* styles are dealt round-robin in a per-split shuffled order, so every split holds every style
  (almost) equally often;
* the yes/no and range decisions of a style use a golden-ratio (Weyl) sequence over the
  style's occurrences instead of independent draws. Three songs of a style then cover its
  distribution evenly (any option with probability >= 0.4 happens, any with probability
  <= 0.6 fails to happen), so a 24-song split cannot by bad luck lack a tag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssl_music_bench.contracts.sources import SOURCES
from ssl_music_bench.data.synth.drums import STEPS_PER_BAR, draw_kit, drum_track
from ssl_music_bench.data.synth.dsp import SAMPLE_RATE, add_at, midi_to_hz, rms
from ssl_music_bench.data.synth.instruments import RENDERERS, Params, draw_params
from ssl_music_bench.data.synth.styles import FAST_BPM, LOUD_DB, QUIET_DB, SLOW_BPM, STYLE_SPECS, Style
from ssl_music_bench.data.synth.voice import RANGES, melody, sing
from ssl_music_bench.data.synthetic_corpus import SONG_TAGS, STYLES, TIMBRES

GOLDEN = (5.0**0.5 - 1.0) / 2.0  # the golden ratio's fractional part: the most even rotation
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)  # natural minor
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_DECISIONS = ("tempo", "loudness", "gender", *SOURCES, *TIMBRES)
# Stem levels relative to each other (dB) before the song's loudness is applied.
_STEM_DB = {"drums": 0.0, "bass": -3.0, "vocals": 1.0, "other": -2.0}
_PEAK = 0.98  # leave headroom below int16 full scale, so storing never clips


@dataclass(frozen=True)
class SongPlan:
    """The song-level factors, decided before any audio is rendered."""

    style: str
    tempo: float
    tonic: int
    minor: bool
    loudness_db: float  # the target; the rendered song may be quieter (peak limit)
    present: dict[str, bool]
    timbres: tuple[str, ...]
    voice: str | None  # "male", "female" or None


@dataclass(frozen=True)
class Song:
    """A rendered song: float32 stems that sum exactly (in float32) to the mix, and labels."""

    mix: np.ndarray
    stems: dict[str, np.ndarray]
    tags: tuple[str, ...]
    plan: SongPlan
    loudness_db: float  # RMS of the mix as rendered, dBFS

    @property
    def key(self) -> str:
        return f"{PITCH_CLASSES[self.plan.tonic]} {'minor' if self.plan.minor else 'major'}"


def plan_song(seed: int, split_index: int, index: int) -> SongPlan:
    """Draw the factors of song ``index`` of a split (see the module docstring)."""
    # SeedSequence pads short entropy with zeros, so [a, b, c] == [a, b, c, 0]: the split-level
    # streams below use a non-zero fourth word to stay distinct from the per-item stream.
    order = np.random.default_rng([seed, split_index, 0, 99]).permutation(len(STYLES))
    slot, occurrence = int(order[index % len(STYLES)]), index // len(STYLES)
    style = STYLE_SPECS[STYLES[slot]]

    def weyl(decision: str) -> float:
        stream = [seed, split_index, slot, 100 + _DECISIONS.index(decision)]
        offset = np.random.default_rng(stream).uniform()
        return (offset + occurrence * GOLDEN) % 1.0

    rng = np.random.default_rng([seed, split_index, index])
    present = {source: bool(weyl(source) < style.plays[source]) for source in SOURCES}
    timbres = tuple(t for t in TIMBRES if weyl(t) < style.timbres.get(t, 0.0))
    if present["other"] and not timbres:  # accompaniment needs an instrument: the style's main one
        timbres = (max(style.timbres, key=style.timbres.__getitem__),)
    if not present["other"]:
        timbres = ()
    lo, hi = style.tempo
    quiet, loud = style.loudness
    return SongPlan(
        style=style.name,
        tempo=round(float(lo + weyl("tempo") * (hi - lo)), 1),
        tonic=int(rng.integers(12)),
        minor=bool(rng.uniform() < style.minor),
        loudness_db=float(quiet + weyl("loudness") * (loud - quiet)),
        present=present,
        timbres=timbres,
        voice=("male" if weyl("gender") < 0.5 else "female") if present["vocals"] else None,
    )


def _chords(
    style: Style, plan: SongPlan, bar: float, start: float, bars: int, rng: np.random.Generator
) -> list[tuple[int, list[int]]]:
    """(start sample, MIDI notes) of each chord, voiced around E4 as a keyboard player would."""
    scale = MINOR if plan.minor else MAJOR
    progression = style.progressions[int(rng.integers(len(style.progressions)))]
    steps = (0, 2, 4, 6) if style.sevenths else (0, 2, 4)  # stacked thirds of the scale
    chords = []
    for b in range(0, bars, style.bars_per_chord):
        degree = progression[(b // style.bars_per_chord) % len(progression)]
        notes = [60 + plan.tonic + scale[(degree + s) % 7] + 12 * ((degree + s) // 7) for s in steps]
        shift = 12 * round((64 - float(np.mean(notes))) / 12)
        chords.append((int(start + b * bar), [m + shift for m in notes]))
    return chords


Event = tuple[int, float, list[int], str]  # onset sample, hold seconds, MIDI notes, step symbol


def _events(pattern: str | None, chords: list[tuple[int, list[int]]], bar: float, n: int) -> list[Event]:
    """Chord strikes on the steps of ``pattern``, repeated every bar; ``None`` holds each chord
    for its whole length (pads and string sections sustain rather than strike)."""
    events: list[Event] = []
    step = bar / STEPS_PER_BAR
    for k, (chord_start, notes) in enumerate(chords):
        chord_end = min(chords[k + 1][0] if k + 1 < len(chords) else n, n)
        if chord_start >= n:
            break
        if pattern is None:
            events.append((chord_start, 0.95 * (chord_end - chord_start) / SAMPLE_RATE, notes, "x"))
            continue
        onsets = [i for i, c in enumerate(pattern) if c != "."] + [STEPS_PER_BAR]
        for bar_start in np.arange(chord_start, chord_end, bar):
            for i, nxt in zip(onsets, onsets[1:]):
                onset = bar_start + i * step
                if onset < chord_end:
                    events.append((int(onset), 0.9 * (nxt - i) * step / SAMPLE_RATE, notes, pattern[i]))
    return events


def _bass_notes(
    events: list[Event], scale: list[int], walking: bool, rng: np.random.Generator
) -> list[Event]:
    """The bass plays the chord root in the E1-D#2 octave; "o" steps jump an octave up; a
    walking bass (jazz) lands on the root on the chord change and on chord or scale tones
    in between, one note per beat."""
    out: list[Event] = []
    last_chord = None
    for onset, hold, notes, symbol in events:
        root = 28 + (notes[0] - 28) % 12
        midi = root + 12 * (symbol == "o")
        if walking and notes is last_chord:
            candidates = [28 + (m - 28) % 12 for m in notes[1:]]
            candidates += [root + s for s in scale if 0 < s < 12]
            midi = int(rng.choice(candidates))
        out.append((onset, hold, [midi], symbol))
        last_chord = notes
    return out


def _render(
    timbre: str, params: Params, events: list[Event], n: int, rng: np.random.Generator, strum: bool = False
) -> np.ndarray:
    """Render note events on one instrument.

    Each pitch is rendered once, held as long as its longest event; shorter events re-use that
    sound cut off by a damper fade (how a pianist or guitarist shortens a note). This keeps a
    song's cost at a few renders per pitch instead of one per strike.
    """
    out = np.zeros(n)
    longest: dict[int, float] = {}
    for _, hold, notes, _ in events:
        for midi in notes:
            longest[midi] = max(longest.get(midi, 0.0), hold)
    sounds = {
        midi: RENDERERS[timbre](float(midi_to_hz(midi)), hold, params, rng)
        for midi, hold in sorted(longest.items())
    }
    fade = np.linspace(1.0, 0.0, int(0.08 * SAMPLE_RATE)) ** 2
    for onset, hold, notes, _ in events:
        spread = rng.uniform(0.008, 0.02) * SAMPLE_RATE if strum else 0.0  # a strum is not a block
        for v, midi in enumerate(notes):
            sound = sounds[midi]
            stop = int(hold * SAMPLE_RATE)
            if hold < longest[midi] and stop < len(sound):
                sound = sound[: stop + len(fade)].copy()
                sound[stop:] *= fade[: len(sound) - stop]
            add_at(out, sound * rng.uniform(0.75, 1.0), onset + int(v * spread))
    return out


def render_song(plan: SongPlan, seconds: float, rng: np.random.Generator) -> Song:
    """Render the stems of ``plan``, balance them, and scale all by one loudness factor."""
    style = STYLE_SPECS[plan.style]
    n = int(round(seconds * SAMPLE_RATE))
    beat = 60.0 / plan.tempo * SAMPLE_RATE
    bar = 4 * beat
    start = -rng.uniform(0.0, 1.0) * bar  # clips begin anywhere in a bar, as crops of songs do
    bars = int(np.ceil((n - start) / bar)) + 1
    chords = _chords(style, plan, bar, start, bars, rng)
    raw = {source: np.zeros(n) for source in SOURCES}
    if plan.present["drums"]:
        kit = draw_kit(rng)
        raw["drums"] = drum_track(dict(style.drums), kit, plan.tempo, n, int(start), rng, style.swing)
    if plan.present["bass"]:
        scale = list(MINOR if plan.minor else MAJOR)
        line = _bass_notes(_events(style.bass_line, chords, bar, n), scale, style.walking, rng)
        raw["bass"] = _render("bass", draw_params("bass", rng), line, n, rng)
    if plan.voice is not None:
        scale = [plan.tonic + s for s in (MINOR if plan.minor else MAJOR)]
        raw["vocals"] = sing(melody(chords, scale, beat, n, RANGES[plan.voice], rng), plan.voice, n, rng)
    for timbre in plan.timbres:
        sustained = timbre in ("strings", "synth")
        events = _events(None if sustained else style.comp, chords, bar, n)
        part = _render(timbre, draw_params(timbre, rng), events, n, rng, strum=timbre == "guitar")
        raw["other"] += part / max(rms(part), 1e-9) * 10 ** (rng.uniform(-3, 0) / 20)

    # balance: every playing stem at its nominal level (+-2.5 dB); a soft clipper on each stem
    # stands in for the compression of mixing (loud styles are squashed harder); then one gain
    # for the whole song, so the stems still sum exactly to the mix
    for source, audio in raw.items():
        if plan.present[source] and rms(audio) > 0:
            audio = audio / rms(audio) * 10 ** ((_STEM_DB[source] + rng.uniform(-2.5, 2.5)) / 20)
            ceiling = rms(audio) * 10 ** (style.crest_db / 20)
            raw[source] = ceiling * np.tanh(audio / ceiling)
    total = raw["drums"] + raw["bass"] + raw["vocals"] + raw["other"]
    peak = max(float(np.abs(x).max()) for x in (total, *raw.values()))
    gain = min(10 ** (plan.loudness_db / 20) / max(rms(total), 1e-9), _PEAK / max(peak, 1e-9))
    stems = {source: (audio * gain).astype(np.float32) for source, audio in raw.items()}
    mix = stems["drums"] + stems["bass"] + stems["vocals"] + stems["other"]  # exact, in float32
    loudness = 20 * np.log10(max(rms(mix), 1e-9))
    return Song(mix, stems, _tags(plan, loudness), plan, round(float(loudness), 2))


def _tags(plan: SongPlan, loudness_db: float) -> tuple[str, ...]:
    """MagnaTagATune-style labels, in SONG_TAGS order."""
    tags = {source for source in ("drums", "bass") if plan.present[source]} | set(plan.timbres)
    tags.add(f"{plan.voice} vocal" if plan.voice else "no vocals")
    tags |= {"fast"} if plan.tempo >= FAST_BPM else {"slow"} if plan.tempo <= SLOW_BPM else set()
    tags |= {"loud"} if loudness_db >= LOUD_DB else {"quiet"} if loudness_db <= QUIET_DB else set()
    tags.add(plan.style)
    return tuple(tag for tag in SONG_TAGS if tag in tags)


def generate_song(seed: int, split_index: int, index: int, seconds: float) -> Song:
    """Song ``index`` of split ``split_index`` (0 train, 1 valid, 2 test): a pure function of
    its arguments, so songs can be generated in any order and in parallel."""
    plan = plan_song(seed, split_index, index)
    return render_song(plan, seconds, np.random.default_rng([seed, split_index, index, 1]))
