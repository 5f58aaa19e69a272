"""Batch-norm statistics recomputed for the weights that are evaluated ("precise BN").

A frozen encoder is embedded in eval mode, where each batch-norm layer normalises with its running
mean and variance. Those are an exponential average over the training steps, with the weights of
each step: after a short budget they describe the initial weights as much as the final ones.
EfficientNet-B0 takes Keras's momentum (0.99, torch's 0.01; encoders/effnet.py), so after 20 steps
(the cpu protocol's budget) its running statistics are still 82 % (0.99 ** 20) the initial zero mean
and unit variance. Measured on 32 notes of synth-instrument (2026-12-01, docs/TASKS.md): after
150 Adam steps the network fitted them in train mode (loss 0.09) but scored chance in eval mode
(loss 2.61, 9 %); with the statistics recomputed it scored 100 % (loss 0.02). Every row of the
table would compare running averages rather than what each method learnt.

The remedy is Wu & Johnson's "precise BN" ("Rethinking 'Batch' in BatchNorm", arXiv 2105.07576,
sec. 3): after training, the population statistics are recomputed with the final weights, over
batches of the training batch size, as an equal-weight average. The protocol's
``pretrain.batch_norm_crops`` says over how many crops (0: the running averages are kept, as the
papers that trained for hundreds of thousands of steps did). The crops are fixed (seeded) crops of
the pretraining clips at the encoder's crop length, un-augmented as the evaluation embeds them.

torch.optim.swa_utils.update_bn computes the same average but puts the whole model in train
mode, which would also drop residual branches (stochastic depth) and apply dropout while the
statistics are collected; here only the batch-norm layers are in train mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.data.audio import resample, resampled_length
from ssl_music_bench.data.sampler import padded_read
from ssl_music_bench.data.store import ClipStore


def batch_norm_layers(module: nn.Module) -> list[_BatchNorm]:
    return [layer for layer in module.modules() if isinstance(layer, _BatchNorm) and layer.track_running_stats]


class BatchNormCalibration:
    """Fixed crops of the pretraining clips, and the recomputation of an encoder's batch-norm
    statistics on them (:meth:`apply`). The crops are drawn once from ``seed``, so every call
    (each validation check of the ceiling, the final weights, a resumed run) uses the same ones."""

    def __init__(self, store: ClipStore, indices: list[int], crops: int, batch_size: int, seed: int,
                 encoder: Encoder) -> None:
        self.batch_size = batch_size
        # enough samples at the store's rate to give the encoder's crop after resampling
        rate, crop = encoder.sample_rate, encoder.crop_samples
        samples = int(np.ceil(crop * store.sample_rate / rate))
        while resampled_length(samples, store.sample_rate, rate) < crop:
            samples += 1
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB17C]))
        clips = [int(index) for index in rng.choice(np.asarray(indices), size=crops, replace=crops > len(indices))]
        starts = [int(rng.integers(0, max(store.items[index].length - samples, 0) + 1)) for index in clips]
        read = torch.from_numpy(np.stack([padded_read(store, index, start, samples)
                                          for index, start in zip(clips, starts)]))
        # resampled once, here, not at every apply (the ceiling applies it at each validation check)
        self.crops = resample(read, store.sample_rate, rate)[:, :crop].contiguous()  # (crops, crop samples)

    def summary(self) -> dict[str, Any]:
        """What the run record keeps: how many crops, in batches of how many."""
        return {"crops": len(self.crops), "batch_size": self.batch_size}

    @torch.no_grad()
    def apply(self, encoder: Encoder) -> None:
        """Replace the running statistics of every batch-norm layer of ``encoder`` by their
        equal-weight average over the crops' batches, computed with its current weights. The
        weights, and the modes of encoder and layers, are as they were afterwards."""
        layers = batch_norm_layers(encoder)
        if not layers or not len(self.crops):
            return
        device = next(encoder.parameters()).device
        was_training = encoder.training
        momenta = [layer.momentum for layer in layers]
        encoder.eval()  # dropout and stochastic depth off: the statistics of the evaluated network
        for layer in layers:
            layer.reset_running_stats()
            layer.momentum = None  # torch's cumulative (equal-weight) average over the batches
            layer.train()
        try:
            for batch in self.crops.split(self.batch_size):
                encoder(batch.to(device))
        finally:
            for layer, momentum in zip(layers, momenta):
                layer.momentum = momentum
            encoder.train(was_training)
