"""The roofline of a training step: the least time its FLOPs and its bytes can take on a device.

A step cannot run faster than ``max(FLOPs / peak FLOP/s, bytes moved / memory bandwidth)``
(Williams, Waterman & Patterson, "Roofline", CACM 2009). Both counts come from one training step:

- **FLOPs**: ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions, forward +
  backward; FFTs, the STFT and element-wise work are not counted, so the FLOP bound is a lower
  bound);
- **bytes**: a documented lower bound on memory traffic,
  ``2 x saved activations + 10 x parameter bytes``. Every tensor autograd saves for the
  backward pass (``torch.autograd.graph.saved_tensors_hooks``, each storage once, parameters
  excluded) is written once in the forward pass and read once in the backward pass. Each fp32
  parameter is read in the forward and in the backward pass and its gradient written (3), and
  Adam reads parameter, gradient and both moments and writes parameter and moments (7).
  Intermediates that are not saved (outputs of element-wise ops consumed at once, gradients of
  activations) are left out, so real traffic is higher.

Activations are counted in the dtype the step runs in: fp32 on a CPU, mostly bf16 under
autocast on a GPU, so a bound computed on a CPU counts up to twice the bf16 bytes.

The H200 figures are the issue's (about 790 TFLOP/s dense bf16 reached by large GEMMs, 4.8 TB/s
HBM3e; NVIDIA's data sheet gives 989 TFLOP/s dense bf16 for the SXM part); the H100 SXM's are
its data sheet's (989 TFLOP/s, 3.35 TB/s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from ssl_music_bench.data.sampler import Example

PARAMETER_PASSES = 10
"""Bytes of each parameter moved per Adam step, in units of its size: see the module doc."""


@dataclass(frozen=True)
class RooflineDevice:
    name: str
    bf16_tflops: float
    memory_tb_per_s: float


H200 = RooflineDevice("H200", 790.0, 4.8)
ROOFLINE_DEVICES = (RooflineDevice("H100 PCIe", 756.0, 2.0), RooflineDevice("H100", 989.0, 3.35), H200)


def roofline_device(device_name: str) -> RooflineDevice:
    """The device's roofline figures when known, else the H200's (the bound the speed issue sets)."""
    for device in ROOFLINE_DEVICES:
        if device.name.lower() in device_name.lower():
            return device
    return H200


@dataclass(frozen=True)
class StepCounts:
    flops: float
    saved_activation_bytes: int
    parameter_bytes: int

    @property
    def bytes_moved(self) -> float:
        return 2 * self.saved_activation_bytes + PARAMETER_PASSES * self.parameter_bytes


def count_step(step: Callable[[Example], Any], batch: Example, parameters: Iterable[torch.Tensor]) -> StepCounts:
    """FLOPs and saved-activation bytes of one training step on ``batch`` (the step is taken, so
    it doubles as a warm-up)."""
    from torch.utils.flop_counter import FlopCounterMode

    parameters = list(parameters)
    weights = {p.untyped_storage().data_ptr() for p in parameters}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    counter = FlopCounterMode(display=False)
    with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        step(batch)
    parameter_bytes = sum(p.numel() * p.element_size() for p in parameters)
    return StepCounts(float(counter.get_total_flops()), sum(saved.values()), parameter_bytes)


def roofline(counts: StepCounts, device: RooflineDevice) -> dict[str, Any]:
    """The two bounds on ``device`` in seconds, the binding one, and the counts behind them."""
    flop_s = counts.flops / (device.bf16_tflops * 1e12)
    memory_s = counts.bytes_moved / (device.memory_tb_per_s * 1e12)
    return {"device": device.name, "bf16_tflops": device.bf16_tflops, "memory_tb_per_s": device.memory_tb_per_s,
            "flops": counts.flops, "saved_activation_bytes": counts.saved_activation_bytes,
            "parameter_bytes": counts.parameter_bytes, "bytes_moved": counts.bytes_moved,
            "flop_bound_s": flop_s, "memory_bound_s": memory_s, "bound_s": max(flop_s, memory_s),
            "bound_by": "memory" if memory_s >= flop_s else "compute"}
