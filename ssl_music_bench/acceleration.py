"""GPU speed-ups that change how a model runs, not what it computes: memory format and compilation.

- **channels-last**: an encoder that says ``channels_last = True`` (2-D convolutions, e.g.
  EfficientNet-B0 on the log-mel) gets its 4-D weights in NHWC layout on a GPU, so that cuDNN's
  bf16 tensor-core kernels read them without transposes (PyTorch's channels-last tutorial; NVIDIA's
  "Tensor Core performance guide"). Its output then stays NHWC through the network. On a CPU, and
  for 1-D convolutions (SampleCNN), nothing changes.
- **torch.compile** (opt-in, ``--compile``): the encoder's forward is compiled in place
  (``nn.Module.compile``, so parameter names and checkpoints stay as they are). The first steps
  pay the compilation; the method's loss, augmentation and frontend stay eager.

Both keep the computation the same up to floating-point rounding; what was applied is returned
for the run record and the speed table.
"""

from __future__ import annotations

import torch

from ssl_music_bench.method import Method


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
