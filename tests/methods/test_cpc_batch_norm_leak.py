"""Does batch norm let CPC's context see what it must predict?

CPC scores the prediction W_k c_{b,t} of a future frame z_{b,t+k} against negatives drawn from
the batch x time pool. Batch norm in training mode normalises every frame with the mean and
variance over the whole batch and all time steps, so each frame, and with it the context c_{b,t},
depends on every example's audio, the future of its own example included: a path around the
causal receptive field (Henaff et al. 2019, "Data-efficient image recognition with CPC", sec. 4.1,
replaced batch norm by layer norm for this reason; CLMR's CPC encoder had no normalisation).

The test measures that path: the gradient of one context vector c_{0,t} with respect to (a)
another example's audio and (b) its own audio far beyond the receptive field of z_{0,..t}. Both
must be exactly zero in the training forward pass CPC optimises.
"""

from __future__ import annotations

import torch

from ssl_music_bench.contracts.registry import ENCODERS
from ssl_music_bench.methods.cpc import CPC


def context_gradient(method: CPC, wave: torch.Tensor, step: int) -> torch.Tensor:
    wave = wave.clone().requires_grad_(True)
    _, context = method.sequence_and_context(wave)
    context[0, step].sum().backward()
    return wave.grad


def test_cpc_context_sees_neither_other_examples_nor_its_far_future_in_training() -> None:
    torch.manual_seed(0)
    method = CPC(ENCODERS.get("samplecnn").obj())
    method.train()
    hop = method.encoder.sequence_hop  # 729 samples per frame
    wave = torch.randn(3, 40 * hop)
    step = 10
    grad = context_gradient(method, wave, step)
    # (b): c_{0,10} reads frames 0..10; their receptive fields end well before frame 20
    own_past, own_far_future = grad[0, : (step + 1) * hop], grad[0, 20 * hop:]
    assert own_past.abs().sum() > 0  # the causal path is there
    assert torch.count_nonzero(grad[1:]) == 0, "the context of example 0 depends on other examples' audio"
    assert torch.count_nonzero(own_far_future) == 0, "the context depends on its own example's future"


def test_cpc_keeps_the_encoder_batch_norm_at_its_statistics_and_trains_it_as_an_affine_map() -> None:
    """The fix: CPC runs the encoder's batch norm layers with their (initial) running statistics in
    training too, so each is a learnable per-channel affine map; nothing updates those statistics."""
    torch.manual_seed(0)
    method = CPC(ENCODERS.get("samplecnn").obj())
    method.train()
    norms = [m for m in method.encoder.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and not any(m.training for m in norms)
    assert method.training and method.autoregressor.training
    before = [m.running_mean.clone() for m in norms]
    loss = method.training_loss({"audio": torch.randn(2, 30 * method.encoder.sequence_hop)})
    loss.backward()
    assert all(torch.equal(m.running_mean, b) for m, b in zip(norms, before))
    assert all(m.weight.grad is not None for m in norms[:5])  # the affine part still trains
