"""``--encoder hear:MODULE[:WEIGHTS]``: any installed HEAR 2021 module as a frozen encoder.

    bench run --method frozen --encoder hear:openl3_hear --task mtat
    bench run --method frozen --encoder hear:my_module:/path/weights.pt --task nsynth

The module (the HEAR common API, see hear/api.py) is imported, its ``load_model(WEIGHTS)`` called,
and the model wrapped as an :class:`~ssl_music_bench.contracts.encoder.Encoder`, registered under a
name that can be part of file names: ``hear-MODULE`` (``hear-MODULE-<sha256[:8]>`` with a weights
file, so two weights of one module are two rows). It takes the raw wave at the model's
``sample_rate``; its embedding is ``get_scene_embeddings`` of each crop, with ``scene_embedding_size``
dimensions. The protocol's probe chunks every clip into crops of CROP_SECONDS (4 s: the length of
an NSynth note, and HEAR's scene clips are seconds long); each crop is one call of
``get_scene_embeddings``, and the probe averages the crops' scores as for every encoder.

Only the ``frozen`` method pairs with it (hear/frozen.py): the module's network is the authors',
trained already; a pretext method or the supervised baseline would have to train it. The model's
state dict is stored as the frozen method's checkpoint, so its embeddings are cached under the
hash of the weights. The name does not change with the module's code: after upgrading a module,
clear its cache (`bench cache clear --method frozen`).
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor, nn

from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.errors import BenchError

PREFIX = "hear:"
CROP_SECONDS = 4.0
API = ("load_model", "get_scene_embeddings", "get_timestamp_embeddings")


class HearEncoder(Encoder):
    """A HEAR module's model as an encoder (subclassed per module by :func:`register_hear_encoder`)."""

    input_kind = "wave"
    frozen_only: ClassVar[bool] = True  # pairs only with the frozen method (contracts/compatibility.py)
    module_name: ClassVar[str]
    weights_path: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        module = importlib.import_module(self.module_name)
        self.hear_module = module  # a Python module, not an nn.Module: plain attribute
        self.model = _load(module, self.weights_path)

    def frontend(self, wave: Tensor) -> Tensor:
        self.check_input(wave)
        return wave

    def frames(self, features: Tensor) -> Tensor:
        return self.hear_module.get_scene_embeddings(features, self.model).float().unsqueeze(1)

    def pool(self, frames: Tensor) -> Tensor:
        return frames.mean(dim=1)


def _load(module: Any, weights: str) -> nn.Module:
    model = module.load_model(weights) if weights else module.load_model()
    if not isinstance(model, nn.Module):
        raise BenchError(f"The HEAR module {module.__name__}'s load_model returned a {type(model).__name__}; this "
                         "benchmark runs PyTorch models (a torch.nn.Module), not TensorFlow ones.")
    return model.eval()


def register_hear_encoder(option: str) -> str:
    """Register the HEAR module named by ``MODULE[:WEIGHTS]`` (once) and return its encoder name."""
    from ssl_music_bench.contracts.registry import ENCODERS, register_encoder
    from ssl_music_bench.hear.frozen import ensure_registered

    ensure_registered()
    module_name, _, weights = option.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BenchError(f"--encoder {PREFIX}{option}: the HEAR module {module_name!r} cannot be imported ({error}). "
                         "Install it (pip install ...) or put its folder on PYTHONPATH.") from error
    lacking = [name for name in API if not callable(getattr(module, name, None))]
    if lacking:
        raise BenchError(f"The module {module_name} is not a HEAR 2021 module: it lacks {', '.join(lacking)} (the "
                         f"API: {', '.join(API)}; https://hearbenchmark.com).")
    weights_path, suffix = "", ""
    if weights:
        path = Path(weights).expanduser()
        if not path.exists():
            raise BenchError(f"--encoder {PREFIX}{option}: the weights {weights} do not exist.")
        weights_path, suffix = str(path.resolve()), "-" + _content_hash(path)[:8]
    name = f"hear-{module_name}{suffix}"
    if name in ENCODERS:
        return name
    model = _load(module, weights_path)
    rate, size = getattr(model, "sample_rate", None), getattr(model, "scene_embedding_size", None)
    if not isinstance(rate, int) or not isinstance(size, int) or rate <= 0 or size <= 0:
        raise BenchError(f"The HEAR model of {module_name} must state sample_rate and scene_embedding_size as whole "
                         f"numbers (it has {rate!r} and {size!r}).")
    attributes = {"sample_rate": rate, "crop_samples": round(CROP_SECONDS * rate), "embed_dim": size,
                  "frame_dim": size, "sequence_hop": round(CROP_SECONDS * rate), "module_name": module_name,
                  "weights_path": weights_path, "__doc__": f"HEAR module {module_name} (frozen, as published)."}
    cls = type(f"Hear_{module_name.replace('.', '_')}", (HearEncoder,), attributes)
    version = getattr(module, "__version__", "")
    register_encoder(name, paper=f"HEAR 2021 module {module_name} {version}".strip())(cls)
    return name


def _content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()
