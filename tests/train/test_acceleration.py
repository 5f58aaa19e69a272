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


def test_conv1d_channels_last_computes_the_same_embedding() -> None:
    from ssl_music_bench.train.acceleration import conv1d_channels_last

    torch.manual_seed(0)
    method = build_method("cola", "samplecnn").eval()
    wave = torch.randn(2, method.encoder.crop_samples)
    with torch.no_grad():
        expected = method.encoder(wave)
    keys = set(method.state_dict())
    assert conv1d_channels_last(method.encoder) == 11  # SampleCNN's eleven convolutions
    with torch.no_grad():
        got = method.encoder(wave)
    assert set(method.state_dict()) == keys
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-4)


def test_fused_optimizer_takes_the_same_step() -> None:
    from ssl_music_bench.train.acceleration import use_fused_optimizer

    torch.manual_seed(0)
    weights = [torch.nn.Parameter(torch.randn(5, 3)) for _ in range(2)]
    twins = [torch.nn.Parameter(w.detach().clone()) for w in weights]
    plain, fused = torch.optim.Adam(weights, lr=1e-2), torch.optim.Adam(twins, lr=1e-2)
    assert use_fused_optimizer(fused) and fused.param_groups[0]["fused"]
    for _ in range(3):
        for params, optimizer in ((weights, plain), (twins, fused)):
            optimizer.zero_grad()
            sum((p**2).sum() for p in params).backward()
            optimizer.step()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(weights, twins))
    assert not use_fused_optimizer(fused)  # too late once it has state
