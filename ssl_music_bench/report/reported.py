"""Published numbers, as rows marked "reported", beside the reproduced ones (`bench table --reported`).

Values are the papers' own, on the real datasets: the linear-probe results of CLMR (Spijkervet &
Burgoyne, ISMIR 2021: CLMR, CPC and a supervised SampleCNN on MTAT, CLMR on MSD) and the
frozen-encoder results of the multi-source paper (Garoufis, Zlatintsi & Maragos, SMC 2023,
arXiv 2302.07077: means of 5 runs), as printed in their results tables. MTAT in the multi-source
paper is the filtered split (our ``mtat-filtered``), MTAT* the full one (our ``mtat``, also
CLMR's split).

Each row says what it is where that decides whether it may be compared (docs/FACTS-ADDENDA.md):

- CLMR's paper numbers on MTAT (88.49 / 35.37) were computed with a softmax over the 50 tags;
  after the authors replaced it with a sigmoid, the released 2.0 model scores 88.7 / 35.6
  (Spijkervet/CLMR README, "SampleCNN (96, 10000)"). Our probe uses the sigmoid, so the second
  row is the one a reproduction should meet.
- CLMR's MSD row was pretrained on MSD, not on MTAT: it sits in a row of its own, labelled so.
- CLMR's CPC row used CPC's own 7-layer convolutional encoder (Spijkervet/CLMR branch v1,
  modules/cpc), not SampleCNN.

Under a reproduction protocol (its ``reproduces`` names a key of ``PAPERS``) only that
paper's rows are shown; under a comparison protocol (v1, cpu, a user's) all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ssl_music_bench.contracts.protocol import PAPERS


@dataclass(frozen=True)
class ReportedRow:
    paper: str  # a key of PAPERS (contracts/protocol.py)
    method: str  # the registered method the row reproduces
    encoder: str
    tasks: dict[str, dict[str, float]]  # task -> metric -> fraction
    note: str = ""  # what sets the row apart (evaluation, pretraining data, encoder)
    sources: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        note = f"; {self.note}" if self.note else ""
        return f"{self.method} (reported: {PAPERS[self.paper]}{note})"


REPORTED: tuple[ReportedRow, ...] = (
    ReportedRow("clmr", "clmr", "samplecnn", {"mtat": {"roc_auc": 0.8849, "pr_auc": 0.3537}},
                "paper, softmax evaluation", ("CLMR paper, Table 1",)),
    ReportedRow("clmr", "clmr", "samplecnn", {"mtat": {"roc_auc": 0.887, "pr_auc": 0.356}},
                "released 2.0 model, sigmoid evaluation", ("Spijkervet/CLMR README, pre-trained models table",)),
    ReportedRow("clmr", "clmr", "samplecnn", {"msd": {"roc_auc": 0.8566, "pr_auc": 0.2498}},
                "pretrained on MSD, not MTAT", ("CLMR paper, Table 1",)),
    ReportedRow("clmr", "cpc", "samplecnn", {"mtat": {"roc_auc": 0.8660, "pr_auc": 0.3098}},
                "CPC's own 7-layer conv encoder", ("CLMR paper, Table 1; Spijkervet/CLMR branch v1 modules/cpc",)),
    ReportedRow("clmr", "supervised", "samplecnn", {"mtat": {"roc_auc": 0.8856, "pr_auc": 0.3438}},
                "", ("CLMR paper, Table 1",)),
    ReportedRow("mscol", "clmr", "samplecnn", {"mtat": {"roc_auc": 0.887, "pr_auc": 0.356}, "fma": {"accuracy": 0.484}},
                "mined from CLMR", ("arXiv 2302.07077, Table 1",)),
    ReportedRow("mscol", "cola", "effnet", {"mtat-filtered": {"roc_auc": 0.886, "pr_auc": 0.396},
                                            "mtat": {"roc_auc": 0.880, "pr_auc": 0.334},
                                            "nsynth": {"accuracy": 0.593}, "fma": {"accuracy": 0.460}}),
    ReportedRow("mscol", "cola-mws", "effnet", {"mtat-filtered": {"roc_auc": 0.898, "pr_auc": 0.425},
                                                "mtat": {"roc_auc": 0.892, "pr_auc": 0.358},
                                                "nsynth": {"accuracy": 0.645}, "fma": {"accuracy": 0.493}}),
    ReportedRow("mscol", "cola-randmask", "effnet", {"mtat-filtered": {"roc_auc": 0.883, "pr_auc": 0.390},
                                                     "mtat": {"roc_auc": 0.880, "pr_auc": 0.337},
                                                     "nsynth": {"accuracy": 0.632}, "fma": {"accuracy": 0.476}}),
    ReportedRow("mscol", "msa", "effnet", {"mtat-filtered": {"roc_auc": 0.900, "pr_auc": 0.429},
                                           "mtat": {"roc_auc": 0.895, "pr_auc": 0.361},
                                           "nsynth": {"accuracy": 0.627}, "fma": {"accuracy": 0.510}}),
)


def reproduced_paper(protocol_name: str) -> str:
    """The paper a built-in protocol reproduces ("" for comparison protocols and users' files)."""
    from ssl_music_bench.contracts.protocol import builtin_protocols, load_protocol

    return load_protocol(protocol_name).reproduces if protocol_name in builtin_protocols() else ""


def reported_records(protocols: set[str]) -> list[dict[str, Any]]:
    """Pseudo-records of the published numbers, one per (row, task), in every protocol shown: a
    reproduction protocol gets its paper's rows, any other protocol all of them."""
    records = []
    for protocol in protocols:
        paper = reproduced_paper(protocol)
        for row in REPORTED:
            if paper and row.paper != paper:
                continue
            for task, metrics in row.tasks.items():
                records.append({"protocol": {"name": protocol}, "method": row.label, "method_name": row.method,
                                "encoder": row.encoder, "task": task, "seed": 0, "metrics": metrics,
                                "reported": True})
    return records
