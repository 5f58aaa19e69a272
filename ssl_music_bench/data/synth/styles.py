"""The musical styles of the synthetic song corpus: what each style makes likely.

The names of the styles, of the accompaniment timbres and of the tags they produce are the
corpus's vocabularies (ssl_music_bench/data/synthetic_corpus.py); this module gives each style its
sound. A style fixes the song-level distributions that real genres fix: a tempo range, a loudness
range, a drum pattern, harmonic habits, and how likely each source and accompaniment timbre
is. The probabilities are deliberately extreme in some styles (classical never has drums,
electronic always has a synth, soul always has an organ, ...) so that every tag is present in
some songs and absent in others even in the smallest corpus: the corpus is balanced over
styles (see songs.py), so a tag that is certain in one style and impossible in another cannot
be constant over a split that holds every style.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Tempo and loudness tags are thresholds with a neutral zone in between (a 100 BPM song is
# neither fast nor slow, as MagnaTagATune annotators would likely also leave it untagged).
FAST_BPM, SLOW_BPM = 120.0, 85.0
LOUD_DB, QUIET_DB = -17.0, -25.0  # RMS of the mix in dB relative to full scale


@dataclass(frozen=True)
class Style:
    """Song-level distributions of one musical style (times in beats, loudness in dBFS)."""

    name: str
    tempo: tuple[float, float]  # BPM range, sampled uniformly
    loudness: tuple[float, float]  # target RMS of the mix, dBFS
    drums: Mapping[str, str]  # 16-step patterns for "kick", "snare", "hat" (see drums.py)
    comp: str  # when the accompaniment strikes a chord, 16 steps per bar
    bass_line: str  # when the bass plays, 16 steps per bar ("o" = octave up)
    plays: Mapping[str, float]  # probability that each source of SOURCES (contracts/sources.py) is present
    timbres: Mapping[str, float]  # probability of each accompaniment timbre in "other"
    progressions: tuple[tuple[int, ...], ...]  # chord roots as scale degrees, 0 = tonic
    minor: float = 0.3  # probability of a minor key
    bars_per_chord: int = 1
    swing: float = 0.0  # fraction of a sixteenth by which off-beat eighths are delayed
    sevenths: bool = False  # four-note chords (jazz harmony)
    walking: bool = False  # bass walks through chord and scale tones on every beat
    crest_db: float = 14.0  # peak-to-RMS ceiling of each stem: lower = more compressed


_FOUR = {"kick": "x.....x.x.......", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."}

# one style per name of the corpus's STYLES, in that order (tests/data/test_synth.py checks it)
STYLE_SPECS: dict[str, Style] = {
    style.name: style
    for style in (
        Style(
            "rock", (100, 150), (-16, -12), _FOUR, "x.x.x.x.x.x.x.x.", "x.x.x.x.x.x.x.x.",
            {"drums": 1.0, "bass": 1.0, "vocals": 0.8, "other": 1.0},
            {"guitar": 1.0, "organ": 0.3, "piano": 0.15},
            ((0, 3, 4, 3), (0, 6, 3, 0), (0, 4, 5, 3)), minor=0.35, crest_db=9.0,
        ),
        Style(
            "pop", (92, 126), (-18, -13),
            {"kick": "x.....x...x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.xo"},
            "x..x..x...x.x...", "x.....x.x...x...",
            {"drums": 1.0, "bass": 1.0, "vocals": 1.0, "other": 1.0},
            {"piano": 0.5, "synth": 0.45, "guitar": 0.35, "strings": 0.15},
            ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4)), minor=0.25, crest_db=10.0,
        ),
        Style(
            "electronic", (122, 138), (-16, -12),
            {"kick": "X...X...X...X...", "snare": "....x.......x...", "hat": "..o...o...o...o."},
            "x..x..x...x..x..", "..x...x...x...x.",
            {"drums": 1.0, "bass": 1.0, "vocals": 0.35, "other": 0.85},
            {"synth": 1.0, "piano": 0.15},
            ((0, 5, 2, 6), (0, 0, 5, 4), (0, 3, 5, 4)), minor=0.7, crest_db=9.0,
        ),
        Style(
            "ballad", (60, 80), (-28, -21),
            {"kick": "x.......x.......", "snare": "........X.......", "hat": "x...x...x...x..."},
            "x.......x.......", "x.......x.......",
            {"drums": 0.5, "bass": 0.75, "vocals": 0.9, "other": 1.0},
            {"piano": 1.0, "strings": 0.5, "guitar": 0.15},
            ((0, 5, 3, 4), (0, 2, 3, 4), (5, 3, 0, 4)), minor=0.3, crest_db=13.0,
        ),
        Style(
            "ambient", (60, 82), (-32, -26),
            {"kick": "x...............", "snare": "................", "hat": "..x.......x....."},
            "x...............", "x...............",
            {"drums": 0.0, "bass": 0.4, "vocals": 0.25, "other": 1.0},
            {"synth": 0.75, "strings": 0.6},
            ((0, 3), (0, 5), (0, 4, 3, 0)), minor=0.5, bars_per_chord=2,
        ),
        Style(
            "jazz", (80, 170), (-24, -17),
            {"kick": "x.......x.......", "snare": "..........x.....", "hat": "x...x.x.x...x.x."},
            "x.....x.....x...", "x...x...x...x...",
            {"drums": 0.85, "bass": 1.0, "vocals": 0.5, "other": 1.0},
            {"piano": 1.0, "guitar": 0.3, "organ": 0.2},
            ((1, 4, 0, 5), (0, 5, 1, 4), (1, 4, 0, 0)), minor=0.2, swing=0.33, sevenths=True,
            walking=True, crest_db=13.0,
        ),
        Style(
            "soul", (80, 116), (-20, -15),
            {"kick": "x..x..x...x..x..", "snare": "....X..x.x..X...", "hat": "xxxxxxxxxxxxxxxx"},
            "..x...x...x...x.", "x..x..o.x.x..o..",
            {"drums": 1.0, "bass": 1.0, "vocals": 1.0, "other": 0.85},
            {"organ": 1.0, "guitar": 0.45, "strings": 0.3},
            ((0, 3, 0, 4), (1, 4, 0, 3), (0, 5, 1, 4)), minor=0.35, sevenths=True,
            crest_db=11.0,
        ),
        Style(
            "classical", (60, 112), (-30, -20),
            {"kick": "................", "snare": "................", "hat": "................"},
            "x.......x.......", "x...............",
            {"drums": 0.0, "bass": 0.0, "vocals": 0.0, "other": 1.0},
            {"strings": 1.0, "piano": 0.4},
            ((0, 3, 4, 0), (0, 4, 5, 2, 3, 0, 4, 0)), minor=0.4, crest_db=16.0,
        ),
    )
}
