"""EfficientNet-B0 on COLA's log-mel spectrogram.

Source: Saeed, Grangier & Zeghidour, "Contrastive learning of general-purpose audio
representations" (COLA), ICASSP 2021, and google-research/cola: EfficientNet-B0 (Tan & Le,
ICML 2019) trained from scratch on 64-bin log-mel spectrograms of 1 s crops at 16 kHz, global
max pooling -> 1280-d. The network is timm's ``efficientnet_b0`` with one input channel and no
pretrained weights. The log-mel is computed on the device (encoders/logmel.py).

COLA builds ``tf.keras.applications.EfficientNetB0(include_top=False, weights=None)``
(google-research/google-research cola/network.py), whose defaults differ from timm's: stochastic
depth ("drop connect") 0.2, scaled per block by its index as timm scales ``drop_path_rate``, and
Keras's BatchNormalization, epsilon 1e-3 and momentum 0.99 (torch's momentum 0.01), where timm
uses 0, 1e-5 and 0.1. (Keras's momentum leaves the running statistics of a short training mostly
those of the initial weights; the protocols with short budgets recompute them for the final
weights, train/batch_norm_statistics.py.) We take Keras's, with one departure: a block's branch is dropped for the
whole batch at once, not per example (:class:`BatchDropPath` says why). Keras's model also rescales its input by 1/255 before the
stem (a Rescaling layer, TF >= 2.3); the stem's batch norm undoes any constant scale up to its
epsilon, so that layer is not copied.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.registry import register_encoder
from ssl_music_bench.encoders.logmel import LogMel, LogMelConfig

# tf.keras.applications.EfficientNetB0's defaults (keras/applications/efficientnet.py), as COLA used it
KERAS_DROP_CONNECT_RATE = 0.2
KERAS_BN_EPSILON = 1e-3
KERAS_BN_MOMENTUM = 0.01  # Keras's momentum 0.99: the running statistics keep 0.99 of their value



class BatchDropPath(nn.Module):
    """Stochastic depth at Keras's drop-connect rate, one draw per block and training step for the
    whole batch (Huang et al. 2016's original form): the residual branch is dropped with
    probability ``drop_prob``, else scaled by 1 / (1 - drop_prob), as Keras and timm scale it.

    Keras (``Dropout(rate, noise_shape=(None, 1, 1, 1))``) and timm draw per example instead. A
    per-example draw cannot be made the same with N processes as with one: methods embed their
    views concatenated in one pass, so a process's rows are not a slice of the one-process batch
    (train/distributed.py ``draw`` assumes they are). One scalar per step, drawn from the
    per-step seed, is the same in every process, so N processes train like one
    (tests/train/test_distributed.py)."""

    def __init__(self, drop_prob: float) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        kept = torch.rand((), device=x.device) < keep
        return x * (kept.to(x.dtype) / keep)


@register_encoder("effnet", paper="Tan & Le, ICML 2019; as used by COLA (Saeed, Grangier & Zeghidour, ICASSP 2021)")
class EfficientNetB0(Encoder):
    """EfficientNet-B0 (timm, from scratch) on a 64-bin log-mel at 16 kHz, global max pool, 1280-d (COLA)."""

    sample_rate = 16_000
    input_kind = "mel"
    crop_samples = 16_000  # 1 s -> 98 frames, as in the COLA code
    # Not channels-last by default: on an H100 at the v1 batch (96 x 1 s) the step is bound by
    # kernel launches, and NHWC was faster for some methods and slower for others (0.8-1.2x,
    # docs/PERFORMANCE.md). `bench speed --channels-last on` measures it for other sizes.
    channels_last = False
    # 2: Keras's batch-norm epsilon and momentum and drop-connect 0.2, as COLA's EfficientNetB0
    # (1: timm's defaults), so weights trained by revision 1 compute something else here
    revision = 2
    embed_dim = 1280
    frame_dim = 1280
    sequence_hop = 32 * 160  # the backbone's time stride x the mel hop: one frame per 320 ms

    def __init__(self) -> None:
        import timm  # here, not at the top: importing timm (and torchvision) costs seconds at every start

        super().__init__()
        self.logmel = LogMel(LogMelConfig(sample_rate=self.sample_rate))
        # pretrained=False: nothing is fetched from a hub; num_classes=0 and global_pool=""
        # leave the (B, 1280, H, W) feature map so that we choose the pooling (max, as COLA)
        self.backbone = timm.create_model(
            "efficientnet_b0", pretrained=False, in_chans=1, num_classes=0, global_pool="",
            drop_path_rate=KERAS_DROP_CONNECT_RATE, bn_eps=KERAS_BN_EPSILON, bn_momentum=KERAS_BN_MOMENTUM,
        )
        for stage in self.backbone.blocks:  # timm's (= Keras's) per-block rates, one draw per batch
            for block in stage:
                rate = getattr(block.drop_path, "drop_prob", 0.0)
                block.drop_path = BatchDropPath(rate) if rate else nn.Identity()

    def frontend(self, wave: Tensor) -> Tensor:
        self.check_input(wave)
        return self.logmel(wave)  # (B, 1, mels, frames): frequency is height, time is width

    def frames(self, features: Tensor) -> Tensor:
        feature_map = self.backbone.forward_features(features)  # (B, 1280, H, W)
        return feature_map.amax(dim=2).transpose(1, 2)  # max over frequency -> (B, W, 1280)

    def pool(self, frames: Tensor) -> Tensor:
        return frames.amax(dim=1)  # max over time: together, COLA's global max pooling
