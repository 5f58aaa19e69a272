"""The key layouts of CLMR's checkpoints, mapped onto this benchmark's SampleCNN.

Source: Spijkervet/CLMR. Three layouts exist (read from the code of each version):

- ``clmr-1.0`` (tag 1.0, modules/sample_cnn_59049.py; the released ``clmr_checkpoint_1550.pt``,
  "SampleCNN (48, 1550)"): the SimCLR module's state dict, the encoder's blocks named
  ``encoder.conv1`` .. ``encoder.conv11``, each an nn.Sequential whose [0] is the Conv1d and [1]
  the BatchNorm1d; the projection head under ``projector.*``.
- ``clmr-2.0`` (tag 2.0, modules/sample_cnn.py and modules/simclr.py; the "SampleCNN (96, 10000)"
  release): the same modules, held in one ``encoder.sequential`` list: ``encoder.sequential.0``
  the stem, ``.1`` .. ``.9`` the pooled blocks, ``.10`` the last conv; ``projector.0.weight`` and
  ``projector.2.weight`` the head (Linear, ReLU, Linear, no biases).
- ``clmr-lightning`` (tag 2.1 and master, clmr/modules/contrastive_learning.py; loaded by
  clmr/utils/checkpoint.py ``load_encoder_checkpoint``): a PyTorch Lightning checkpoint, a dict with
  ``pytorch-lightning_version`` and a ``state_dict`` in which the encoder is ``model.encoder.*``
  (the 2.0 names below it; the module holds the same encoder again as ``encoder.*``, which CLMR's
  loader ignores, as this one does).

All three are the same network as encoders/samplecnn.py: stem Conv1d(1, 128, k3, s3) + BN + ReLU,
nine Conv1d(k3, p1) + BN + ReLU + MaxPool(3) blocks, Conv1d(512, 512, k3, p1) + BN + ReLU, with the
same channels (1.0 spells MaxPool1d(3, stride=3), 2.0 MaxPool1d(stride, stride=stride) with
strides 3 at 22,050 Hz: the same pooling). Only the names differ: ours is one flat nn.Sequential
``layers``, so CLMR block k's conv is our ``layers.{j}`` and its batch norm ``layers.{j+1}``, with j =
0 for the stem, 3 + 4 (k - 1) for pooled block k (four modules each: conv, BN, ReLU, pool) and 39
for the last conv. The head CLMR removes (``fc``, replaced by Identity for contrastive training and
zeroed by its own loader) and the projection head are not encoder weights and are left out; every
other key must map, and every tensor must have our shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

LIGHTNING_VERSION_KEY = "pytorch-lightning_version"  # Lightning writes it into every checkpoint
BLOCKS = 11  # stem, nine pooled blocks, last conv
CONV_PARAMETERS = ("weight", "bias")
BN_PARAMETERS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
OPTIONAL = ("num_batches_tracked",)  # BN's step counter: unused in eval, absent in PyTorch < 0.4.1 files


@dataclass(frozen=True)
class Layout:
    """One CLMR checkpoint layout: its name, the row label of its runs, where the encoder's keys are."""

    name: str
    label: str  # the table's row: "clmr (released 2.0)"
    source: str  # where in Spijkervet/CLMR the layout comes from
    encoder_prefix: str  # the prefix of the encoder's keys in the state dict
    block_pattern: str  # the name of CLMR block k (0-based) below the prefix
    ignored_prefixes: tuple[str, ...]  # not encoder weights: the heads (and Lightning's duplicates)


LAYOUTS = {
    layout.name: layout
    for layout in (
        Layout("clmr-1.0", "released 1.0", "Spijkervet/CLMR tag 1.0, modules/sample_cnn_59049.py, model.py",
               "encoder.", "conv{n}", ("projector.",)),
        Layout("clmr-2.0", "released 2.0", "Spijkervet/CLMR tag 2.0, modules/sample_cnn.py, modules/simclr.py",
               "encoder.", "sequential.{k}", ("projector.",)),
        Layout("clmr-lightning", "Lightning checkpoint",
               "Spijkervet/CLMR master, clmr/modules/contrastive_learning.py, clmr/utils/checkpoint.py",
               "model.encoder.", "sequential.{k}", ("",)),  # CLMR's loader takes model.encoder.* only
    )
}
HEAD_KEYS = re.compile(r"fc\.(weight|bias)")  # SampleCNN's classifier: not part of the encoder


def our_index(block: int) -> int:
    """Index in SampleCNN.layers of CLMR block ``block``'s conv (its batch norm is the next one)."""
    if block == 0:
        return 0
    if block == BLOCKS - 1:
        return 3 + 4 * (BLOCKS - 2)  # 39
    return 3 + 4 * (block - 1)


def detect_layout(content: Any) -> tuple[Layout, Mapping[str, Any]] | None:
    """The layout of a loaded checkpoint and its state dict; None when it is none of CLMR's."""
    if not isinstance(content, Mapping):
        return None
    if LIGHTNING_VERSION_KEY in content and isinstance(content.get("state_dict"), Mapping):
        return LAYOUTS["clmr-lightning"], content["state_dict"]
    keys = [key for key in content if isinstance(key, str)]
    if any(key.startswith("encoder.conv") for key in keys):
        return LAYOUTS["clmr-1.0"], content
    if any(key.startswith("encoder.sequential.") for key in keys):
        return LAYOUTS["clmr-2.0"], content
    return None


@dataclass(frozen=True)
class Mapped:
    """A CLMR state dict renamed to SampleCNN's keys, and what did not fit."""

    state: dict[str, Tensor]  # SampleCNN's keys ("layers.0.weight", ...)
    origin: dict[str, str]  # SampleCNN's key -> the file's key it came from (for messages)
    missing: list[str]  # CLMR keys the file lacks
    unexpected: list[str]  # keys of the file that are neither encoder weights nor a known head
    ignored: list[str]  # heads left out on purpose (projector, fc, Lightning's other entries)


def map_to_samplecnn(layout: Layout, state: Mapping[str, Any]) -> Mapped:
    """Rename ``state``'s encoder keys to SampleCNN's; list what is missing, unexpected, ignored."""
    renames: dict[str, str] = {}
    for block in range(BLOCKS):
        name = layout.block_pattern.format(k=block, n=block + 1)
        ours = our_index(block)
        for module, parameters, offset in ((0, CONV_PARAMETERS, 0), (1, BN_PARAMETERS, 1)):
            for parameter in parameters:
                renames[f"{layout.encoder_prefix}{name}.{module}.{parameter}"] = f"layers.{ours + offset}.{parameter}"
    mapped: dict[str, Tensor] = {}
    origin: dict[str, str] = {}
    unexpected, ignored = [], []
    for key, value in state.items():
        if key in renames and isinstance(value, Tensor):
            mapped[renames[key]] = value
            origin[renames[key]] = key
        elif isinstance(key, str) and key.startswith(layout.encoder_prefix) and \
                HEAD_KEYS.fullmatch(key[len(layout.encoder_prefix):]):
            ignored.append(key)
        elif isinstance(key, str) and not key.startswith(layout.encoder_prefix) and \
                key.startswith(layout.ignored_prefixes):
            ignored.append(key)
        else:
            unexpected.append(str(key))
    missing = [key for key, ours in renames.items() if ours not in mapped and key.rsplit(".", 1)[1] not in OPTIONAL]
    return Mapped(mapped, origin, missing, unexpected, ignored)
