"""`bench export --hear`: the exported module passes the checks of the public HEAR validator
(hearvalidator 2021.0.2, hearvalidator/validate.py, restated in ``validate`` below) and its
embeddings are the method's probe features of the crops the module documents."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from ssl_music_bench.cli import main
from ssl_music_bench.errors import BenchError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "weights"))
from test_clmr_weights import clmr_blocks, layout_2_0, reference_forward  # noqa: E402

ACCEPTABLE_SAMPLE_RATE = [16000, 22050, 44100, 48000]  # hearvalidator 2021.0.2's list


def validate(module: ModuleType, model: torch.nn.Module, timestamp_seconds: float, scene_seconds: float,
             count: int = 2) -> None:
    """hearvalidator's checks, as its source states them (fewer clips: the validator's 16 and 8 take
    minutes with SampleCNN on a CPU): the functions and attributes exist, sizes are ints, outputs
    are float32 with one row per clip and the stated size, timestamps match the embeddings' first
    two dimensions and are evenly spaced (every step within 1e-3 ms of the mean)."""
    for function in ("load_model", "get_scene_embeddings", "get_timestamp_embeddings"):
        assert callable(getattr(module, function))
    assert isinstance(model, torch.nn.Module)
    assert model.sample_rate in ACCEPTABLE_SAMPLE_RATE
    assert isinstance(model.scene_embedding_size, int) and isinstance(model.timestamp_embedding_size, int)
    audio = torch.rand((count, int(timestamp_seconds * model.sample_rate))) * 2 - 1.0  # white noise in [-1, 1]
    embeddings, timestamps = module.get_timestamp_embeddings(audio, model)
    assert embeddings.dtype == torch.float32 and embeddings.shape[0] == count
    assert embeddings.shape[:2] == timestamps.shape
    assert embeddings.shape[2] == model.timestamp_embedding_size
    differences = torch.diff(timestamps)
    average = torch.mean(differences.float())
    assert average <= 50.0  # the validator warns above 50 ms
    assert torch.all(torch.abs(differences - average) < 1e-3)
    audio = torch.rand((count, int(scene_seconds * model.sample_rate))) * 2 - 1.0
    scene = module.get_scene_embeddings(audio, model)
    assert scene.dtype == torch.float32 and scene.shape == (count, model.scene_embedding_size)


def import_exported(package: Path) -> ModuleType:
    sys.path.insert(0, str(package.parent))
    try:
        sys.modules.pop(package.name, None)
        return importlib.import_module(package.name)
    finally:
        sys.path.remove(str(package.parent))


def test_export_of_a_clmr_release_passes_the_validators_checks(tmp_path: Path, home: Path) -> None:
    blocks = clmr_blocks(seed=4)
    weights = tmp_path / "clmr_checkpoint_10000.pt"
    torch.save({k: v.float() for k, v in layout_2_0(blocks).items()}, weights)
    out = tmp_path / "exported"
    assert main(["export", "--hear", str(weights), "--out", str(out), "--name", "clmr_release_hear"]) == 0
    package = out / "clmr_release_hear"
    assert {p.name for p in package.iterdir()} >= {"__init__.py", "model.safetensors", "about.json"}
    assert 'packages = ["clmr_release_hear"]' in (out / "pyproject.toml").read_text()
    module = import_exported(package)
    model = module.load_model()
    assert (model.sample_rate, model.scene_embedding_size, model.timestamp_embedding_size) == (22_050, 512, 512)
    for seconds in (1.07, 2.0):  # shorter than SampleCNN's 2.68 s crop: padded to one
        validate(module, model, timestamp_seconds=seconds, scene_seconds=seconds + 1.74, count=1)
    # values: a 1.07 s sound's scene embedding is CLMR's forward of it zero-padded to one crop
    sound = torch.rand(1, int(1.07 * 22_050)) * 2 - 1
    padded = torch.nn.functional.pad(sound, (0, 59_049 - sound.shape[1]))
    reference = reference_forward([{k: v.float().double() for k, v in b.items()} for b in blocks], padded.double())
    assert torch.allclose(module.get_scene_embeddings(sound, model).double(), reference, rtol=1e-4, atol=1e-5)
    # timestamps every 50 ms (1,102 samples) from 0; the one at 0.5 s is the crop centred on sample 551 * 20
    embeddings, timestamps = module.get_timestamp_embeddings(sound, model)
    assert timestamps.shape == (1, (sound.shape[1] - 1) // 1102 + 1)
    assert torch.allclose(timestamps[0, :3], torch.tensor([0.0, 1102 / 22.05, 2204 / 22.05]))
    centre = 10 * 1102
    window = torch.nn.functional.pad(sound, (29_524, 29_524))[:, centre: centre + 59_049]
    reference = reference_forward([{k: v.float().double() for k, v in b.items()} for b in blocks], window.double())
    assert torch.allclose(embeddings[0, 10].double(), reference[0], rtol=1e-4, atol=1e-5)
    # another weights file of the same method goes through load_model(model_file_path)
    assert module.load_model(str(package / "model.safetensors")).scene_embedding_size == 512


def test_export_of_a_checkpoint_and_of_its_run_record(tmp_path: Path, home: Path) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.run_spec import RunSpec
    from ssl_music_bench.train.checkpoint import save_checkpoint

    spec = RunSpec("cpc", "samplecnn", load_protocol("cpu"), overrides={"context_dim": "32"})
    method = spec.new_method()
    directory = spec.checkpoint_directory(home)
    save_checkpoint(directory, method, {"spec": spec.checkpoint_spec, "pretraining": {}})
    out = tmp_path / "cpc"
    assert main(["export", "--hear", str(directory), "--out", str(out)]) == 0
    module = import_exported(out / "sslmb_cpc_samplecnn")
    model = module.load_model()
    assert model.scene_embedding_size == 32  # CPC's probe features: its context, with the stored setting
    validate(module, model, timestamp_seconds=1.07, scene_seconds=3.74, count=1)
    sound = torch.rand(2, 59_049) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(module.get_scene_embeddings(sound, model), method.eval().features(sound), atol=1e-5)
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"pretraining": {"checkpoint": directory.name}, "weights": None}))
    again = tmp_path / "from-record"
    assert main(["export", "--hear", str(record), "--out", str(again), "--name", "cpc_again"]) == 0
    assert json.loads((again / "cpc_again" / "about.json").read_text())["source"]["checkpoint"] == directory.name
    # a folder that is not an earlier export is never overwritten
    (tmp_path / "foreign" / "cpc_again").mkdir(parents=True)
    (tmp_path / "foreign" / "cpc_again" / "mine.txt").write_text("keep")
    assert main(["export", "--hear", str(record), "--out", str(tmp_path / "foreign"), "--name", "cpc_again"]) == 2
    assert (tmp_path / "foreign" / "cpc_again" / "mine.txt").read_text() == "keep"
    # an earlier export is replaced
    assert main(["export", "--hear", str(record), "--out", str(again), "--name", "cpc_again"]) == 0


def test_a_changed_checkpoint_is_not_exported(tmp_path: Path, home: Path) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.hear.export import export_hear
    from ssl_music_bench.run_spec import RunSpec
    from ssl_music_bench.train.checkpoint import save_checkpoint

    spec = RunSpec("random-init", "samplecnn", load_protocol("cpu"))
    directory = spec.checkpoint_directory(home)
    save_checkpoint(directory, spec.new_method(), {"spec": spec.checkpoint_spec, "pretraining": {}})
    weights = directory / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(BenchError, match="has changed since it was written"):
        export_hear(str(directory), tmp_path / "out", home)
    with pytest.raises(BenchError, match="Nothing to export"):
        export_hear("no-such-checkpoint", tmp_path / "out", home)


@pytest.mark.skipif(not os.environ.get("HEAR_VALIDATOR"), reason="set HEAR_VALIDATOR to a hear-validator executable "
                    "(pip install hearvalidator pulls tensorflow: install it in a separate venv)")
def test_the_public_validator_accepts_an_export(tmp_path: Path, home: Path) -> None:
    weights = tmp_path / "clmr.pt"
    torch.save({k: v.float() for k, v in layout_2_0(clmr_blocks()).items()}, weights)
    assert main(["export", "--hear", str(weights), "--out", str(tmp_path / "out")]) == 0
    result = subprocess.run([os.environ["HEAR_VALIDATOR"], "sslmb_clmr_samplecnn", "-d", "cpu"], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(tmp_path / "out")}, timeout=1800)
    assert result.returncode == 0 and "Looks good!" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
