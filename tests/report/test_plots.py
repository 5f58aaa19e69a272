"""`bench plot`: loss curves, label-fraction curves and per-tag AP bars as PNG files."""

from __future__ import annotations

from pathlib import Path

from ssl_music_bench.cli import main
from ssl_music_bench.report.records import SCHEMA_VERSION, write_record


def test_plots_are_written_as_png(tmp_path: Path) -> None:
    for fraction, score in ((0.1, 0.4), (1.0, 0.6)):
        write_record(tmp_path, {
            "schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu"}, "method": "clmr", "encoder": "effnet",
            "task": "synth-tags", "seed": 0, "label_fraction": fraction, "metrics": {"pr_auc": score, "roc_auc": 0.8},
            "pretraining": {"loss_curve": [[5, 3.0], [10, 2.5]]},
            "per_tag_average_precision": {"drums": 0.9, "bass": 0.5, "piano": None},
        })
    out = tmp_path / "plots"
    assert main(["plot", "--home", str(tmp_path), "--out", str(out)]) == 0
    for name in ("loss_curves.png", "label_fraction_synth-tags.png", "per_tag_ap_synth-tags.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*"))  # no temporary file left behind
    assert main(["plot", "--home", str(tmp_path / "empty"), "--out", str(out)]) == 2
