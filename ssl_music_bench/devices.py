"""Which device the work runs on: the one place that decides (a GPU when there is one)."""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    """The first CUDA device when one is visible, else the CPU: where training, embedding and
    separation run unless a command is told otherwise (``bench speed --device``)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
