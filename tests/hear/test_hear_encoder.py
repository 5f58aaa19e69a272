"""--encoder hear:MODULE[:WEIGHTS]: a HEAR 2021 module, written here, probed as a frozen encoder."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.registry import ENCODERS, METHODS
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
from ssl_music_bench.errors import BenchError

# A small HEAR module: fixed random filters, the mean magnitude of each as the embedding.
TINY_MODULE = '''
"""A tiny HEAR 2021 module for the tests."""
import torch
from torch import nn

__version__ = "0.1"


class TinyModel(nn.Module):
    sample_rate = 16000
    scene_embedding_size = 6
    timestamp_embedding_size = 6

    def __init__(self):
        super().__init__()
        self.filters = nn.Conv1d(1, 6, kernel_size=64, stride=32)
        with torch.no_grad():  # the same weights whatever the global seed: a published model
            generator = torch.Generator().manual_seed(0)
            self.filters.weight.copy_(torch.randn(6, 1, 64, generator=generator) / 8)
            self.filters.bias.zero_()


def load_model(model_file_path=""):
    model = TinyModel()
    if model_file_path:
        model.load_state_dict(torch.load(model_file_path, weights_only=True))
    return model


def get_scene_embeddings(audio, model):
    return model.filters(audio.unsqueeze(1)).abs().mean(dim=-1)


def get_timestamp_embeddings(audio, model):
    frames = model.filters(audio.unsqueeze(1)).abs().transpose(1, 2)
    times = torch.arange(frames.shape[1]) * 32 * 1000 / model.sample_rate + 2.0
    return frames, times.expand(audio.shape[0], -1)
'''


@pytest.fixture()
def hear_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    """A HEAR module importable under a name of its own; whatever it registered is removed after."""
    name = f"tinyhear_{request.node.name.split('[')[0][-20:]}"
    (tmp_path / f"{name}.py").write_text(TINY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(ENCODERS.names())
    yield name
    for registered in set(ENCODERS.names()) - before:
        ENCODERS.unregister(registered)
    METHODS.unregister("frozen")
    sys.modules.pop(name, None)


def test_a_hear_module_runs_as_a_frozen_encoder(
        hear_module: str, shared_home: Path, tiny_protocol_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.contracts.registry import TASKS
    from ssl_music_bench.data.audio import resample
    from ssl_music_bench.evaluate.cache import embedding_key, load_embeddings
    from ssl_music_bench.evaluate.embed import chunk

    args = ["run", "--method", "frozen", "--encoder", f"hear:{hear_module}", "--task", "synth-genre",
            "--protocol", str(tiny_protocol_file), "--no-progress", "--home", str(shared_home)]
    assert main(args) == 0, capsys.readouterr().err
    encoder = f"hear-{hear_module}"
    record = json.loads((shared_home / "records" / "test-tiny" / f"frozen__{encoder}__synth-genre__seed0__corpus{SYNTH_VERSION}.json")
                        .read_text())
    assert (record["method"], record["encoder"], record["baseline"]) == ("frozen", encoder, None)
    assert record["encoder_parameters"] == 6 * 64 + 6
    assert 0.0 <= record["metrics"]["accuracy"] <= 1.0
    # the probe's features are the module's scene embeddings of each 4 s crop at its 16 kHz
    data = TASKS.get("synth-genre").obj().load(shared_home, load_protocol(str(tiny_protocol_file)))
    indices = data.indices["valid"]
    ids = [data.store.items[i].id for i in indices]
    key = embedding_key(record["pretraining"]["weights_sha256"], data.manifest_sha256, ids, 16_000, 64_000)
    cached = load_embeddings(shared_home, key)
    assert cached is not None
    module = __import__(hear_module)
    crops = torch.cat([chunk(resample(torch.from_numpy(data.store.read(i)), data.store.sample_rate, 16_000), 64_000)
                       for i in indices])
    expected = module.get_scene_embeddings(crops, module.load_model())
    assert torch.allclose(cached[0], expected.detach(), rtol=1e-5, atol=1e-6)
    assert main(args) == 0  # again: the stored model and its embeddings are reused
    assert json.loads((shared_home / "records" / "test-tiny" / f"frozen__{encoder}__synth-genre__seed0__corpus{SYNTH_VERSION}.json")
                      .read_text())["reused_embeddings"] == ["train", "valid", "test"]


def test_methods_that_train_refuse_a_hear_encoder(hear_module: str) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.run_spec import RunSpec

    protocol = load_protocol("cpu")
    for method in ("clmr", "supervised", "random-init"):
        with pytest.raises(BenchError, match="--method frozen"):
            RunSpec(method, f"hear:{hear_module}", protocol, task="synth-genre")
    with pytest.raises(BenchError, match="random-init"):
        RunSpec("frozen", "samplecnn", protocol, task="synth-genre")
    assert f"hear-{hear_module}" not in __import__("ssl_music_bench.contracts.compatibility", fromlist=["x"]) \
        .compatible_encoders("clmr")


def test_weights_are_given_to_load_model_and_name_the_encoder(hear_module: str, tmp_path: Path) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.run_spec import RunSpec

    module = __import__(hear_module)
    model = module.load_model()
    with torch.no_grad():
        model.filters.weight.mul_(2)
    weights = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), weights)
    spec = RunSpec("frozen", f"hear:{hear_module}:{weights}", load_protocol("cpu"), task="synth-genre")
    assert spec.encoder.startswith(f"hear-{hear_module}-") and len(spec.encoder) == len(f"hear-{hear_module}-") + 8
    encoder = spec.new_method().encoder
    assert torch.equal(encoder.model.filters.weight, model.filters.weight)
    wave = torch.randn(2, 64_000)
    assert torch.allclose(encoder(wave), module.get_scene_embeddings(wave, model))


def test_a_module_without_the_api_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not_hear_module.py").write_text("def load_model():\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from ssl_music_bench.contracts.registry import resolve_encoder_name

    try:
        with pytest.raises(BenchError, match="lacks get_scene_embeddings, get_timestamp_embeddings"):
            resolve_encoder_name("hear:not_hear_module")
        with pytest.raises(BenchError, match="cannot be imported"):
            resolve_encoder_name("hear:no_such_module_anywhere")
    finally:
        METHODS.unregister("frozen")
        sys.modules.pop("not_hear_module", None)
