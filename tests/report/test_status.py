"""`bench status`: done, missing and failed cells, and the commands that fill the holes."""

from __future__ import annotations

from pathlib import Path

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.report.records import SCHEMA_VERSION, write_record
from ssl_music_bench.report.status import clear_failure, grid, note_failure, render_status


def test_grid_states_and_commands(tmp_path: Path) -> None:
    protocol = load_protocol("cpu")
    write_record(tmp_path, {"schema_version": SCHEMA_VERSION, "protocol": {"name": "cpu"}, "method": "clmr",
                            "encoder": "effnet", "task": "synth-tags", "seed": 0, "metrics": {}})
    note_failure(tmp_path, "cola", "effnet", "synth-tags", 1, "cpu", RuntimeError("out of memory"))
    cells = {(c.method, c.encoder, c.task, c.seed): c for c in grid(tmp_path, protocol, ["synth-tags"], [0, 1])}
    assert cells[("clmr", "effnet", "synth-tags", 0)].state == "done"
    assert cells[("clmr", "effnet", "synth-tags", 1)].state == "missing"
    assert cells[("cola", "effnet", "synth-tags", 1)].state == "failed"
    assert ("cola-mws", "samplecnn", "synth-tags", 0) not in cells  # incompatible pairs are not holes
    text = render_status(list(cells.values()), protocol, ["synth-tags"], [0, 1])
    assert "clmr effnet" in text and "✓·" in text
    assert "bench run --method clmr --encoder effnet --task synth-tags --protocol cpu --seed 1" in text
    assert "# failed: cola effnet synth-tags seed 1: RuntimeError: out of memory" in text
    clear_failure(tmp_path, "cola", "effnet", "synth-tags", 1, "cpu")
    assert all(c.state != "failed" for c in grid(tmp_path, protocol, ["synth-tags"], [0, 1]))
