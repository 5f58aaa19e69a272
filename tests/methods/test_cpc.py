"""CPC: the InfoNCE loss against naive loops, the encoders' frame sequences, training, the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from ssl_music_bench.contracts.compatibility import compatible_encoders
from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.registry import ENCODERS
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
from ssl_music_bench.errors import BenchError
from ssl_music_bench.methods.cpc import CPC, CPCConfig, cpc_loss, info_nce, prediction_steps, sample_negatives


def naive_info_nce(predictions: Tensor, targets: Tensor, negatives: Tensor) -> Tensor:
    """One position at a time: -log exp(p.t) / (exp(p.t) + sum_n exp(p.n))."""
    flat_p, flat_t = predictions.reshape(-1, predictions.shape[-1]), targets.reshape(-1, targets.shape[-1])
    flat_n = negatives.reshape(-1, *negatives.shape[-2:])
    losses = []
    for p, t, ns in zip(flat_p, flat_t, flat_n):
        positive = torch.exp(torch.dot(p, t))
        losses.append(-torch.log(positive / (positive + sum(torch.exp(torch.dot(p, n)) for n in ns))))
    return torch.stack(losses).mean()


def naive_cpc_loss(z: Tensor, context: Tensor, predictors: nn.ModuleList, index: Tensor) -> Tensor:
    """Loop over k, b, t: W_k c_{b,t} scored against z_{b,t+k} and the pool rows index[b, t+k]."""
    batch, steps, dim = z.shape
    pool = z.reshape(-1, dim)
    per_k = []
    for k, predictor in enumerate(predictors, start=1):
        terms = []
        for b in range(batch):
            for t in range(steps - k):
                p = predictor.weight @ context[b, t]
                scores = torch.stack([p @ z[b, t + k]] + [p @ pool[i] for i in index[b, t + k]])
                terms.append(-torch.log_softmax(scores, dim=0)[0])
        per_k.append(torch.stack(terms).mean())
    return torch.stack(per_k).mean()


def test_info_nce_matches_naive_loop() -> None:
    generator = torch.Generator().manual_seed(0)
    predictions, targets = torch.randn(2, 5, 8, generator=generator), torch.randn(2, 5, 8, generator=generator)
    pool = torch.randn(10, 8, generator=generator)
    index = torch.randint(10, (2, 5, 4), generator=generator)
    negatives = pool[index]
    ours, reference = info_nce(predictions, targets, negatives), naive_info_nce(predictions, targets, negatives)
    assert torch.allclose(ours, reference, atol=1e-5)


def test_cpc_loss_matches_naive_loop() -> None:
    torch.manual_seed(0)
    z, context = torch.randn(3, 7, 6), torch.randn(3, 7, 5)
    predictors = nn.ModuleList(nn.Linear(5, 6, bias=False) for _ in range(3))
    index = sample_negatives(z, 4, torch.Generator().manual_seed(1))
    assert index.shape == (3, 7, 4) and 0 <= int(index.min()) and int(index.max()) < 21
    with torch.no_grad():
        ours, reference = cpc_loss(z, context, predictors, index), naive_cpc_loss(z, context, predictors, index)
    assert torch.allclose(ours, reference, atol=1e-5)
    with pytest.raises(ValueError, match="predicts 3 steps ahead but the sequence has only 3"):
        cpc_loss(z[:, :3], context[:, :3], predictors, index[:, :3])


def test_loss_is_chance_for_random_inputs_and_drops_for_a_perfect_prediction() -> None:
    negatives_count = 15
    generator = torch.Generator().manual_seed(0)
    unit = lambda *shape: nn.functional.normalize(torch.randn(*shape, generator=generator), dim=-1)  # noqa: E731
    predictions, targets, negatives = unit(4, 50, 64), unit(4, 50, 64), unit(4, 50, negatives_count, 64)
    chance = math.log(negatives_count + 1)
    assert info_nce(torch.zeros_like(predictions), targets, negatives).item() == pytest.approx(chance, abs=1e-6)
    random_loss = info_nce(predictions, targets, negatives).item()
    assert random_loss == pytest.approx(chance, abs=0.1)  # untrained: scores ~ 0, loss ~ log(N + 1)
    perfect = info_nce(predictions, predictions, negatives).item()
    assert perfect < random_loss - 0.5
    assert info_nce(10 * predictions, predictions, negatives).item() < 0.01  # confident and right


def test_sequence_api_shapes() -> None:
    samplecnn, effnet = ENCODERS.get("samplecnn").obj().eval(), ENCODERS.get("effnet").obj().eval()
    with torch.no_grad():
        assert samplecnn.sequence(samplecnn.frontend(torch.zeros(1, 59_049))).shape == (1, 81, 256)
        features = effnet.frontend(torch.zeros(1, 64_000))  # CPC's 4 s excerpt
        assert torch.equal(effnet.sequence(features), effnet.frames(features))  # the default sequence
        assert effnet.sequence(features).shape == (1, 13, 1280)
    assert (samplecnn.sequence_dim, samplecnn.sequence_hop) == (256, 729)
    assert (effnet.sequence_dim, effnet.sequence_hop) == (1280, 5120)

    class Tiny(Encoder):
        frame_dim = 7

    assert Tiny.sequence_dim == 7  # an encoder without its own sequence() inherits frame_dim


@pytest.mark.parametrize("name", ENCODERS.names())
def test_sequence_contract(name: str) -> None:
    """Every registered encoder: (B, T, sequence_dim) with about one step per sequence_hop samples."""
    encoder = ENCODERS.get(name).obj().eval()
    samples = 2 * encoder.crop_samples
    with torch.no_grad():
        sequence = encoder.sequence(encoder.frontend(torch.randn(2, samples) * 0.1))
    assert sequence.dim() == 3 and sequence.shape[0] == 2 and sequence.shape[2] == encoder.sequence_dim
    assert abs(sequence.shape[1] - samples / encoder.sequence_hop) <= 1


def test_prediction_steps_follow_clmrs_horizon() -> None:
    samplecnn, effnet = ENCODERS.get("samplecnn").obj(), ENCODERS.get("effnet").obj()
    assert (prediction_steps(samplecnn, CPCConfig()), prediction_steps(effnet, CPCConfig())) == (14, 2)
    assert prediction_steps(effnet, CPCConfig(prediction_steps=5)) == 5

    class NoHop(Encoder):
        sample_rate, input_kind, crop_samples, embed_dim, frame_dim = 16_000, "wave", 1_000, 4, 4

    with pytest.raises(BenchError, match="declare sequence_hop"):
        CPC(NoHop())
    assert len(CPC(NoHop(), CPCConfig(prediction_steps=3)).predictors) == 3


@pytest.mark.parametrize("name", compatible_encoders("cpc"))
def test_training_step_and_features(name: str) -> None:
    torch.manual_seed(0)
    method = CPC(ENCODERS.get(name).obj())
    encoder, steps = method.encoder, len(method.predictors)
    wave = torch.randn(2, (steps + 2) * encoder.sequence_hop) * 0.1  # just enough steps for K
    loss = method.training_loss({"audio": wave})
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    for module in (method.autoregressor, method.predictors):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in module.parameters())
    encoder_grads = [p.grad for p in encoder.parameters() if p.grad is not None]
    assert encoder_grads and all(torch.isfinite(g).all() for g in encoder_grads)
    assert next(encoder.parameters()).grad.abs().sum() > 0  # reaches the first layer
    method.eval()
    with torch.no_grad():
        assert method.features(torch.randn(3, encoder.crop_samples) * 0.1).shape == (3, 256)


def test_samplecnn_sequence_trains_only_the_first_five_blocks() -> None:
    """The documented cost of SampleCNN's sequence: blocks 6-9 and the last conv get no gradient."""
    method = CPC(ENCODERS.get("samplecnn").obj())
    method.training_loss({"audio": torch.randn(2, 16 * 729) * 0.1}).backward()
    used = [p.grad is not None for p in method.encoder.layers.parameters()]
    first_unused = 4 * (1 + 5)  # conv weight+bias, BN weight+bias for the stem and 5 blocks
    assert all(used[:first_unused]) and not any(used[first_unused:])


def test_bench_run_cpc_end_to_end(tmp_path: Path, shared_home: Path, tiny_protocol_file: Path) -> None:
    """The whole pipeline on the tiny corpus (shared with test_cli, generated once per session)."""
    protocol = tmp_path / "test-cpc.toml"
    text = tiny_protocol_file.read_text().replace('name = "test-tiny"', 'name = "test-cpc"')
    protocol.write_text(text.replace("batch_size = 4", "batch_size = 2"))
    env = {**os.environ, "BENCH_HOME": str(shared_home), "COLUMNS": "200"}
    result = subprocess.run(
        ["bench", "run", "--method", "cpc", "--encoder", "effnet", "--task", "synth-genre",
         "--protocol", str(protocol), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((shared_home / "records" / "test-cpc" / f"cpc__effnet__synth-genre__seed0__corpus{SYNTH_VERSION}.json").read_text())
    assert 0.0 <= record["metrics"]["accuracy"] <= 1.0 and record["pretraining"]["steps"] == 2
