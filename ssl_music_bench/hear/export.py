"""``bench export --hear``: a trained encoder as a HEAR 2021 module (see hear/api.py for the API).

    bench export --hear HOME/checkpoints/clmr-samplecnn-<key> --out hear_clmr/
    bench export --hear HOME/records/v1/clmr__samplecnn__mtat__seed0.json --out hear_clmr/
    bench export --hear clmr_checkpoint_10000.pt --out hear_clmr/        (a CLMR release, as --weights)

writes OUT/pyproject.toml and the package OUT/<name>/ (``__init__.py`` with the three functions,
``model.safetensors``, ``about.json``). ``pip install OUT`` (or PYTHONPATH=OUT) makes it
importable for hear-eval-kit (``python -m heareval.embeddings.runner <name>``) and the validator
(``hear-validator <name>``). Decision: the module imports ssl_music_bench (declared in its
pyproject) rather than carrying a copy of the encoders, so that the exported network is this
code's, not a second implementation that could drift; it needs no network (its weights are in
the package). The weights are checked where they are read: a checkpoint against the sha256 its
config stores, a release through the CLMR layouts (ssl_music_bench/weights/).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.errors import BenchError
from ssl_music_bench.hear.api import ABOUT, WEIGHTS, HearModel
from ssl_music_bench.hear.rebuild import rebuild_method
from ssl_music_bench.home import checkpoints_dir
from ssl_music_bench.io import published_directory, write_text_atomic
from ssl_music_bench.train.checkpoint import CONFIG, file_sha256, is_complete
from ssl_music_bench.train.checkpoint import WEIGHTS as CHECKPOINT_WEIGHTS

EXPORTED_BY = "ssl-music-bench bench export --hear"
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

MODULE_TEMPLATE = '''"""HEAR 2021 API module: {method} + {encoder}, exported by ssl-music-bench (`bench export --hear`).

Source weights: {source}. Scene embedding: the mean of the method's frozen probe features over
consecutive {crop_seconds:.3f} s crops; timestamp embeddings: one crop centred every {hop_ms:g} ms.
Needs the ssl-music-bench package (the encoder's code); no network. See about.json.
"""

from pathlib import Path

from ssl_music_bench.hear.api import HearModel, load_exported, scene_embeddings, timestamp_embeddings

HERE = Path(__file__).resolve().parent


def load_model(model_file_path: str = "") -> HearModel:
    """The model; its weights are this package's model.safetensors unless another file is given."""
    return load_exported(HERE, model_file_path)


def get_scene_embeddings(audio, model: HearModel):
    return scene_embeddings(audio, model)


def get_timestamp_embeddings(audio, model: HearModel):
    return timestamp_embeddings(audio, model)
'''

PYPROJECT_TEMPLATE = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist_name}"
version = "1.0.0"
description = "HEAR 2021 module: {method} + {encoder} exported by ssl-music-bench"
requires-python = ">=3.10"
dependencies = ["ssl-music-bench"]

[tool.setuptools]
packages = ["{name}"]

[tool.setuptools.package-data]
"{name}" = ["{weights}", "{about}"]
'''


def load_source(source: str, home: Path) -> tuple[Method, dict[str, Any]]:
    """The trained method named by ``source`` (a checkpoint folder or name, a run record, a CLMR
    weights file), its weights verified and loaded, and where it came from."""
    path = Path(source).expanduser()
    if path.is_dir() and is_complete(path):
        return _from_checkpoint(path)
    if path.is_file() and path.suffix == ".json":
        return _from_record(path, home)
    if path.is_file():
        from ssl_music_bench.weights import load_external_weights

        weights = load_external_weights(path)
        return _from_weights(weights)
    named = checkpoints_dir(home) / source
    if "/" not in source and is_complete(named):
        return _from_checkpoint(named)
    raise BenchError(
        f"Nothing to export at {source}: `bench export --hear` takes a checkpoint folder (HOME/checkpoints/<name>/, "
        f"or its name), a run record (HOME/records/<protocol>/<row>.json) or a CLMR weights file (.pt, .ckpt, "
        f".safetensors). `bench cache ls` lists the checkpoints under {home}."
    )


def _from_checkpoint(directory: Path) -> tuple[Method, dict[str, Any]]:
    try:
        config = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
        spec, stored = config["spec"], config["weights_sha256"]
        method_name, encoder_name = spec["method"], spec["encoder"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BenchError(f"The checkpoint {directory} has an unreadable {CONFIG} ({type(error).__name__}: {error}); "
                         "run the `bench run` that wrote it again.") from error
    actual = file_sha256(directory / CHECKPOINT_WEIGHTS)
    if actual != stored:
        raise BenchError(f"The checkpoint {directory} has changed since it was written (sha256 {actual[:12]}..., "
                         f"stored {str(stored)[:12]}...): it is not exported. Run its `bench run` again to rebuild it.")
    method = rebuild_method(method_name, encoder_name, spec.get("method_config", {}))
    state = load_file(str(directory / CHECKPOINT_WEIGHTS))
    if method.uses_task_labels:  # the supervised baseline: its task head is not built without the task
        state = {key: value for key, value in state.items() if key in method.state_dict()}
    try:
        method.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise BenchError(f"The checkpoint {directory} does not fit {method_name} + {encoder_name} as this version "
                         f"builds it ({str(error).strip().splitlines()[0]}).") from error
    return method, {"checkpoint": directory.name, "weights_sha256": actual}


def _from_record(path: Path, home: Path) -> tuple[Method, dict[str, Any]]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        weights, checkpoint = record.get("weights"), record["pretraining"].get("checkpoint")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise BenchError(f"{path} is not a readable run record ({type(error).__name__}: {error}).") from error
    if weights:
        from ssl_music_bench.weights import load_external_weights

        external = load_external_weights(weights["path"], weights.get("label"))
        if external.sha256 != weights["sha256"]:
            raise BenchError(f"The weights file {weights['path']} of the record {path} has changed since the run "
                             f"(sha256 {external.sha256[:12]}..., recorded {weights['sha256'][:12]}...).")
        return _from_weights(external)
    directory = checkpoints_dir(home) / str(checkpoint)
    if not checkpoint or not is_complete(directory):
        raise BenchError(f"The checkpoint {checkpoint} of the record {path} is not under {checkpoints_dir(home)}: give "
                         "--home of the run, or run it again there.")
    return _from_checkpoint(directory)


def _from_weights(weights: Any) -> tuple[Method, dict[str, Any]]:
    from ssl_music_bench.weights.external import LAYOUT_ENCODER, LAYOUT_METHOD

    method = rebuild_method(LAYOUT_METHOD, LAYOUT_ENCODER, {})
    method.encoder.load_state_dict(weights.encoder_state, strict=True)
    return method, {"weights": weights.describe(), "weights_sha256": weights.sha256}


def export_hear(source: str, out: Path, home: Path, name: str | None = None, hop_ms: float = 50.0) -> Path:
    """Write the HEAR module of ``source`` into ``out``; the package folder's path."""
    method, origin = load_source(source, home)
    method_name = _registered_name(method)
    encoder_name = _registered_name(method.encoder)
    name = name or re.sub(r"\W", "_", f"sslmb_{method_name}_{encoder_name}")
    if not MODULE_NAME.fullmatch(name):
        raise BenchError(f"--name {name!r} is not a Python module name (letters, digits and '_', not starting with "
                         "a digit).")
    model = HearModel(method, hop_ms)  # refuses a sample rate HEAR does not allow
    package = out / name
    _check_out(out, package)
    about = {"exported_by": EXPORTED_BY, "hear_api": "2021", "method": method_name, "encoder": encoder_name,
             "method_config": asdict(method.config), "source": origin, "sample_rate": model.sample_rate,
             "crop_samples": model.crop_samples, "hop_ms": hop_ms, "embedding_size": model.scene_embedding_size}
    state = {key: value.detach().cpu().contiguous() for key, value in method.state_dict().items()}
    described = origin.get("checkpoint") or origin.get("weights", {}).get("path", "?")
    with published_directory(package) as partial:
        save_file(state, str(partial / WEIGHTS))
        (partial / ABOUT).write_text(json.dumps({**about, "model_sha256": file_sha256(partial / WEIGHTS)}, indent=2))
        (partial / "__init__.py").write_text(MODULE_TEMPLATE.format(
            method=method_name, encoder=encoder_name, source=described,
            crop_seconds=model.crop_samples / model.sample_rate, hop_ms=hop_ms))
    write_text_atomic(out / "pyproject.toml", PYPROJECT_TEMPLATE.format(
        dist_name=name.replace("_", "-"), name=name, method=method_name, encoder=encoder_name, weights=WEIGHTS,
        about=ABOUT))
    return package


def _registered_name(piece: Any) -> str:
    from ssl_music_bench.contracts.registry import ENCODERS, METHODS

    registry = ENCODERS if not isinstance(piece, Method) else METHODS
    for entry in registry.entries():
        if entry.obj is type(piece):
            return entry.name
    raise BenchError(f"{type(piece).__name__} is not registered, so its export could not be rebuilt.")


def _check_out(out: Path, package: Path) -> None:
    """OUT is new, empty, or an earlier export (whose package is replaced); nothing else is overwritten."""
    if out.exists() and not out.is_dir():
        raise BenchError(f"--out {out} is a file; give a folder (new, or an earlier `bench export --hear` output).")
    earlier = package / ABOUT
    if package.exists():
        try:
            ours = json.loads(earlier.read_text(encoding="utf-8")).get("exported_by") == EXPORTED_BY
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise BenchError(f"{package} exists and is not an earlier `bench export --hear` output: it is not "
                             "replaced. Choose another --out or --name.")
