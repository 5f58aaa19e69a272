"""Published numbers, as rows marked "reported", for side-by-side comparison (`bench table --reported`).

Values are the papers' own, on the real datasets: the linear-probe results of CLMR (Spijkervet &
Burgoyne, ISMIR 2021: CLMR, CPC and a supervised SampleCNN on MTAT, CLMR on MSD) and the
frozen-encoder results of the multi-source paper (Garoufis, Zlatintsi & Maragos, SMC 2023,
arXiv 2302.07077: means of 5 runs), as printed in their results tables. They line up with our rows
only for the same task, and our protocol may differ from theirs (budget, probe, split). MTAT in
the multi-source paper is the filtered split (our ``mtat-filtered``), MTAT* the full one (our
``mtat``, also CLMR's split).
"""

from __future__ import annotations

from typing import Any

CLMR = "Spijkervet & Burgoyne, ISMIR 2021"
MSA = "Garoufis et al., SMC 2023 (mean of 5 runs)"

# (method, encoder, source, {task: {metric: fraction}})
REPORTED: list[tuple[str, str, str, dict[str, dict[str, float]]]] = [
    ("clmr", "samplecnn", CLMR, {"mtat": {"roc_auc": 0.8849, "pr_auc": 0.3537},
                                 "msd": {"roc_auc": 0.8566, "pr_auc": 0.2498}}),
    ("cpc", "samplecnn", CLMR, {"mtat": {"roc_auc": 0.8660, "pr_auc": 0.3098}}),
    ("supervised", "samplecnn", CLMR, {"mtat": {"roc_auc": 0.8856, "pr_auc": 0.3438}}),
    ("clmr", "samplecnn", MSA + ", mined", {"mtat": {"roc_auc": 0.887, "pr_auc": 0.356}, "fma": {"accuracy": 0.484}}),
    ("cola", "effnet", MSA, {"mtat-filtered": {"roc_auc": 0.886, "pr_auc": 0.396},
                             "mtat": {"roc_auc": 0.880, "pr_auc": 0.334},
                             "nsynth": {"accuracy": 0.593}, "fma": {"accuracy": 0.460}}),
    ("cola-mws", "effnet", MSA, {"mtat-filtered": {"roc_auc": 0.898, "pr_auc": 0.425},
                                 "mtat": {"roc_auc": 0.892, "pr_auc": 0.358},
                                 "nsynth": {"accuracy": 0.645}, "fma": {"accuracy": 0.493}}),
    ("cola-randmask", "effnet", MSA, {"mtat-filtered": {"roc_auc": 0.883, "pr_auc": 0.390},
                                      "mtat": {"roc_auc": 0.880, "pr_auc": 0.337},
                                      "nsynth": {"accuracy": 0.632}, "fma": {"accuracy": 0.476}}),
    ("msa", "effnet", MSA, {"mtat-filtered": {"roc_auc": 0.900, "pr_auc": 0.429},
                            "mtat": {"roc_auc": 0.895, "pr_auc": 0.361},
                            "nsynth": {"accuracy": 0.627}, "fma": {"accuracy": 0.510}}),
]


def reported_records(protocols: set[str]) -> list[dict[str, Any]]:
    """Pseudo-records of the published numbers, one per (row, task), in every protocol shown."""
    records = []
    for protocol in protocols:
        for method, encoder, source, tasks in REPORTED:
            for task, metrics in tasks.items():
                records.append({"protocol": {"name": protocol}, "method": f"{method} (reported: {source})",
                                "encoder": encoder, "task": task, "seed": 0, "metrics": metrics, "reported": True})
    return records
