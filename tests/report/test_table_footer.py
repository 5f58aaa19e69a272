"""The table's footer (headroom, resolution and their targets), single-seed cells, corpus
versions in separate tables, and the flag for runs whose pretraining had not converged."""

from __future__ import annotations

from typing import Any

from ssl_music_bench.report.records import SCHEMA_VERSION, record_problem
from ssl_music_bench.report.table import render


def record(method: str, encoder: str, seed: int, accuracy: float, *, resolution: float | None = None,
           converged: bool | None = None, corpus: int | None | str = "absent", task: str = "synth-genre",
           protocol: str = "cpu") -> dict[str, Any]:
    result: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "protocol": {"name": protocol}, "method": method,
                              "encoder": encoder, "task": task, "seed": seed, "metrics": {"accuracy": accuracy}}
    if resolution is not None:
        result["resolution"] = {"accuracy": resolution}
    if converged is not None:
        result["pretraining"] = {"convergence": {"relative_change": 0.0 if converged else 0.3, "tolerance": 0.05,
                                                 "converged": converged}}
    if corpus != "absent":
        result["dataset"] = {"corpus_version": corpus}
    return result


def lines_of(text: str) -> dict[tuple[str, str], str]:
    return {tuple(line.split(" | ")[:2]): line for line in text.splitlines() if line.startswith("| ")}


def three_seeds(method: str, encoder: str, accuracy: float, **extra: Any) -> list[dict[str, Any]]:
    return [record(method, encoder, seed, accuracy + seed / 200, **extra) for seed in range(3)]


def test_footer_shows_headroom_and_the_baselines_resolution_and_marks_missed_targets() -> None:
    records = [*three_seeds("random-init", "effnet", 0.40, resolution=0.02),
               *three_seeds("supervised", "effnet", 0.80, resolution=0.03),
               *three_seeds("cola", "effnet", 0.60, resolution=0.05),
               *three_seeds("random-init", "samplecnn", 0.50, resolution=0.04),
               *three_seeds("supervised", "samplecnn", 0.60, resolution=0.04)]
    records[0]["resolution"]["accuracy"] = 0.10  # the median over the floor's seeds ignores one wide run
    text = render(records)
    rows = lines_of(text)
    assert rows[("| *headroom*", "effnet")] == "| *headroom* | effnet | 40.00 |"  # 81 - 41: meets 15
    # the larger of the floor's 2.00 and the ceiling's 3.00; cola's 5.00 is between the two ends, not an end
    assert rows[("| *resolution ±*", "effnet")] == "| *resolution ±* | effnet | 3.00 |"  # <= 40 / 5
    assert rows[("| *headroom*", "samplecnn")] == "| *headroom* | samplecnn | 10.00 ✗ |"  # below 15 points
    assert rows[("| *resolution ±*", "samplecnn")] == "| *resolution ±* | samplecnn | 4.00 ✗ |"  # > 10 / 5
    assert "headroom: supervised minus random-init" in text
    body = text.splitlines()
    assert body.index(rows[("| supervised", "samplecnn")]) < body.index(rows[("| *headroom*", "effnet")])  # at the foot
    csv_rows = render(records, "csv").splitlines()
    assert "cpu,1,1,headroom,samplecnn,10.00" in csv_rows  # plain numbers in CSV
    latex = render(records, "latex")
    assert "resolution $\\pm$ & samplecnn & 4.00 $\\times$ \\\\" in latex


def test_records_without_a_stored_resolution_show_a_dash() -> None:
    records = [*three_seeds("random-init", "effnet", 0.40), *three_seeds("supervised", "effnet", 0.80)]
    rows = lines_of(render(records))
    assert rows[("| *resolution ±*", "effnet")] == "| *resolution ±* | effnet | - |"
    assert rows[("| *headroom*", "effnet")] == "| *headroom* | effnet | 40.00 |"
    assert ("| *headroom*", "effnet") not in lines_of(render(three_seeds("cola", "effnet", 0.5)))  # nothing to show


def test_a_single_seed_cell_gets_no_arrow_and_no_tie() -> None:
    records = [*three_seeds("random-init", "effnet", 0.40), *three_seeds("cola", "effnet", 0.60),
               record("cpc", "effnet", 0, 0.20), record("msa", "effnet", 0, 0.595)]
    rows = lines_of(render(records))
    assert rows[("| cola", "effnet")].endswith("(n=3)** ↑ |")
    assert rows[("| cpc", "effnet")] == "| cpc | effnet | 20.00 |"  # far below the floor, but one number
    assert rows[("| msa", "effnet")] == "| msa | effnet | 59.50 |"  # inside the best's interval, but no interval


def test_corpus_versions_get_separate_tables_and_old_records_count_as_version_one() -> None:
    records = [record("cola", "effnet", 0, 0.30),  # written before the field: synthetic, so version 1
               record("cola", "effnet", 1, 0.32, corpus=1),
               record("cola", "effnet", 0, 0.70, corpus=2),
               record("cola", "effnet", 0, 0.55, corpus=None, task="gtzan")]  # real data
    text = render(records)
    titles = [line for line in text.splitlines() if line.startswith("### ")]
    assert titles == ["### Protocol `cpu` · synthetic corpus v2", "### Protocol `cpu` · synthetic corpus v1",
                      "### Protocol `cpu`"]  # the newest corpus first, real data last
    sections = text.split("### ")[1:]
    assert "31.00 ± 12.71 (n=2)" in sections[1] and "70.00" not in sections[1]
    assert "70.00" in sections[0] and "31.00" not in sections[0]
    assert "gtzan accuracy" in sections[2] and "synth-genre" not in sections[2]
    assert "cpu,1,2,cola,effnet,70.00" in render(records, "csv").splitlines()


def test_cells_with_a_run_that_had_not_converged_are_flagged() -> None:
    records = [record("cola", "effnet", 0, 0.60, converged=True), record("cola", "effnet", 1, 0.62, converged=False),
               record("cpc", "effnet", 0, 0.50, converged=True), record("cpc", "effnet", 1, 0.52, converged=True),
               *[record("random-init", "effnet", s, 0.4) | {"pretraining": {"convergence": None}} for s in (0, 1)]]
    text = render(records)
    rows = lines_of(text)
    assert rows[("| cola", "effnet")] == "| cola | effnet | **61.00 ± 12.71 (n=2)**† ↑ |"
    assert "†" not in rows[("| cpc", "effnet")] and "†" not in rows[("| random-init", "effnet")]
    assert "†: includes a run whose pretraining loss had not flattened" in text
    assert "†" not in render(records[2:])
    assert "$^\\dagger$" in render(records, "latex") and "†" not in render(records, "csv")


def test_the_schema_check_accepts_the_new_fields_and_refuses_bad_ones() -> None:
    good = record("cola", "effnet", 0, 0.6, resolution=0.02, converged=False, corpus=2)
    assert record_problem(good) == ""
    assert record_problem(good | {"resolution": {"accuracy": float("nan")}}) != ""
    assert record_problem(good | {"dataset": {"corpus_version": "2"}}) != ""
    assert record_problem(good | {"pretraining": {"convergence": 0.3}}) != ""


def test_only_the_headline_metrics_are_judged_against_the_targets() -> None:
    def tags(method: str, seed: int, value: float) -> dict[str, Any]:
        return record(method, "effnet", seed, 0.0, task="synth-tags") | {"metrics": {"roc_auc": value, "pr_auc": value}}

    records = [tags("random-init", s, 0.80 + s / 100) for s in range(2)] + [tags("supervised", s, 0.85 + s / 100)
                                                                          for s in range(2)]
    rows = lines_of(render(records))
    assert rows[("| *headroom*", "effnet")] == "| *headroom* | effnet | 5.00 ✗ | 5.00 |"  # pr_auc judged, roc_auc not
