"""COLA (methods/cola.py): the bilinear loss against naive loops, the projection, one training
step per encoder, and the negatives gathered across two processes."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ssl_music_bench.contracts.registry import ENCODERS, METHODS
from ssl_music_bench.data.audio import resampled_length
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
from ssl_music_bench.methods.cola import COLA, COLAConfig, COLALoss, bilinear_logits, cola_loss, cola_projection
from ssl_music_bench.train.distributed import gather_rows

WORLD = 2


def naive_logits(anchor: torch.Tensor, positive: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    scores = torch.zeros(anchor.shape[0], positive.shape[0], dtype=torch.float64)
    for i in range(anchor.shape[0]):
        for j in range(positive.shape[0]):
            scores[i, j] = sum(
                anchor[i, a] * weight[a, b] * positive[j, b]
                for a in range(weight.shape[0])
                for b in range(weight.shape[1])
            )
    return scores


def naive_loss(anchor: torch.Tensor, positive: torch.Tensor, weight: torch.Tensor) -> float:
    """-1/B sum_i log softmax_j(s(x_i, x'_j))[i], written out with math."""
    scores = naive_logits(anchor, positive, weight).tolist()
    total = 0.0
    for i, row in enumerate(scores):
        top = max(row)
        log_norm = top + math.log(sum(math.exp(s - top) for s in row))
        total += -(row[i] - log_norm)
    return total / len(scores)


def test_bilinear_logits_match_a_double_loop() -> None:
    torch.manual_seed(0)
    anchor, positive, weight = torch.randn(3, 4), torch.randn(5, 4), torch.randn(4, 4)
    logits = bilinear_logits(anchor, positive, weight)
    assert logits.shape == (3, 5)
    assert torch.allclose(logits.double(), naive_logits(anchor, positive, weight), atol=1e-5)


def test_cola_loss_matches_a_naive_loop() -> None:
    torch.manual_seed(1)
    anchor, positive, weight = torch.randn(4, 6), torch.randn(4, 6), torch.randn(6, 6)
    assert cola_loss(anchor, positive, weight).item() == pytest.approx(naive_loss(anchor, positive, weight), rel=1e-5)
    # one direction only: swapping anchors and positives is a different loss
    assert cola_loss(positive, anchor, weight).item() != pytest.approx(cola_loss(anchor, positive, weight).item())


def test_label_offset_picks_this_process_columns() -> None:
    torch.manual_seed(2)
    anchor, positive, weight = torch.randn(6, 4), torch.randn(6, 4), torch.randn(4, 4)
    whole = torch.stack([cola_loss(anchor[i : i + 1], positive, weight, i) for i in range(6)]).mean()
    assert torch.allclose(whole, cola_loss(anchor, positive, weight))


def test_projection_is_512_layernorm_tanh() -> None:
    projection = cola_projection(1280)
    linear, norm, tanh = projection
    assert (linear.in_features, linear.out_features) == (1280, 512)
    assert isinstance(norm, torch.nn.LayerNorm) and isinstance(tanh, torch.nn.Tanh)
    out = projection(torch.randn(3, 1280) * 100)
    assert out.shape == (3, 512) and out.abs().max() <= 1.0
    assert COLALoss(512).weight.shape == (512, 512)


def test_single_process_gather_is_the_identity() -> None:
    assert not dist.is_initialized()
    x = torch.randn(3, 5)
    gathered, offset = gather_rows(x)
    assert gathered is x and offset == 0


def test_config_defaults_cite_the_code() -> None:
    config = COLAConfig()
    assert (config.learning_rate, config.weight_decay, config.embedding_dim) == (1e-3, 0.0, 512)
    assert config.positive_noise == 0.001


@pytest.mark.parametrize("encoder_name", ["samplecnn", "effnet"])
def test_excerpt_holds_a_crop_after_resampling(encoder_name: str) -> None:
    encoder = ENCODERS.get(encoder_name).obj()
    method = COLA(encoder)
    assert method.segment_seconds() == max(4.0, encoder.crop_seconds)
    for store_rate in (16_000, 22_050, 44_100):
        samples = round(method.segment_seconds() * store_rate)
        assert resampled_length(samples, store_rate, encoder.sample_rate) >= encoder.crop_samples


@pytest.mark.parametrize("encoder_name", ["samplecnn", "effnet"])
def test_one_training_step(encoder_name: str) -> None:
    torch.manual_seed(0)
    encoder = ENCODERS.get(encoder_name).obj()
    method = METHODS.get("cola").obj(encoder)
    samples = round(method.segment_seconds() * encoder.sample_rate)
    audio = torch.randn(2, samples) * 0.1
    optimizer = method.configure_optimizer(total_steps=1)
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["lr"] == 1e-3
    loss = method.training_loss({"audio": audio})
    assert loss.dim() == 0 and torch.isfinite(loss)
    before = method.criterion.weight.detach().clone()
    loss.backward()
    assert method.criterion.weight.grad is not None and next(encoder.parameters()).grad is not None
    optimizer.step()
    assert not torch.equal(before, method.criterion.weight)


# -- two processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def distributed_worker(rank: int, port: int, data: dict[str, torch.Tensor], out: str) -> None:
    torch.set_num_threads(1)  # a forked child must not enter the parent's OpenMP pool (it hangs)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=timedelta(seconds=60))
    try:
        rows = slice(rank * data["anchor"].shape[0] // WORLD, (rank + 1) * data["anchor"].shape[0] // WORLD)
        anchor = data["anchor"][rows].clone().requires_grad_()
        positive = data["positive"][rows].clone().requires_grad_()
        criterion = COLALoss(data["weight"].shape[0])
        criterion.weight.data.copy_(data["weight"])
        loss = criterion(anchor, positive)
        loss.backward()
        torch.save({"loss": loss.detach(), "anchor": anchor.grad, "positive": positive.grad,
                    "weight": criterion.weight.grad}, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_equal_one_process_on_the_whole_batch(tmp_path: Path) -> None:
    """Each of 2 processes holds half the batch. Its loss is the mean over its anchors against
    all positives; the gather's backward sums every process's gradient for its rows. So:
    local anchor/positive gradients = WORLD x the whole-batch gradients (DDP then divides by
    WORLD when it averages the parameter gradients they feed), and the average over processes
    of the loss and of W's gradient (what DDP computes) = the whole-batch loss and gradient."""
    torch.manual_seed(3)
    data = {"anchor": torch.randn(6, 8), "positive": torch.randn(6, 8), "weight": torch.randn(8, 8) * 0.3}
    # fork where there is one: spawned children would re-import torch, lightly and the registry
    # (about 30 s on two busy cores); the workers only touch tiny tensors and gloo
    start = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(distributed_worker, args=(free_port(), data, str(tmp_path)), nprocs=WORLD,
                       start_method=start)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]

    anchor, positive = data["anchor"].clone().requires_grad_(), data["positive"].clone().requires_grad_()
    weight = data["weight"].clone().requires_grad_()
    loss = cola_loss(anchor, positive, weight)
    loss.backward()

    assert torch.allclose(torch.stack([r["loss"] for r in ranks]).mean(), loss.detach(), atol=1e-6)
    assert torch.allclose(torch.cat([r["anchor"] for r in ranks]) / WORLD, anchor.grad, atol=1e-6)
    assert torch.allclose(torch.cat([r["positive"] for r in ranks]) / WORLD, positive.grad, atol=1e-6)
    assert torch.allclose(torch.stack([r["weight"] for r in ranks]).mean(0), weight.grad, atol=1e-6)


# -- end to end ---------------------------------------------------------------------------


def test_bench_run_cola_end_to_end(tmp_path: Path, shared_home: Path, tiny_protocol_file: Path) -> None:
    """The whole pipeline on the tiny corpus (shared with test_cli, generated once per session),
    under its own protocol name so that its records do not mix with test_cli's."""
    protocol = tmp_path / "test-cola.toml"
    text = tiny_protocol_file.read_text().replace('name = "test-tiny"', 'name = "test-cola"')
    protocol.write_text(text.replace("batch_size = 4", "batch_size = 2"))
    result = subprocess.run(
        ["bench", "run", "--method", "cola", "--encoder", "effnet", "--task", "synth-genre",
         "--protocol", str(protocol), "--no-progress"],
        capture_output=True, text=True, env={**os.environ, "BENCH_HOME": str(shared_home), "COLUMNS": "200"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((shared_home / "records" / "test-cola" / f"cola__effnet__synth-genre__seed0__corpus{SYNTH_VERSION}.json").read_text())
    assert 0.0 <= record["metrics"]["accuracy"] <= 1.0 and record["pretraining"]["steps"] == 2
    assert record["method_config"]["learning_rate"] == 1e-3
