"""Speed-ups that must not change the computation: channels-last layout (acceleration.py)."""

from __future__ import annotations

import torch

from ssl_music_bench.run_spec import build_method
from ssl_music_bench.train.acceleration import accelerate


def test_channels_last_is_the_encoders_choice_and_only_on_a_gpu() -> None:
    method = build_method("cola", "effnet")
    assert accelerate(method, torch.device("cpu")) == {"channels_last": False, "compiled": False}
    conv = method.encoder.backbone.conv_stem.weight
    assert conv.is_contiguous()  # untouched on a CPU
    sample = build_method("cola", "samplecnn")
    assert accelerate(sample, torch.device("cpu"), channels_last=None)["channels_last"] is False


def test_channels_last_computes_the_same_embedding() -> None:
    torch.manual_seed(0)
    method = build_method("cola", "effnet").eval()
    wave = torch.randn(3, method.encoder.crop_samples)
    with torch.no_grad():
        expected = method.encoder(wave)
    applied = accelerate(method, torch.device("cpu"), channels_last=True)  # forced, to test it here
    assert applied["channels_last"]
    assert method.encoder.backbone.conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        got = method.encoder(wave)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
