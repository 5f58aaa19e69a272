"""CPC: contrastive predictive coding.

van den Oord, Li & Vinyals, "Representation Learning with Contrastive Predictive Coding", 2018
(arXiv 1807.03748); the music setting of CLMR's v1 branch (Spijkervet/CLMR modules/cpc,
config_cpc.yaml; loss after Spijkervet/contrastive-predictive-coding modules/infonce.py).

    "The key insight of our model is to learn such representations by predicting the future in
    latent space by using powerful autoregressive models."

The encoder's frame sequence z_t (``Encoder.sequence``) feeds a GRU, whose state c_t predicts
z_{t+k} for k = 1..K through f_k(z, c_t) = z^T W_k c_t. Each prediction is scored against its
true z_{t+k} and N negatives drawn uniformly from the batch x time pool of z (so, as in the
reference code, a negative is the positive itself with probability 1 / (B T)):

    L = mean_{k, b, t} -log exp f_k(z_{b,t+k}, c_{b,t}) / (exp f_k(z_{b,t+k}, c_{b,t}) + sum_n exp f_k(z_n, c_{b,t}))

The N negatives of target position t+k are shared by every k (the reference shares them too).
The probe sees the context c averaged over time (256-d), not the encoder's embedding.

Frame sequences (the protocol's choice; CPC's own encoder hops 480 samples at 22,050 Hz, 124
steps per 59,049-sample input): SampleCNN's ``sequence`` is its 5th pooled block (256-d every
729 samples, 33 ms); EfficientNet-B0's is its frames (1280-d every 320 ms). Every example is
an excerpt of ``excerpt_seconds`` (4 s, at least the encoder's crop): 120 SampleCNN steps, 13
EfficientNet steps. K is not a step count shared by all encoders but CLMR's prediction horizon
in seconds (K = 20 steps of 480 samples = 0.435 s), rounded up to whole steps of the encoder's
sequence: K = 14 for SampleCNN (0.46 s; the paper's K = 12 at 10 ms covers 0.12 s of speech),
K = 2 for EfficientNet-B0 (0.64 s). The probe embeds chunks of the encoder's crop, so
EfficientNet's context there is 4 steps (1 s).

Batch norm: the registry's encoders normalise with batch statistics in training, over the batch
and all time steps, which lets every frame, and so the context c_t, depend on the other
examples' audio and on its own example's future: a path around the causal receptive field that
the prediction can exploit (measured in tests/methods/test_cpc_batch_norm_leak.py; Henaff et
al. 2019, "Data-efficient image recognition with CPC", replaced batch norm for this reason).
CLMR's CPC encoder had no normalisation at all (Spijkervet/CLMR 2.0 modules/cpc/encoder.py), so
CPC keeps the encoder's batch norm layers in evaluation mode while it trains: each is then a
learnable per-channel affine map on its initial statistics (mean 0, variance 1), which the probe
uses unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.method import Method
from ssl_music_bench.contracts.registry import register_method
from ssl_music_bench.contracts.settings import setting
from ssl_music_bench.errors import BenchError


@dataclass
class CPCConfig:
    context_dim: int = setting(256, ">= 1")  # GRU state size (van den Oord et al. 2018; CLMR config_cpc.yaml)
    negatives: int = setting(15, ">= 1")  # N per prediction (Spijkervet/CLMR branch v1 config_cpc.yaml)
    # CLMR config_cpc.yaml: K = 20 steps of its 480-sample hop
    horizon_seconds: float = setting(20 * 480 / 22_050, "> 0")
    prediction_steps: int = setting(0, ">= 0")  # K; 0: the fewest steps of the encoder's sequence covering the horizon
    # per example, at least the encoder's crop (protocol choice, see above)
    excerpt_seconds: float = setting(4.0, "> 0")
    learning_rate: float = setting(3e-4, "> 0")  # Adam, CLMR config_cpc.yaml
    weight_decay: float = setting(1e-6, ">= 0")  # CLMR config_cpc.yaml


def info_nce(predictions: Tensor, targets: Tensor, negatives: Tensor) -> Tensor:
    """InfoNCE with dot-product scores: predictions and targets (..., D), negatives (..., N, D).

    Returns the mean over the leading positions of -log softmax([p.t, p.n_1, ..., p.n_N])[0],
    the cross-entropy of picking the true target among N + 1 candidates (log(N + 1) at chance).
    Scores are computed in float32 also under mixed precision: they are unnormalised dot
    products, often in the tens, where bfloat16's rounding would blur the softmax.
    """
    with torch.autocast(predictions.device.type, enabled=False):
        predictions, targets, negatives = predictions.float(), targets.float(), negatives.float()
        positive = (predictions * targets).sum(dim=-1, keepdim=True)
        negative = torch.einsum("...d,...nd->...n", predictions, negatives)
        logits = torch.cat([positive, negative], dim=-1)
        return -torch.log_softmax(logits, dim=-1)[..., 0].mean()


def sample_negatives(z: Tensor, num_negatives: int, generator: torch.Generator | None = None) -> Tensor:
    """(B, T, N) indices, uniform with replacement, into the (B * T) pool ``z.reshape(-1, D)``.

    The pool is this process's slice of the batch (as in CPC's and CLMR's code, which never
    share negatives across devices); every process draws the same index pattern from the shared
    per-step seed, over its own examples."""
    batch, steps, _ = z.shape
    return torch.randint(batch * steps, (batch, steps, num_negatives), generator=generator, device=z.device)


def cpc_loss(z: Tensor, context: Tensor, predictors: nn.ModuleList, negative_index: Tensor) -> Tensor:
    """CPC's loss: z (B, T, D), context (B, T, C), predictors[k - 1] = W_k, negative_index (B, T, N)
    from ``sample_negatives``: the negatives of target position t are ``z.reshape(-1, D)[index[:, t]]``.
    """
    steps = z.shape[1]
    if steps <= len(predictors):
        raise ValueError(f"CPC predicts {len(predictors)} steps ahead but the sequence has only {steps} steps.")
    # (B, T, N, D), gathered once for all k. index_select rather than z[index]: the backward of
    # advanced indexing sums repeated rows in a thread-dependent order on CPU, which made two
    # identical runs (and a resumed run) end with different weights; index_add does not.
    flat = z.reshape(-1, z.shape[-1])
    negatives = flat.index_select(0, negative_index.flatten()).view(*negative_index.shape, z.shape[-1])
    losses = [
        info_nce(predictor(context[:, :-k]), z[:, k:], negatives[:, k:])
        for k, predictor in enumerate(predictors, start=1)
    ]
    return torch.stack(losses).mean()


def prediction_steps(encoder: Encoder, config: CPCConfig) -> int:
    """K: the config's, else the fewest sequence steps that cover ``horizon_seconds``."""
    if config.prediction_steps > 0:
        return config.prediction_steps
    hop = getattr(encoder, "sequence_hop", None)
    if hop is None:
        raise BenchError(
            f"CPC needs to know how far apart the steps of {type(encoder).__name__}.sequence() are: "
            "declare sequence_hop (input samples per step) on the encoder, or set "
            "--set prediction_steps=K."
        )
    return max(1, math.ceil(config.horizon_seconds * encoder.sample_rate / hop))


@register_method("cpc", paper="van den Oord, Li & Vinyals, arXiv 1807.03748, 2018; as in CLMR's v1 code")
class CPC(Method):
    """Contrastive predictive coding: a GRU's context predicts future encoder frames (van den Oord et al. 2018)."""

    accepts = frozenset({"wave", "mel"})  # any encoder with a frame sequence (Encoder.sequence)
    config_class = CPCConfig
    # 2: the encoder's batch norm stays in evaluation mode while CPC trains, so no example's
    # context sees the other examples' audio through the batch statistics (1: it did)
    revision = 2

    def __init__(self, encoder: Encoder, config: CPCConfig | None = None) -> None:
        super().__init__(encoder, config)
        self.autoregressor = nn.GRU(encoder.sequence_dim, self.config.context_dim, batch_first=True)
        self.predictors = nn.ModuleList(
            nn.Linear(self.config.context_dim, encoder.sequence_dim, bias=False)
            for _ in range(prediction_steps(encoder, self.config))
        )

    def segment_seconds(self) -> float:
        return max(self.encoder.crop_seconds, self.config.excerpt_seconds)

    def train(self, mode: bool = True) -> CPC:
        """As nn.Module.train, but the encoder's batch norm stays in evaluation mode (see the module
        docstring): no batch statistics, so no path from other examples or the future into c_t."""
        super().train(mode)
        for module in self.encoder.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):  # SyncBatchNorm (DDP) too
                module.eval()
        return self

    def sequence_and_context(self, wave: Tensor) -> tuple[Tensor, Tensor]:
        """(B, samples) -> z (B, T, sequence_dim), c (B, T, context_dim)."""
        z = self.encoder.sequence(self.encoder.frontend(wave))
        context, _ = self.autoregressor(z)
        return z, context

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        z, context = self.sequence_and_context(batch["audio"])
        return cpc_loss(z, context, self.predictors, sample_negatives(z, self.config.negatives))

    def features(self, wave: Tensor) -> Tensor:
        """The context vector averaged over time, as CPC's evaluation (not the encoder's embedding)."""
        return self.sequence_and_context(wave)[1].mean(dim=1)

    def encoder_parameters_used(self) -> int:
        # With SampleCNN the sequence is the 5th block's output: blocks 6-9 and the last conv
        # are neither trained nor read (the probe reads the context, as CPC's evaluation does).
        return self.encoder.sequence_parameter_count()

