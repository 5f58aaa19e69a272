"""The musical styles of the synthetic song corpus: what each style makes likely.

The names of the styles, of the accompaniment timbres and of the tags they produce are the
corpus's vocabularies (ssl_music_bench/data/synthetic_corpus.py); this module gives each style its
sound. Since corpus version 2 a style is decided by its RHYTHM and HARMONY only: its tempo range,
drum, comping and bass patterns, swing, walking bass, chord progressions, bars per chord, seventh
chords and how often it is in minor. Loudness, which sources play, the accompaniment timbres and
the mix's compression are drawn from one distribution shared by every style (``LOUDNESS_DB``,
``PLAYS``, ``TIMBRE_ODDS``, ``CREST_DB``). In version 1 they were the style's, with extreme odds
(classical never had drums, soul always an organ, ambient was 10 dB quieter than rock), and a
linear probe on the features of an untrained encoder already told the styles apart from level
and timbre alone (83 % accuracy, above the supervised ceiling; issue 12, docs/TASKS.md): a genre
task must ask for what random convolutional features do not capture, here the patterns in time
and the harmony.

Every tag stays present in some songs and absent in others even in the smallest corpus: the
shared odds lie between 0.25 and 0.85, and songs.py's golden-ratio sequence over a style's
occurrences spreads each decision evenly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Tempo and loudness tags are thresholds with a neutral zone in between (a 100 BPM song is
# neither fast nor slow, as MagnaTagATune annotators would likely also leave it untagged).
FAST_BPM, SLOW_BPM = 120.0, 85.0
LOUD_DB, QUIET_DB = -17.0, -25.0  # RMS of the mix in dB relative to full scale

# Shared by every style (see the module docstring): level, instrumentation and compression
# carry no information about the style.
LOUDNESS_DB = (-30.0, -12.0)  # target RMS of the mix, dBFS, uniform
PLAYS = {"drums": 0.8, "bass": 0.85, "vocals": 0.65, "other": 1.0}  # odds that each source plays
TIMBRE_ODDS = {"piano": 0.45, "organ": 0.3, "strings": 0.35, "guitar": 0.4, "synth": 0.35}
CREST_DB = 12.0  # peak-to-RMS ceiling of each stem


@dataclass(frozen=True)
class Style:
    """Song-level distributions of one musical style (times in beats, loudness in dBFS)."""

    name: str
    tempo: tuple[float, float]  # BPM range, sampled uniformly
    loudness: tuple[float, float]  # target RMS of the mix, dBFS (LOUDNESS_DB for every style)
    drums: Mapping[str, str]  # 16-step patterns for "kick", "snare", "hat" (see drums.py)
    comp: str  # when the accompaniment strikes a chord, 16 steps per bar
    bass_line: str  # when the bass plays, 16 steps per bar ("o" = octave up)
    plays: Mapping[str, float]  # probability that each source of SOURCES (contracts/sources.py) is present (PLAYS)
    timbres: Mapping[str, float]  # probability of each accompaniment timbre in "other" (TIMBRE_ODDS)
    progressions: tuple[tuple[int, ...], ...]  # chord roots as scale degrees, 0 = tonic
    minor: float = 0.3  # probability of a minor key
    bars_per_chord: int = 1
    swing: float = 0.0  # fraction of a sixteenth by which off-beat eighths are delayed
    sevenths: bool = False  # four-note chords (jazz harmony)
    walking: bool = False  # bass walks through chord and scale tones on every beat
    crest_db: float = CREST_DB  # peak-to-RMS ceiling of each stem: lower = more compressed


_FOUR = {"kick": "x.....x.x.......", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."}

# one style per name of the corpus's STYLES, in that order (tests/data/test_synth.py checks it)
STYLE_SPECS: dict[str, Style] = {
    style.name: style
    for style in (
        Style(
            "rock", (100, 150), LOUDNESS_DB, _FOUR, "x.x.x.x.x.x.x.x.", "x.x.x.x.x.x.x.x.",
            PLAYS, TIMBRE_ODDS,
            ((0, 3, 4, 3), (0, 6, 3, 0), (0, 4, 5, 3)), minor=0.35,
        ),
        Style(
            "pop", (92, 126), LOUDNESS_DB,
            {"kick": "x.....x...x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.xo"},
            "x..x..x...x.x...", "x.....x.x...x...",
            PLAYS, TIMBRE_ODDS,
            ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4)), minor=0.25,
        ),
        Style(
            "electronic", (122, 138), LOUDNESS_DB,
            {"kick": "X...X...X...X...", "snare": "....x.......x...", "hat": "..o...o...o...o."},
            "x..x..x...x..x..", "..x...x...x...x.",
            PLAYS, TIMBRE_ODDS,
            ((0, 5, 2, 6), (0, 0, 5, 4), (0, 3, 5, 4)), minor=0.7,
        ),
        Style(
            "ballad", (60, 80), LOUDNESS_DB,
            {"kick": "x.......x.......", "snare": "........X.......", "hat": "x...x...x...x..."},
            "x.......x.......", "x.......x.......",
            PLAYS, TIMBRE_ODDS,
            ((0, 5, 3, 4), (0, 2, 3, 4), (5, 3, 0, 4)), minor=0.3,
        ),
        Style(
            "ambient", (60, 82), LOUDNESS_DB,
            {"kick": "x...............", "snare": "................", "hat": "..x.......x....."},
            "x...............", "x...............",
            PLAYS, TIMBRE_ODDS,
            ((0, 3), (0, 5), (0, 4, 3, 0)), minor=0.5, bars_per_chord=2,
        ),
        Style(
            "jazz", (80, 170), LOUDNESS_DB,
            {"kick": "x.......x.......", "snare": "..........x.....", "hat": "x...x.x.x...x.x."},
            "x.....x.....x...", "x...x...x...x...",
            PLAYS, TIMBRE_ODDS,
            ((1, 4, 0, 5), (0, 5, 1, 4), (1, 4, 0, 0)), minor=0.2, swing=0.33, sevenths=True,
            walking=True,
        ),
        Style(
            "soul", (80, 116), LOUDNESS_DB,
            {"kick": "x..x..x...x..x..", "snare": "....X..x.x..X...", "hat": "xxxxxxxxxxxxxxxx"},
            "..x...x...x...x.", "x..x..o.x.x..o..",
            PLAYS, TIMBRE_ODDS,
            ((0, 3, 0, 4), (1, 4, 0, 3), (0, 5, 1, 4)), minor=0.35, sevenths=True,
        ),
        Style(
            "classical", (60, 112), LOUDNESS_DB,
            # timpani-like strokes on the downbeats: drums play in 80 % of the songs of every style
            {"kick": "x.......x.......", "snare": "................", "hat": "................"},
            "x.......x.......", "x...............",
            PLAYS, TIMBRE_ODDS,
            ((0, 3, 4, 0), (0, 4, 5, 2, 3, 0, 4, 0)), minor=0.4,
        ),
    )
}
