"""Pretrained checkpoints: safetensors weights plus a JSON config, content-addressed.

A checkpoint is keyed by everything that determines it (method and its config, encoder,
pretraining data, protocol and its hash, seed), so a second run that needs the same pretraining
reuses it. Weights are loaded without pickle, and only after their content hash matches the
one stored in the config when they were written (a flipped byte or a truncated file is refused,
never used). Both files are written to a temporary directory that is renamed into place, so an
interrupted run never leaves a half-written checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ssl_music_bench.io import published_directory

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def checkpoint_key(spec: dict[str, Any]) -> str:
    """Short stable hash of the JSON of everything that determines the weights."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resume_directory(directory: Path) -> Path:
    """Where an unfinished pretraining of ``directory``'s spec keeps its resume checkpoint."""
    return directory.with_name(directory.name + ".resume")


def lock_path(directory: Path) -> Path:
    """The lock file held while one process checks for, or pretrains and saves, ``directory``."""
    return directory.with_name(directory.name + ".lock")


class CorruptCheckpoint(Exception):
    """A stored checkpoint that cannot be used: unreadable, altered since it was written, or not
    the model's weights. The message says which."""


def is_complete(directory: Path) -> bool:
    return (directory / WEIGHTS).is_file() and (directory / CONFIG).is_file()


def save_checkpoint(directory: Path, model: nn.Module, config: dict[str, Any]) -> str:
    """Write weights and config atomically; return the weights' content hash."""
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    with published_directory(directory) as partial:
        save_file(state, str(partial / WEIGHTS))
        sha = file_sha256(partial / WEIGHTS)
        (partial / CONFIG).write_text(json.dumps({**config, "weights_sha256": sha}, indent=2, default=str))
    return sha


def load_checkpoint(directory: Path, model: nn.Module) -> dict[str, Any]:
    """Load weights (strictly: every tensor must match) and return the stored config, whose
    ``weights_sha256`` is the hash of the weights just verified.

    Raises :class:`CorruptCheckpoint` when the config is unreadable, the weights' hash differs
    from the stored one, or the tensors are not the model's; the model may then be partly
    overwritten (a strict load copies the tensors that fit before it refuses), so build it anew.
    """
    try:
        config = json.loads((directory / CONFIG).read_text())
        stored = config["weights_sha256"]
        actual = file_sha256(directory / WEIGHTS)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise CorruptCheckpoint(f"its {CONFIG} is unreadable ({type(error).__name__}: {error})") from error
    if actual != stored:
        raise CorruptCheckpoint(f"its {WEIGHTS} has changed since it was written (sha256 {actual[:12]}..., "
                                f"stored {str(stored)[:12]}...)")
    try:
        model.load_state_dict(load_file(str(directory / WEIGHTS)), strict=True)
    except (SafetensorError, OSError, RuntimeError) as error:
        raise CorruptCheckpoint(f"its weights do not fit the model ({str(error).strip().splitlines()[0]})") from error
    return {**config, "weights_sha256": actual}
