"""FLOPs of a training step, and the device's bf16 peak to compare the achieved rate with.

``torch.utils.flop_counter`` counts matmuls and convolutions, forward and backward; FFTs and
element-wise work are not counted, so the achieved TFLOP/s is a lower bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ssl_music_bench.data.sampler import Example

# Dense bf16 tensor-core peaks (no sparsity) from the vendors' data sheets, in TFLOP/s.
# Matched against torch.cuda.get_device_name(); first match wins.
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # SXM
    ("H200", 989.0),
    ("A100", 312.0),
)


def bf16_peak_tflops(device_name: str) -> float | None:
    """The device's dense bf16 peak in TFLOP/s, or None when it is not in the table."""
    for key, peak in BF16_PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return peak
    return None


def flops_per_step(step: Callable[[Example], Any], batch: Example) -> float:
    """Matmul/convolution FLOPs of one training step (forward + backward) on ``batch``; the
    step is taken (so it doubles as a warm-up)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step(batch)
    return float(counter.get_total_flops())
