"""EfficientNet-B0 as COLA built it: Keras's EfficientNetB0 defaults on timm's network.

COLA (google-research/google-research cola/network.py) calls
``tf.keras.applications.EfficientNetB0(include_top=False, weights=None)``: drop connect 0.2
(scaled per block by block index / 16), BatchNormalization epsilon 1e-3, momentum 0.99.
"""

from __future__ import annotations

import timm
import torch

from ssl_music_bench.contracts.registry import ENCODERS


def test_effnet_takes_keras_batch_norm_and_drop_connect_with_the_same_parameters() -> None:
    encoder = ENCODERS.get("effnet").obj()
    timm_default = timm.create_model("efficientnet_b0", pretrained=False, in_chans=1, num_classes=0, global_pool="")
    assert sum(p.numel() for p in encoder.backbone.parameters()) == sum(p.numel() for p in timm_default.parameters())
    norms = [m for m in encoder.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 49 and {m.eps for m in norms} == {1e-3} and {m.momentum for m in norms} == {0.01}
    # Keras: drop_connect_rate * b / 16 for blocks b = 0..15; timm scales drop_path_rate the same way
    blocks = [block for stage in encoder.backbone.blocks for block in stage]
    rates = [getattr(block.drop_path, "drop_prob", 0.0) for block in blocks]
    assert len(blocks) == 16
    assert all(abs(rate - 0.2 * index / 16) < 1e-12 for index, rate in enumerate(rates))


def test_drop_connect_acts_in_training_only() -> None:
    torch.manual_seed(0)
    encoder = ENCODERS.get("effnet").obj().eval()
    features = encoder.frontend(torch.randn(2, 16_000))
    with torch.no_grad():
        first, second = encoder.frames(features), encoder.frames(features)
    assert torch.equal(first, second)  # evaluation: deterministic
    encoder.train()
    with torch.no_grad():
        torch.manual_seed(1)
        third = encoder.frames(features)
        torch.manual_seed(2)
        fourth = encoder.frames(features)
    assert not torch.allclose(third, fourth)  # training: blocks are dropped at random
