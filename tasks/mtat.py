"""MagnaTagATune (MTAT): top-50 tag prediction, read from the dataset as published.

Files (Law et al., ISMIR 2009; mirrored at mirg.city.ac.uk/codeapp/datasets/magnatagatune):
``annotations_final.csv`` is TAB-separated with a header ``clip_id``, 188 tag columns (0/1),
``mp3_path`` (values quoted in the original file, unquoted in some re-saved copies; the csv
module reads both); the mp3s (16 kHz mono, 32 kbps, ~29 s) sit in folders ``0``..``9``,
``a``..``f`` named by ``mp3_path`` (e.g. ``f/american_bach_soloists-...-30-59.mp3``).

Split: the folder rule of Pons et al. 2017 (jordipons/musicnn-training, used by CLMR): the first
character of ``mp3_path`` is the split, ``0``-``b`` train, ``c`` valid, ``d``-``f`` test. Clips
35644 (missing in the distribution), 55753 and 57881 (corrupt) are left out of every split, as in
that split; they are not listed in the prepared manifest because they are not part of the task.

Two tasks share the one prepared store "mtat":

- ``mtat``: every clip of the split, tagged or not (the "MTAT*" column of the multi-source paper);
- ``mtat-filtered``: only clips with at least one top-50 tag (the Lee/Won filtered split used by
  Garoufis et al. 2023, "MTAT"); unreadable and too-short clips are skipped by ``bench prepare``
  for both tasks.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ssl_music_bench.contracts.registry import register_task
from ssl_music_bench.contracts.task import PreparedTask, SourceItem
from ssl_music_bench.data.store import ClipInfo
from ssl_music_bench.errors import BenchError

ANNOTATIONS = "annotations_final.csv"
FOLDERS = tuple("0123456789abcdef")
# where the csv and the mp3 folders may be: the root itself, or an ``mp3/`` folder inside it
# (a common layout when the three mp3.zip parts are extracted into their own folder)
LOCATIONS = (".", "mp3")
SPLIT_OF_FOLDER = {**{f: "train" for f in "0123456789ab"}, "c": "valid", "d": "test", "e": "test", "f": "test"}
# missing (35644) or corrupt (55753, 57881) in the distribution; dropped by the Pons/CLMR split
BAD_CLIPS = frozenset({"35644", "55753", "57881"})

# The 50 most frequent tag columns, in the standard order (Pons 2017, CLMR, Won et al. 2020).
TOP50_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)


def find(root: Path, name: str) -> Path | None:
    """The first of ``root/name`` and ``root/mp3/name`` that exists."""
    for location in LOCATIONS:
        if (root / location / name).exists():
            return root / location / name
    return None


def audio_root(root: Path) -> Path:
    """The folder holding the mp3 folders 0..f (the root, or its ``mp3/`` folder)."""
    for location in LOCATIONS:
        if any((root / location / folder).is_dir() for folder in FOLDERS):
            return root / location
    return root


@register_task("mtat", data="MagnaTagATune")
class MagnaTagATune(PreparedTask):
    """MagnaTagATune top-50 tags, all clips of the Pons 2017 split (MTAT*); ROC-AUC, PR-AUC.

    18,706 / 1,825 / 5,329 clips (train / valid / test) on the full set: 25,863 rows of
    annotations_final.csv minus the 3 known bad clips (jordipons/musicnn-training; CLMR,
    Spijkervet & Burgoyne 2021). Counts on a user's copy can be lower: missing, corrupt or
    too-short mp3s are reported by ``bench prepare`` and skipped.

    ``min_seconds`` is 1 s: the real clips are ~29 s, so this only drops truncated files; a clip
    shorter than an encoder's crop is zero-padded when sampled and embedded.
    """

    kind = "multilabel"
    source = "MagnaTagATune (Law et al. 2009); split Pons et al. 2017 (jordipons/musicnn-training)"
    store_name = "mtat"
    store_rate = 16_000  # MTAT is distributed at 16 kHz mono: stored as is, no resampling
    min_seconds = 1.0
    label_names = TOP50_TAGS
    expected = (
        f"{ANNOTATIONS} (TAB-separated: clip_id, 188 tag columns, mp3_path) and the mp3 folders "
        "0..9, a..f it names, both either directly in the root or in an mp3/ folder inside it. "
        "Get them from https://mirg.city.ac.uk/codeapp/datasets/magnatagatune (annotations_final.csv "
        "and mp3.zip.001-003: join the parts with `cat mp3.zip.* > mp3.zip` and unzip)."
    )

    def check_root(self, root: Path) -> None:
        if find(root, ANNOTATIONS) is None:
            raise self.missing(root, ANNOTATIONS)
        if not any((audio_root(root) / folder).is_dir() for folder in FOLDERS):
            raise self.missing(root, "the mp3 folders 0..9, a..f")

    def items(self, root: Path) -> Iterator[SourceItem]:
        path = find(root, ANNOTATIONS)
        assert path is not None, "check_root runs first"
        audio = audio_root(root)
        for clip_id, mp3_path, tags in read_annotations(path):
            if clip_id in BAD_CLIPS:
                continue
            split = SPLIT_OF_FOLDER.get(mp3_path[:1])
            if split is None:
                raise BenchError(
                    f"{path}: clip {clip_id} has mp3_path {mp3_path!r}, which is not in one of the folders "
                    f"0..9, a..f. This does not look like MagnaTagATune's {ANNOTATIONS}."
                )
            yield SourceItem(clip_id, split, tags, audio / mp3_path, {"mp3_path": mp3_path})


@register_task("mtat-filtered", data="MagnaTagATune")
class MagnaTagATuneFiltered(MagnaTagATune):
    """MagnaTagATune top-50 tags, clips with at least one top-50 tag (Lee/Won filtered split); ROC-AUC, PR-AUC.

    15,244 / 1,529 / 4,332 clips (train / valid / test) on the full set (Lee et al. 2017,
    sample-level CNN; Won et al. 2020, minzwon/sota-music-tagging-models; used by Garoufis et al.
    2023 for their "MTAT" column): the Pons 2017 split without clips that have no top-50 tag and
    without unreadable or short files. Shares the prepared "mtat" store with ``mtat``.
    """

    source = "MagnaTagATune; filtered split (Lee et al. 2017; Won et al. 2020), as in Garoufis et al. 2023"

    def include(self, info: ClipInfo) -> bool:
        return bool(info.labels)


def read_annotations(path: Path) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(clip_id, mp3_path, top-50 tags the clip has, in TOP50_TAGS order) per row of the csv."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = [name.strip() for name in next(reader, [])]
        lacking = [name for name in ("clip_id", *TOP50_TAGS, "mp3_path") if name not in header]
        if lacking:
            raise BenchError(
                f"{path} does not look like MagnaTagATune's {ANNOTATIONS}: its TAB-separated header lacks "
                f"{', '.join(repr(name) for name in lacking[:5])}{' ...' if len(lacking) > 5 else ''}. "
                f"Expected: {MagnaTagATune.expected}"
            )
        clip_column, path_column = header.index("clip_id"), header.index("mp3_path")
        tag_columns = [(tag, header.index(tag)) for tag in TOP50_TAGS]
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise BenchError(f"{path}, line {line}: {len(row)} TAB-separated fields, the header has {len(header)}.")
            try:
                tags = tuple(tag for tag, column in tag_columns if float(row[column]) > 0)
            except ValueError as error:
                raise BenchError(f"{path}, line {line}: a tag value is not a number ({error}).") from None
            yield row[clip_column].strip(), row[path_column].strip(), tags
