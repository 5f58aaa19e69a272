"""CLMR's "1 % of MTAT = 259 songs" is 1 % of all 25,863 clips; the probe draws from the 18,706-clip
train split, whose 1 % is 187 (docs/FACTS-ADDENDA.md)."""

from __future__ import annotations

from ssl_music_bench.evaluate.label_fractions import CLMR_MTAT_1_PERCENT, MTAT_TRAIN_CLIPS, subset_size


def test_one_percent_of_the_train_split_is_187_and_clmrs_259_needs_its_own_fraction() -> None:
    assert subset_size(MTAT_TRAIN_CLIPS, 0.01) == 187
    assert subset_size(25_863, 0.01) == 259  # where CLMR's number comes from
    assert subset_size(MTAT_TRAIN_CLIPS, CLMR_MTAT_1_PERCENT) == 259
    assert subset_size(MTAT_TRAIN_CLIPS, 0.013846) == 259  # the --label-fraction value docs/PROTOCOLS.md gives
