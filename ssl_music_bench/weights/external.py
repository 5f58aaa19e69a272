"""External weights for a run: a released checkpoint evaluated under the protocol's probe.

    bench run --method clmr --encoder samplecnn --task mtat --weights clmr_checkpoint_10000.pt

replaces pretraining with the file's weights (train/pretrained.py); embedding, probe and record
are the protocol's, so the row (``clmr (released 2.0)``) sits beside the rows this benchmark
trained. The file is read and checked once, when the run is described (before any work): its
layout is recognised from its keys, every encoder tensor must map onto the encoder with its shape,
and a file that does not fit is refused with the missing and unexpected keys listed. The record
stores the file's sha256, its layout and the label; embeddings are cached under that sha256.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ssl_music_bench.errors import BenchError
from ssl_music_bench.train.checkpoint import file_sha256
from ssl_music_bench.weights.clmr_layouts import LAYOUTS, Layout, Mapped, detect_layout, map_to_samplecnn
from ssl_music_bench.weights.read import read_weights_file

# Which method and encoder a layout's weights are (CLMR's: SimCLR's encoder, a SampleCNN). A run
# with other ones is refused: the file holds no weights for another network.
LAYOUT_METHOD, LAYOUT_ENCODER = "clmr", "samplecnn"
LABEL_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,47}")
SHOWN = 8  # keys listed in a refusal, per kind


@dataclass(frozen=True)
class ExternalWeights:
    """A weights file, checked: where it is, its sha256, its layout, the row's label, and the
    encoder state dict it maps to (not compared: the sha256 stands for it)."""

    path: str
    sha256: str
    layout: str
    label: str
    ignored_keys: int  # heads left out (projection, classifier): counted in the record
    encoder_state: dict[str, Tensor] = field(compare=False, repr=False)

    def describe(self) -> dict[str, Any]:
        """The record's ``weights`` entry."""
        return {"path": self.path, "sha256": self.sha256, "layout": self.layout, "label": self.label,
                "source": LAYOUTS[self.layout].source, "ignored_keys": self.ignored_keys}


def load_external_weights(path: str | Path, label: str | None = None) -> ExternalWeights:
    """Read, recognise and check a weights file (see the module docstring); BenchError when it does not fit."""
    from ssl_music_bench.contracts.registry import ENCODERS

    path = Path(path).expanduser()
    content = read_weights_file(path)
    found = detect_layout(content)
    if found is None:
        raise BenchError(
            f"The weights file {path} is not in a CLMR layout this benchmark knows: {_first_keys(content)}. "
            f"Known layouts (Spijkervet/CLMR): {', '.join(_layout_words())}. Give a checkpoint of one of these."
        )
    layout, state = found
    mapped = map_to_samplecnn(layout, state)
    expected = {key: tuple(value.shape) for key, value in ENCODERS.get(LAYOUT_ENCODER).obj().state_dict().items()}
    wrong = [f"{mapped.origin[key]} ({list(value.shape)}, expected {list(expected[key])})"
             for key, value in mapped.state.items() if tuple(value.shape) != expected.get(key)]
    if mapped.missing or mapped.unexpected or wrong:
        raise BenchError(_mismatch_message(path, layout, mapped, wrong))
    if label is not None and not LABEL_RULE.fullmatch(label):
        raise BenchError(f"The weights label {label!r} cannot name a row: it is 1-48 letters, digits, spaces, '.', "
                         f"'_', '+' or '-', starting with a letter or digit (e.g. --weights-label \"released 2.0\").")
    state_dict = {key: value.detach().clone() for key, value in mapped.state.items()}
    for key in expected.keys() - state_dict.keys():  # only the optional counters can be absent here
        state_dict[key] = torch.zeros((), dtype=torch.long)
    return ExternalWeights(str(path.resolve()), file_sha256(path), layout.name, label or layout.label,
                           len(mapped.ignored), state_dict)


def check_weights_pairing(weights: ExternalWeights, method: str, encoder: str) -> None:
    """The file's weights are a CLMR SampleCNN: refuse a run of another method or encoder."""
    if (method, encoder) != (LAYOUT_METHOD, LAYOUT_ENCODER):
        raise BenchError(
            f"The weights file {weights.path} holds a {LAYOUT_METHOD} + {LAYOUT_ENCODER} encoder (layout "
            f"{weights.layout}), so it can only be evaluated as --method {LAYOUT_METHOD} --encoder {LAYOUT_ENCODER}, "
            f"not --method {method} --encoder {encoder}."
        )


def _mismatch_message(path: Path, layout: Layout, mapped: Mapped, wrong: list[str]) -> str:
    parts = [f"{what} ({len(keys)}): {', '.join(keys[:SHOWN])}{', ...' if len(keys) > SHOWN else ''}"
             for what, keys in (("missing keys", mapped.missing), ("unexpected keys", mapped.unexpected),
                                ("tensors of the wrong shape", wrong)) if keys]
    return (
        f"The weights file {path} looks like the {layout.name} layout ({layout.source}) but does not fit "
        f"CLMR's SampleCNN: {'; '.join(parts)}. Nothing was run. A checkpoint of another network (another "
        f"encoder, CLMR-large, a 16 kHz or 8 kHz SampleCNN with other strides) cannot be evaluated as this "
        f"SampleCNN; give the 22,050 Hz SampleCNN checkpoint that CLMR released, or one trained with its code."
    )


def _first_keys(content: Any) -> str:
    if not isinstance(content, dict):
        return f"it holds a {type(content).__name__}, not a state dict"
    keys = [str(key) for key in content][:SHOWN]
    return f"its first keys are {', '.join(keys) or '(none)'}"


def _layout_words() -> list[str]:
    return [f"{layout.name} ({layout.encoder_prefix}{layout.block_pattern.format(k='K', n='N')}.*)"
            for layout in LAYOUTS.values()]
