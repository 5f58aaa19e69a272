"""benchmarks/h200_speed.py, the GPU script of issue 14, runs end to end on the CPU in its tiny
dry-run configuration, so that it is not broken when a GPU session comes to run it. Speed itself
is never asserted (docs/PERFORMANCE.md)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "h200_speed.py"


def load_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("h200_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core machine OpenMP's second thread mostly waits for a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_dry_run_writes_every_phase(shared_home: Path, tmp_path: Path) -> None:
    script = load_script()
    out = tmp_path / "out"
    report = script.main(["--device", "cpu", "--dry-run", "--methods", "clmr", "--encoders", "effnet",
                          "--home", str(shared_home), "--out", str(out)])
    variants = json.loads((out / "variants.json").read_text())
    assert variants["errors"] == [] and variants["skipped"] == []
    [pair] = variants["pairs"]
    assert (pair["method"], pair["encoder"]) == ("clmr", "effnet")
    # conv1d-channels-last does not apply to EfficientNet-B0 (2-D convolutions only)
    assert set(pair["variants"]) == {"baseline", "static-chain", "fused-optimizer", "eager-kept"}
    assert pair["failed"] == {}
    assert pair["variants"]["eager-kept"]["applied"] == {"static_chain": True, "fused_optimizer": True}
    for entry in pair["variants"].values():
        assert len(entry["step_s"]) == 1 and entry["fastest_s"] > 0 and entry["speedup_vs_baseline"] > 0
    assert pair["chain"]["subset_s"] > 0 and pair["chain"]["static_s"] > 0
    assert 0 < pair["chain"]["share_of_baseline_step"]
    speed = json.loads((out / "bench_speed" / "speed.json").read_text())
    assert [p["method"] for p in speed["pairs"]] == ["clmr"] and speed["pairs"][0]["roofline"]["bound_s"] > 0
    assert not (out / "compile.json").exists()  # no compilation in a dry run unless asked for
    assert set(report["phases"]) == {"A", "B"}
    assert json.loads((out / "summary.json").read_text())["phases"]["A"][0].startswith("clmr + effnet")


def test_a_budget_already_spent_skips_the_pairs(shared_home: Path, tmp_path: Path) -> None:
    script = load_script()
    script.main(["--device", "cpu", "--dry-run", "--methods", "cola", "--encoders", "effnet", "--budget-s", "0",
                 "--skip", "B", "--home", str(shared_home), "--out", str(tmp_path)])
    variants = json.loads((tmp_path / "variants.json").read_text())
    assert variants["pairs"] == [] and variants["skipped"] == ["cola+effnet"]
