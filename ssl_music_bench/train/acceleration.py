"""GPU speed-ups that change how a model runs, not what it computes: memory format and compilation.

- **channels-last**: an encoder that says ``channels_last = True``, or every encoder with
  ``channels_last=True`` (``bench speed --channels-last on``), gets its 4-D weights in NHWC
  layout, so that cuDNN's bf16 tensor-core kernels can read them without transposes (PyTorch's
  channels-last tutorial; NVIDIA's Tensor Core performance guide); the activations then stay
  NHWC through the network. 1-D convolutions (SampleCNN) have no 4-D weights and are unchanged.
  No built-in encoder asks for it: on an H100 at the v1 batch it did not help EfficientNet-B0
  (docs/PERFORMANCE.md).
- **torch.compile** (opt-in, ``--compile``): the encoder's forward is compiled in place
  (``nn.Module.compile``, so parameter names and checkpoints stay as they are). The first steps
  pay the compilation; the method's loss, augmentation and frontend stay eager.

Two more, measured by benchmarks/h200_speed.py before any becomes a default:

- **fused optimiser** (:func:`use_fused_optimizer`): Adam/AdamW/SGD's single-kernel update
  (``fused=True``, torch's optimiser docs) instead of one launch per parameter tensor;
- **channels-last 1-D convolutions** (:func:`conv1d_channels_last`): each ``nn.Conv1d`` run as a
  (N, C, 1, W) 2-D convolution in NHWC, the layout cuDNN's bf16 tensor-core kernels read
  directly; SampleCNN is nothing but such convolutions.

All keep the computation the same up to floating-point rounding; what was applied is returned
for the run record and the speed table.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_music_bench.contracts.method import Method


def accelerate(method: Method, device: torch.device, compile: bool = False,
               channels_last: bool | None = None) -> dict[str, bool]:
    """Apply the speed-ups to ``method`` for training on ``device``; return what was applied.

    ``channels_last`` None: the encoder's own preference, on a GPU only.
    """
    wanted = type(method.encoder).channels_last and device.type == "cuda" if channels_last is None else channels_last
    if wanted:
        method.to(memory_format=torch.channels_last)  # converts 4-D parameters only
    if compile:
        method.encoder.compile()
    return {"channels_last": bool(wanted), "compiled": compile}


def use_fused_optimizer(optimizer: torch.optim.Optimizer) -> bool:
    """Switch ``optimizer`` to its fused implementation in place, before its first step (so its
    schedulers stay bound to it); False when it has none (then it is left as it was)."""
    groups = optimizer.param_groups
    if not groups or "fused" not in groups[0] or any(optimizer.state.values()):
        return False
    for group in groups:
        group["fused"], group["foreach"] = True, False
    if hasattr(optimizer, "_step_supports_amp_scaling"):
        optimizer._step_supports_amp_scaling = True  # what the constructor sets for fused=True
    return True


def _conv1d_as_channels_last_2d(self: nn.Conv1d, x: Tensor) -> Tensor:
    weight = self.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    out = F.conv2d(x, weight, self.bias, (1, self.stride[0]), (0, self.padding[0]), (1, self.dilation[0]),
                   self.groups)
    return out.squeeze(2)


def conv1d_channels_last(module: nn.Module) -> int:
    """Run every zero-padded ``nn.Conv1d`` in ``module`` as a channels-last 2-D convolution
    (weights and state dict unchanged); returns how many layers were switched."""
    switched = 0
    for layer in module.modules():
        if isinstance(layer, nn.Conv1d) and layer.padding_mode == "zeros" and not isinstance(layer.padding, str):
            layer.forward = types.MethodType(_conv1d_as_channels_last_2d, layer)  # type: ignore[method-assign]
            switched += 1
    return switched
