"""Million Song Dataset, last.fm top-50 tags, in the musicnn-training format.

Files (jordipons/musicnn-training ``data/index/msd/``; the split is jongpillee/music_dataset_split,
Lee et al. 2017): ``index_msd.tsv`` has one line ``MSD_ID<TAB>relative/path.mp3`` per track and
``{train,val,test}_gt_msd.tsv`` one line ``MSD_ID<TAB>[0, 1, 0, ...]`` (50 values in the tag order
below) per track of that split. The split files already encode the "longer than 29.1 s" filter.
The audio, 30 s 7digital previews (mp3, 22.05 or 44.1 kHz), is not publicly distributed: users
bring their own copy, laid out under the root as the index's relative paths say.

A track listed in a split file but not in the index is recorded as a missing file; a track in
the index but in no split file belongs to no split and is not prepared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ssl_music_bench.contracts.registry import register_task
from ssl_music_bench.contracts.task import PreparedTask, SourceItem
from ssl_music_bench.errors import BenchError

INDEX = "index_msd.tsv"
SPLIT_FILES = {"train": "train_gt_msd.tsv", "valid": "val_gt_msd.tsv", "test": "test_gt_msd.tsv"}

# The last.fm top-50 tags in the order of the ground-truth vectors
# (jordipons/musicnn-training data/index/msd/output_labels_msd.txt; same in CLMR).
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental",
    "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy",
    "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop",
    "sad", "House", "happy",
)


@register_task("msd", data="Million Song Dataset")
class MillionSongDataset(PreparedTask):
    """Million Song Dataset, last.fm top-50 tags (musicnn-training split); ROC-AUC, PR-AUC.

    201,680 / 11,774 / 28,435 tracks (train / valid / test) in the split files
    (jongpillee/music_dataset_split; jordipons/musicnn-training); fewer on a user's copy of the
    previews, whose missing or corrupt files ``bench prepare`` reports and skips.

    Stored at 16 kHz (the previews are 22.05/44.1 kHz mp3), the rate of MTAT, so both tagging
    tasks give an encoder the same band (up to 8 kHz) and the store is a third the size of
    44.1 kHz audio. An encoder at another rate (SampleCNN, 22.05 kHz) is fed by resampling on the
    device, as on MTAT; CLMR's own MSD numbers were computed on 22.05 kHz audio.

    ``min_seconds`` is 1 s: the split already keeps only clips longer than 29.1 s, so this drops
    only truncated files rather than re-filtering the published split.
    """

    kind = "multilabel"
    source = "Million Song Dataset last.fm tags; split jongpillee/music_dataset_split via jordipons/musicnn-training"
    store_name = "msd"
    store_rate = 16_000
    min_seconds = 1.0
    label_names = MSD_TAGS
    expected = (
        f"{INDEX} (MSD_ID<TAB>relative/path.mp3), {', '.join(SPLIT_FILES.values())} (MSD_ID<TAB>[50 "
        "values]) and the mp3 previews at the index's relative paths, all under the root. The tsv files "
        "are in jordipons/musicnn-training (data/index/msd/; split from jongpillee/music_dataset_split). "
        "The audio (7digital 30 s previews) is not publicly distributed: bring your own copy."
    )

    def check_root(self, root: Path) -> None:
        lacking = [name for name in (INDEX, *SPLIT_FILES.values()) if not (root / name).is_file()]
        if lacking:
            raise self.missing(root, *lacking)

    def items(self, root: Path) -> Iterator[SourceItem]:
        index = read_index(root / INDEX)
        seen: dict[str, str] = {}
        for split, name in SPLIT_FILES.items():
            for msd_id, values in read_ground_truth(root / name):
                if msd_id in seen:
                    raise BenchError(f"{root / name}: track {msd_id} is also in the {seen[msd_id]} split.")
                seen[msd_id] = split
                labels = tuple(tag for tag, value in zip(MSD_TAGS, values) if value > 0)
                relative = index.get(msd_id)
                path = root / relative if relative else root / f"{msd_id} (not listed in {INDEX})"
                yield SourceItem(msd_id, split, labels, path, {"path": relative or ""})


def read_index(path: Path) -> dict[str, str]:
    """MSD id -> audio path relative to the root."""
    index: dict[str, str] = {}
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.strip().split("\t")
        if len(fields) != 2:
            raise BenchError(f"{path}, line {line_number}: expected MSD_ID<TAB>relative/path.mp3, got {line!r}.")
        index[fields[0].strip()] = fields[1].strip()
    return index


def read_ground_truth(path: Path) -> Iterator[tuple[str, list[float]]]:
    """(MSD id, 50 values) per line of a ``*_gt_msd.tsv`` file; ints or floats, commas or spaces."""
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        msd_id, _, vector = line.strip().partition("\t")
        try:
            values = [float(value) for value in re.split(r"[,\s]+", vector.strip().strip("[]").strip()) if value]
        except ValueError:
            values = []
        if len(values) != len(MSD_TAGS):
            raise BenchError(
                f"{path}, line {line_number}: expected MSD_ID<TAB>[{len(MSD_TAGS)} numbers], got {line[:80]!r}."
            )
        yield msd_id.strip(), values
