"""Batch-norm statistics recomputed for the evaluated weights (train/batch_norm_statistics.py).

Checked against a naive reference written here: each batch-norm layer's running mean and
variance must be the equal-weight average, over the batches of crops, of the per-batch mean and
unbiased variance of that layer's input, with the network normalising by batch statistics and
without stochastic depth or dropout. Then on a real run: the saved checkpoint holds statistics
recomputed for its final weights, and the record says so.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.contracts.registry import ENCODERS, TASKS
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run import run_benchmark
from ssl_music_bench.run_spec import RunOptions, RunSpec
from ssl_music_bench.train.batch_norm_statistics import BatchNormCalibration, batch_norm_layers
from ssl_music_bench.train.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def notes(shared_home: Path, tiny_protocol_file: Path):
    return TASKS.get("synth-instrument").obj().load(shared_home, load_protocol(str(tiny_protocol_file)))


def naive_statistics(encoder: nn.Module, batches: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer: the mean over batches of its input's per-channel batch mean and unbiased variance."""
    layers = batch_norm_layers(encoder)
    seen: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {id(layer): [] for layer in layers}

    def record(layer: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].transpose(0, 1).reshape(inputs[0].shape[1], -1)  # channels x (batch and positions)
        seen[id(layer)].append((x.mean(dim=1), x.var(dim=1, unbiased=True)))

    hooks = [layer.register_forward_pre_hook(record) for layer in layers]
    encoder.eval()
    for layer in layers:
        layer.train()  # normalise by the batch, as in training
    with torch.no_grad():
        for batch in batches:
            encoder(batch)
    for hook in hooks:
        hook.remove()
    encoder.eval()
    return [(torch.stack([m for m, _ in seen[id(layer)]]).mean(0), torch.stack([v for _, v in seen[id(layer)]]).mean(0))
            for layer in layers]


@pytest.mark.parametrize("name", ["effnet", "samplecnn"])
def test_recomputed_statistics_are_the_equal_weight_average_of_the_batches(notes, name: str) -> None:
    torch.manual_seed(0)
    encoder = ENCODERS.get(name).obj()
    calibration = BatchNormCalibration(notes.store, notes.indices["train"], crops=12, batch_size=4, seed=3,
                                       encoder=encoder)
    batches = [calibration.crops[k:k + 4] for k in range(0, 12, 4)]
    assert batches[0].shape == (4, encoder.crop_samples)
    weights = {key: value.clone() for key, value in encoder.state_dict().items() if "running" not in key
               and "num_batches" not in key}
    momenta = [layer.momentum for layer in batch_norm_layers(encoder)]
    encoder.train()
    calibration.apply(encoder)
    assert encoder.training and all(layer.training for layer in batch_norm_layers(encoder))  # modes as they were
    assert [layer.momentum for layer in batch_norm_layers(encoder)] == momenta
    for key, value in encoder.state_dict().items():
        if key in weights:
            assert torch.equal(value, weights[key]), key  # only the statistics change
    expected = naive_statistics(copy.deepcopy(encoder), batches)
    for layer, (mean, var) in zip(batch_norm_layers(encoder), expected):
        assert torch.allclose(layer.running_mean, mean, rtol=1e-4, atol=1e-5)
        assert torch.allclose(layer.running_var, var, rtol=1e-3, atol=1e-5)


def test_the_statistics_ignore_the_history_and_the_random_state(notes) -> None:
    """The same crops give the same statistics whatever the running averages held before and
    whatever the global generator's state (no stochastic depth or dropout while collecting)."""
    torch.manual_seed(0)
    encoder = ENCODERS.get("effnet").obj()
    calibration = BatchNormCalibration(notes.store, notes.indices["train"], crops=8, batch_size=4, seed=0,
                                       encoder=encoder)
    torch.manual_seed(1)
    calibration.apply(encoder)
    first = [layer.running_var.clone() for layer in batch_norm_layers(encoder)]
    for layer in batch_norm_layers(encoder):
        layer.running_var.mul_(7.0)
    torch.manual_seed(2)
    calibration.apply(encoder)
    assert all(torch.equal(a, layer.running_var) for a, layer in zip(first, batch_norm_layers(encoder)))


def test_the_protocol_refuses_a_negative_number_of_crops(tmp_path: Path, tiny_protocol_file: Path) -> None:
    text = tiny_protocol_file.read_text().replace("log_every_steps = 1", "log_every_steps = 1\nbatch_norm_crops = -1")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(BenchError, match="batch_norm_crops"):
        load_protocol(str(path))


def test_a_run_saves_the_statistics_of_its_final_weights(home: Path, tiny_protocol_file: Path) -> None:
    protocol = load_protocol(str(tiny_protocol_file))
    protocol = dataclasses.replace(protocol, pretrain=dataclasses.replace(protocol.pretrain, batch_norm_crops=8))
    spec = RunSpec("cola", "effnet", protocol, task="synth-genre", seed=0)
    record, _ = run_benchmark(spec, home, RunOptions(progress=False))
    assert record["pretraining"]["batch_norm_statistics"] == {"crops": 8, "batch_size": 4, "data": "synth-tags"}

    stored = spec.new_method()
    load_checkpoint(spec.checkpoint_directory(home), stored)
    again = spec.new_method()
    again.load_state_dict(stored.state_dict())
    data = TASKS.get("synth-tags").obj().load(home, protocol)
    BatchNormCalibration(data.store, data.indices["train"], 8, 4, 0, again.encoder).apply(again.encoder)
    for saved, recomputed in zip(batch_norm_layers(stored.encoder), batch_norm_layers(again.encoder)):
        assert torch.allclose(saved.running_mean, recomputed.running_mean, atol=1e-6)
        assert torch.allclose(saved.running_var, recomputed.running_var, rtol=1e-5, atol=1e-6)
    # the untrained floor gets the same treatment: its statistics are those of the data, not 0 and 1
    floor, _ = run_benchmark(RunSpec("random-init", "effnet", protocol, task="synth-genre", seed=0), home,
                             RunOptions(progress=False))
    assert floor["pretraining"]["batch_norm_statistics"]["crops"] == 8
    assert json.dumps(floor)  # a plain JSON record
