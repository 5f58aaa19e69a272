"""EfficientNet-B0 as COLA built it: Keras's EfficientNetB0 defaults on timm's network.

COLA (google-research/google-research cola/network.py) calls
``tf.keras.applications.EfficientNetB0(include_top=False, weights=None)``: drop connect 0.2
(scaled per block by block index / 16), BatchNormalization epsilon 1e-3, momentum 0.99. The
branch is dropped per batch, not per example (encoders/effnet.py BatchDropPath says why).
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
    outputs = []
    for seed in range(8):  # a block's branch is dropped for the whole batch: some seeds drop none
        torch.manual_seed(seed)
        with torch.no_grad():
            outputs.append(encoder.frames(features))
    assert not all(torch.allclose(outputs[0], other) for other in outputs[1:])  # training: blocks dropped at random
    torch.manual_seed(3)
    with torch.no_grad():
        assert torch.equal(encoder.frames(features), outputs[3])  # ... from the step's seed


def test_a_dropped_branch_is_dropped_for_the_whole_batch() -> None:
    from ssl_music_bench.encoders.effnet import BatchDropPath

    layer = BatchDropPath(0.5).train()
    x = torch.ones(6, 3, 2, 2)
    seen = set()
    for seed in range(20):
        torch.manual_seed(seed)
        out = layer(x)
        assert torch.all(out == out[0, 0, 0, 0])  # one decision for every example
        seen.add(float(out[0, 0, 0, 0]))
    assert seen == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - 0.5)
    assert torch.equal(layer.eval()(x), x)
