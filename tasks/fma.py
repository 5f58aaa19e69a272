"""FMA, the Free Music Archive dataset (Defferrard et al., ISMIR 2017): top-level genre of 30 s clips.

As published: ``fma_metadata/tracks.csv`` holds one row per track under two header levels plus an
index-name line (pandas reads it with ``index_col=0, header=[0, 1]``; here the csv module reads it,
so pandas is not needed). The columns used are ('set', 'split') in {training, validation, test},
('set', 'subset') in {small, medium, large}, nested (every small track is also in medium), and
('track', 'genre_top'). Audio is ``fma_small/000/000002.mp3``: the folder is the first three
digits of the six-digit track id.

- ``fma``: fma_small, 8 balanced genres, 6,400 / 800 / 800 (the FMA number of CLMR and MSA).
- ``fma-medium``: fma_medium, 16 unbalanced genres, 19,922 / 2,505 / 2,573; small tracks are part
  of it, and their audio is accepted from ``fma_medium/`` or ``fma_small/``.

Stores ``fma-small`` and ``fma-medium`` hold audio at 22,050 Hz: the mp3s are 44.1 kHz, and
22,050 Hz is the highest rate any encoder here reads (SampleCNN), so halving once keeps every
encoder's input while halving the store's size; encoders resample further on the device.

Known faults (mdeff/fma issues #8 and #44, and the FMA wiki): in fma_small, 098565, 098567 and
098569 hold well under 30 s of audio, and 099134, 108925 and 133297 hold none, because wrong
durations in the FMA API put their 30 s window past the track's end. No list is hard-coded: they
take prepare's normal path and are skipped as too short (under ``min_seconds``) or corrupt, and
the manifest says which and why.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from ssl_music_bench.contracts.registry import register_task
from ssl_music_bench.contracts.task import PreparedTask, SourceItem
from ssl_music_bench.errors import BenchError

SMALL_GENRES = ("Electronic", "Experimental", "Folk", "Hip-Hop", "Instrumental", "International", "Pop", "Rock")
# the 16 root genres of FMA's genres.csv (parent 0); every fma_medium track has one as genre_top
# (Defferrard et al. 2017, Table 1 / mdeff/fma README: "fma_medium: 25,000 tracks, 16 unbalanced genres")
MEDIUM_GENRES = (
    "Blues", "Classical", "Country", "Easy Listening", "Electronic", "Experimental", "Folk", "Hip-Hop",
    "Instrumental", "International", "Jazz", "Old-Time / Historic", "Pop", "Rock", "Soul-RnB", "Spoken",
)
SPLIT_NAMES = {"training": "train", "validation": "valid", "test": "test"}
TRACKS_CSV = "fma_metadata/tracks.csv"
COLUMNS = (("set", "split"), ("set", "subset"), ("track", "genre_top"))


def read_tracks(path: Path) -> Iterator[tuple[str, str, str, str]]:
    """(six-digit track id, split, subset, genre_top) for each row of FMA's tracks.csv."""
    csv.field_size_limit(2**31 - 1)  # free-text columns (bios, comments) exceed csv's 128 KiB default
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            top, sub = next(reader), next(reader)
        except StopIteration:
            raise BenchError(f"{path} has fewer than two header rows: is it FMA's tracks.csv?") from None
        names, current = [], ""
        for first, second in zip(top, sub):
            current = first or current  # a blank top-level cell continues the previous name
            names.append((current, second))
        absent = [f"{a}/{b}" for a, b in COLUMNS if (a, b) not in names]
        if absent:
            raise BenchError(f"{path} lacks the column(s) {', '.join(absent)}: is it FMA's tracks.csv (fma_metadata)?")
        split_at, subset_at, genre_at = (names.index(column) for column in COLUMNS)
        for row in reader:
            if not row or row[0] == "track_id":  # the index-name line under the headers
                continue
            if not row[0].isdigit() or len(row) < len(names):
                raise BenchError(f"{path}, line {reader.line_num}: not a track row ({row[:3]}...): is the file complete?")
            yield f"{int(row[0]):06d}", row[split_at], row[subset_at], row[genre_at]


class _FMA(PreparedTask):
    """Reading of fma_metadata/tracks.csv and one audio folder, restricted to some subsets."""

    kind = "multiclass"
    store_rate = 22_050
    # clips are 30 s by construction; the faulty ones hold at most ~1.3 s (window past the track's
    # end), while a few real tracks shorter than 30 s (7-20 s, mdeff/fma#8) are kept
    min_seconds = 5.0
    subsets: ClassVar[tuple[str, ...]]
    folder: ClassVar[str]

    def check_root(self, root: Path) -> None:
        absent = [name for name, ok in ((TRACKS_CSV, (root / TRACKS_CSV).is_file()),
                                        (f"{self.folder}/", (root / self.folder).is_dir())) if not ok]
        if absent:
            raise self.missing(root, *absent)

    def audio_path(self, root: Path, track: str, subset: str) -> Path:
        path = root / self.folder / track[:3] / f"{track}.mp3"
        fallback = root / "fma_small" / track[:3] / f"{track}.mp3"
        if not path.is_file() and subset == "small" and fallback.is_file():
            return fallback
        return path

    def items(self, root: Path) -> Iterator[SourceItem]:
        for track, split, subset, genre in read_tracks(root / TRACKS_CSV):
            if subset not in self.subsets or split not in SPLIT_NAMES:
                continue
            if genre not in self.label_names:
                raise BenchError(
                    f"{root / TRACKS_CSV}: track {track} ({subset}) has genre_top {genre!r}, not one of the "
                    f"{len(self.label_names)} genres of fma_{self.subsets[-1]}. Is this the published fma_metadata?"
                )
            path = self.audio_path(root, track, subset)
            yield SourceItem(track, SPLIT_NAMES[split], (genre,), path, {"subset": subset})


@register_task("fma", data="FMA small")
class FMASmall(_FMA):
    """FMA small: top-level genre (8 balanced classes) of 30 s clips; accuracy."""

    source = "FMA (Defferrard et al., ISMIR 2017), fma_small with its official split; as in CLMR and MSA"
    store_name = "fma-small"
    label_names = SMALL_GENRES
    subsets = ("small",)
    folder = "fma_small"
    expected = (
        f"{TRACKS_CSV} (from fma_metadata.zip) and fma_small/<000-155>/<track_id>.mp3 (from fma_small.zip), "
        "as published at https://github.com/mdeff/fma."
    )


@register_task("fma-medium", data="FMA medium")
class FMAMedium(_FMA):
    """FMA medium: top-level genre (16 unbalanced classes) of 30 s clips; accuracy."""

    source = "FMA (Defferrard et al., ISMIR 2017), fma_medium (includes fma_small) with its official split"
    store_name = "fma-medium"
    label_names = MEDIUM_GENRES
    subsets = ("small", "medium")
    folder = "fma_medium"
    expected = (
        f"{TRACKS_CSV} (from fma_metadata.zip) and fma_medium/<000-155>/<track_id>.mp3 (from fma_medium.zip; "
        "audio of small-subset tracks is also taken from fma_small/), as published at https://github.com/mdeff/fma."
    )
