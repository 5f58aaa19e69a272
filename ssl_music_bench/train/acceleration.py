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

Both keep the computation the same up to floating-point rounding; what was applied is returned
for the run record and the speed table.
"""

from __future__ import annotations

import torch

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
