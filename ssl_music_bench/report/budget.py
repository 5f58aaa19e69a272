"""A protocol's pretraining budget beside the papers' and its estimated GPU time (`bench protocol show`).

The papers' budgets, each read from the code that trained the reported model (docs/FACTS-ADDENDA.md):

- CLMR: the released "SampleCNN (96, 10000)" (Spijkervet/CLMR release 2.0): 10,000 epochs of
  MTAT's 18,706 train clips at batch 96, 194 full batches per epoch (the 2.0 loader drops the
  last one): 1,940,000 steps, 186.2 M examples.
- MSCOL (Garoufis et al., SMC 2023): cgaroufis/MSCOL_SMC23 pretraining.py, 10,000 outer steps of
  8,192 examples fitted at batch 128: 640,000 gradient steps, 81.9 M examples.

GPU time is estimated from ``bench speed``'s pipeline steps/s on one H100 (docs/PERFORMANCE.md,
"GPU figures": the v1 batch of 96 under bf16 autocast; EfficientNet-B0 rows in its default
layout, table 2). A protocol with another batch is scaled by examples (the rate in examples/s
kept), and pretraining alone is counted (embedding and the probe add minutes).
"""

from __future__ import annotations

from dataclasses import dataclass

from ssl_music_bench.contracts.protocol import Protocol


@dataclass(frozen=True)
class PaperBudget:
    name: str
    steps: int
    batch_size: int
    source: str

    @property
    def examples(self) -> int:
        return self.steps * self.batch_size


PAPER_BUDGETS = (
    PaperBudget("CLMR (released 2.0 model)", 1_940_000, 96,
                "Spijkervet/CLMR 2.0: 10,000 epochs x 194 batches of 96 (18,706 clips, drop_last)"),
    PaperBudget("MSCOL (Garoufis et al. 2023)", 640_000, 128,
                "cgaroufis/MSCOL_SMC23 pretraining.py: 10,000 x 8,192 examples at batch 128"),
)

SPEED_BATCH = 96
SPEED_SOURCE = ("bench speed on one H100 80GB HBM3, batch 96, bf16 autocast (docs/PERFORMANCE.md, GPU figures, "
                "2026-11-22)")
# pipeline steps/s: SampleCNN rows from table 1, EfficientNet-B0 rows from table 2 (default layout)
H100_STEPS_PER_SECOND: dict[tuple[str, str], float] = {
    ("clmr", "samplecnn"): 8.56, ("clmr", "effnet"): 9.40,
    ("cola", "samplecnn"): 14.37, ("cola", "effnet"): 24.29,
    ("cola-mws", "effnet"): 24.15,
    ("cola-randmask", "samplecnn"): 14.16, ("cola-randmask", "effnet"): 23.83,
    ("cpc", "samplecnn"): 14.23, ("cpc", "effnet"): 21.78,
    ("msa", "samplecnn"): 13.29, ("msa", "effnet"): 28.30,
    ("supervised", "samplecnn"): 26.82, ("supervised", "effnet"): 27.63,
}


def gpu_hours(protocol: Protocol, method: str, encoder: str) -> float:
    """Estimated H100 hours of one pretraining under ``protocol`` (see the module docstring)."""
    examples_per_second = H100_STEPS_PER_SECOND[(method, encoder)] * SPEED_BATCH
    return protocol.pretrain.steps * protocol.pretrain.batch_size / examples_per_second / 3600


def budget_lines(protocol: Protocol) -> list[str]:
    """What `bench protocol show` prints after the file: the budget as a share of each paper's,
    then the estimated GPU-hours per run of every method and encoder (as TOML comments)."""
    steps, batch = protocol.pretrain.steps, protocol.pretrain.batch_size
    examples = steps * batch
    kind = (f"a reproduction of {protocol.reproduces}'s recipe" if protocol.reproduces
            else "an equal-budget comparison: every method gets the same steps and batch")
    lines = [f"# budget: {steps:,} steps x batch {batch} = {examples:,} examples ({kind})"]
    for paper in PAPER_BUDGETS:
        share = examples / paper.examples
        shares = (f"{share:.2%} of its examples (1/{1 / share:,.1f}), {steps / paper.steps:.2%} of its steps"
                  if share <= 1 else f"{share:,.2f}x its examples, {steps / paper.steps:,.2f}x its steps")
        lines.append(f"#   vs {paper.name}: {paper.steps:,} steps x {paper.batch_size} = {paper.examples:,} examples; "
                     f"this is {shares} ({paper.source})")
    precision = "" if protocol.pretrain.precision == "bf16-mixed" else (
        f"; this protocol trains in {protocol.pretrain.precision}, expect it slower")
    lines.append(f"# estimated GPU-hours per run, pretraining only, H100 figures ({SPEED_SOURCE}; scaled by "
                 f"examples{precision}):")
    for (method, encoder) in sorted(H100_STEPS_PER_SECOND):
        lines.append(f"#   {method:<14} {encoder:<10} {gpu_hours(protocol, method, encoder):10,.2f} h")
    return lines
