"""Reading a weights file someone else wrote, without running code from it.

A released checkpoint is a file from the internet: a plain ``torch.load`` unpickles it, and
unpickling can run any code the file names. So a file is read either as safetensors (tensors
only) or with ``torch.load(weights_only=True)``, PyTorch's restricted unpickler that builds only
tensors, containers and numbers. PyTorch Lightning checkpoints (CLMR 2.1 and later) also hold the
run's hyperparameters as an ``argparse.Namespace`` or Lightning's ``AttributeDict``: plain
containers of names and values, allowed by name (the AttributeDict read as a plain dict, which
the restricted unpickler can fill); nothing else is.
"""

from __future__ import annotations

import argparse
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ssl_music_bench.errors import BenchError

SAFETENSORS_SUFFIX = ".safetensors"


# Lightning's AttributeDict (a dict subclass, under each of its module paths across versions): the
# restricted unpickler refuses to fill any dict subclass, so the name is read as a plain dict.
ATTRIBUTE_DICTS = ("pytorch_lightning.utilities.parsing.AttributeDict",
                   "lightning.pytorch.utilities.parsing.AttributeDict",
                   "lightning.fabric.utilities.data.AttributeDict", "lightning_fabric.utilities.data.AttributeDict")


def _hyperparameter_containers() -> list[Any]:
    """What a Lightning checkpoint's hyperparameters are pickled as, allowed by name: plain containers."""
    return [argparse.Namespace, *((dict, name) for name in ATTRIBUTE_DICTS)]


def read_weights_file(path: Path) -> Any:
    """The file's content: a dict of tensors (safetensors), or whatever ``torch.load`` with
    ``weights_only=True`` builds (a state dict, or a Lightning checkpoint's dict). A file that is
    missing, unreadable, or would need arbitrary code to unpickle is a BenchError."""
    if not path.is_file():
        raise BenchError(f"The weights file {path} does not exist. --weights expects a checkpoint file: a CLMR "
                         "release (.pt, .ckpt) or a .safetensors file.")
    if path.suffix == SAFETENSORS_SUFFIX:
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as error:
            raise BenchError(f"The weights file {path} is not a readable safetensors file ({error}). Check that it "
                             "was copied whole, or give the original .pt checkpoint.") from error
    source: Path | io.BytesIO = _inner_checkpoint(path) if path.suffix == ".zip" else path
    try:
        with torch.serialization.safe_globals(_hyperparameter_containers()):
            return torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BenchError(
            f"The weights file {path} cannot be read safely: it is read with torch.load(weights_only=True), which "
            f"builds only tensors and plain containers, and the file needs more ({first_line}). Weights files are "
            f"never unpickled with code execution. Convert it where you trust it: load it there and save "
            f"model.state_dict() with torch.save, or with safetensors.torch.save_file."
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        raise BenchError(f"The weights file {path} is not a readable PyTorch checkpoint ({type(error).__name__}: "
                         f"{error}). Check that it was downloaded whole.") from error


def _inner_checkpoint(path: Path) -> io.BytesIO:
    """The one .pt/.ckpt inside a .zip (CLMR 2.0 is released as clmr_checkpoint_10000.zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            inner = [name for name in archive.namelist() if name.endswith((".pt", ".ckpt", ".pth"))]
            if len(inner) != 1:
                raise BenchError(f"The archive {path} holds {len(inner)} checkpoint files (.pt, .ckpt, .pth): "
                                 f"{', '.join(inner[:5]) or 'none'}. Unzip it and give the checkpoint with --weights.")
            return io.BytesIO(archive.read(inner[0]))
    except (zipfile.BadZipFile, OSError) as error:
        raise BenchError(f"The archive {path} is not a readable .zip ({error}); download it again.") from error
