"""GTZAN (Tzanetakis & Cook, 2002): genre of 30 s excerpts, on the fault-filtered split.

As published: ``genres/<genre>/<genre>.000NN.au`` (the original archive; 22,050 Hz mono) or
``.wav`` (common converted copies, such as the Kaggle "GTZAN Dataset - Music Genre
Classification" one, whose folder is named ``genres_original``). Either folder name and either
extension is accepted; soundfile reads Sun .au natively.

Split: the fault-filtered split of Kereliuk, Sturm & Larsen (IEEE TMM 2015; files
``{train,valid,test}_filtered.txt`` in coreyker/dnn-mgr), 443 / 197 / 290 excerpts, which leaves
out GTZAN's repetitions, mislabellings and distortions and keeps each artist in one split. The
lists are not copied here: they are read from torchaudio (``torchaudio.datasets.gtzan``
``filtered_train``, ``filtered_valid``, ``filtered_test``, taken from
jordipons/sklearn-audio-transfer-learning), so only the 930 listed excerpts are prepared.

``jazz.00054`` (in the train list) is corrupt in common copies: prepare skips it as corrupt
audio and says so, leaving 442 train items there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ssl_music_bench.contracts.registry import register_task
from ssl_music_bench.contracts.task import PreparedTask, SourceItem
from ssl_music_bench.errors import BenchError

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
FOLDERS = ("genres", "genres_original")


def filtered_split() -> dict[str, list[str]]:
    """The Kereliuk-Sturm fault-filtered lists of ids like ``blues.00029``, by split."""
    try:
        from torchaudio.datasets.gtzan import filtered_test, filtered_train, filtered_valid
    except ImportError as error:
        raise BenchError(
            f"The GTZAN fault-filtered split is read from torchaudio.datasets.gtzan, which could not be imported "
            f"({error}). Install torchaudio 2.11 (a dependency of the benchmark)."
        ) from error
    return {"train": list(filtered_train), "valid": list(filtered_valid), "test": list(filtered_test)}


@register_task("gtzan", data="GTZAN")
class GTZAN(PreparedTask):
    """GTZAN genre (10 classes) of 30 s excerpts, fault-filtered split; accuracy."""

    kind = "multiclass"
    source = "GTZAN (Tzanetakis & Cook 2002), fault-filtered split of Kereliuk, Sturm & Larsen 2015 (443/197/290)"
    store_name = "gtzan"
    store_rate = 22_050  # native rate: no resampling
    min_seconds = 1.0  # excerpts are ~30 s; anything under 1 s is a damaged file
    label_names = GENRES
    expected = (
        "genres/<genre>/<genre>.000NN.au or .wav for the ten genres (the original genres.tar.gz from "
        "marsyas.info), or the same under genres_original/ as in the Kaggle copy."
    )

    def audio_folder(self, root: Path) -> Path | None:
        return next((root / name for name in FOLDERS if (root / name).is_dir()), None)

    def check_root(self, root: Path) -> None:
        if self.audio_folder(root) is None:
            raise self.missing(root, "genres/ (or genres_original/)")

    def items(self, root: Path) -> Iterator[SourceItem]:
        folder = self.audio_folder(root)
        if folder is None:
            raise self.missing(root, "genres/ (or genres_original/)")
        for split, ids in filtered_split().items():
            for id in ids:
                genre = id.split(".")[0]
                path = folder / genre / f"{id}.wav"
                if not path.is_file() and path.with_suffix(".au").is_file():
                    path = path.with_suffix(".au")  # the original archive's Sun .au
                yield SourceItem(id, split, (genre,), path)
