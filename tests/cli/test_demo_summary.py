"""`bench demo`'s line on what its numbers mean: clmr against the floor, by more than the resolution."""

from __future__ import annotations

from ssl_music_bench.cli.pipeline import demo_summary


def test_the_summary_counts_columns_where_clmr_clears_the_floor_by_more_than_the_resolution() -> None:
    def run(method: str, encoder: str, task: str, value: float, width: float = 0.02) -> dict:
        metric = "pr_auc" if task == "synth-tags" else "accuracy"
        return {"method": method, "encoder": encoder, "task": task, "metrics": {metric: value},
                "task_kind": "multilabel" if task == "synth-tags" else "multiclass", "resolution": {metric: width}}

    records = [run("random-init", "effnet", "synth-genre", 0.50), run("clmr", "effnet", "synth-genre", 0.60),
               run("random-init", "effnet", "synth-tags", 0.50), run("clmr", "effnet", "synth-tags", 0.51),
               run("random-init", "samplecnn", "synth-genre", 0.50), run("clmr", "samplecnn", "synth-genre", 0.40)]
    line = demo_summary(records, 20, 16)
    assert "in 1 of 4 columns" in line and "20 pretraining steps of batch 16" in line
    assert "\n" not in line


def test_the_summary_counts_the_ceiling_columns_and_names_the_ceiling_it_leaves_out() -> None:
    def run(method: str, task: str, value: float) -> dict:
        metric = "pr_auc" if task == "synth-tags" else "accuracy"
        return {"method": method, "encoder": "effnet", "task": task, "metrics": {metric: value},
                "task_kind": "multilabel" if task == "synth-tags" else "multiclass", "resolution": {metric: 0.05}}

    records = [run("random-init", "synth-genre", 0.30), run("supervised", "synth-genre", 0.30),
               run("random-init", "synth-tags", 0.50), run("supervised", "synth-tags", 0.70)]
    line = demo_summary(records, 20, 16)
    assert "[ceiling] budget, in 1 of 2" in line  # equal to the floor on genre: not above it
    assert "samplecnn's ceiling is left out" in line
