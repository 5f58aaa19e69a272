"""Encoders: the contract, the published architecture sizes, the log-mel frontend."""

from __future__ import annotations

import pytest
import torch
import torchaudio

from ssl_music_bench.contracts.encoder import Encoder
from ssl_music_bench.contracts.registry import ENCODERS
from ssl_music_bench.encoders.logmel import LogMel, LogMelConfig


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_contract(name: str) -> None:
    """Every registered encoder: declared attributes, (B, D) output, (B, T, frame_dim) frames."""
    cls = ENCODERS.get(name).obj
    assert issubclass(cls, Encoder)
    assert cls.input_kind in ("wave", "mel")
    assert cls.sample_rate > 0 and cls.crop_samples > 0 and cls.embed_dim > 0
    torch.manual_seed(0)
    encoder = cls().eval()
    wave = torch.randn(2, cls.crop_samples) * 0.1
    with torch.no_grad():
        embedding = encoder(wave)
        frames = encoder.frames(encoder.frontend(wave))
    assert embedding.shape == (2, cls.embed_dim)
    assert frames.dim() == 3 and frames.shape[0] == 2 and frames.shape[2] == cls.frame_dim
    assert torch.allclose(encoder.pool(frames), embedding)
    with pytest.raises(ValueError, match="expects a batch of mono waves"):
        encoder(wave[0])


def test_samplecnn_matches_clmr() -> None:
    cls = ENCODERS.get("samplecnn").obj
    encoder = cls()
    assert encoder.parameter_count() == 2_368_512  # Spijkervet/CLMR's SampleCNN, without a head
    assert (cls.sample_rate, cls.crop_samples, cls.embed_dim) == (22_050, 59_049, 512)
    with torch.no_grad():
        frames = encoder.eval().frames(encoder.frontend(torch.zeros(1, 59_049)))
    assert frames.shape == (1, 1, 512)  # 3^10 samples reduce to exactly one frame
    convs = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [128, 128, 128, 256, 256, 256, 256, 256, 256, 512, 512]
    assert convs[0].stride == (3,) and all(c.kernel_size == (3,) for c in convs)


def test_effnet_is_efficientnet_b0_with_one_channel() -> None:
    import timm

    cls = ENCODERS.get("effnet").obj
    encoder = cls()
    reference = timm.create_model("efficientnet_b0", pretrained=False, in_chans=1, num_classes=0)
    assert sum(p.numel() for p in encoder.backbone.parameters()) == sum(p.numel() for p in reference.parameters())
    assert encoder.backbone.conv_stem.in_channels == 1
    assert (cls.sample_rate, cls.crop_samples, cls.embed_dim) == (16_000, 16_000, 1280)
    assert encoder.frontend(torch.zeros(1, 16_000)).shape == (1, 1, 64, 98)  # COLA code: 98 frames per second


def test_logmel_matches_torchaudio() -> None:
    """nnAudio frontend == torchaudio MelSpectrogram with the same settings (HTK, no norm, magnitude)."""
    config = LogMelConfig()
    torch.manual_seed(0)
    wave = torch.randn(3, 16_000) * 0.3
    ours = LogMel(config)(wave)
    pad = (config.n_fft - config.win_length) // 2
    reference = torchaudio.transforms.MelSpectrogram(
        sample_rate=16_000, n_fft=1024, win_length=400, hop_length=160, f_min=60.0, f_max=7800.0,
        n_mels=64, power=1.0, center=False, mel_scale="htk", norm=None,
    )(torch.nn.functional.pad(wave, (pad, pad)))
    expected = torch.log(reference.clamp_min(1e-5)).unsqueeze(1)
    assert ours.shape == expected.shape == (3, 1, 64, 98)
    assert torch.allclose(ours, expected, atol=1e-4)


def test_logmel_frame_count_follows_tensorflow_framing() -> None:
    config = LogMelConfig()
    assert config.frames(16_000) == 98  # 1 + (16000 - 400) // 160
    assert LogMel(config)(torch.zeros(1, 32_000)).shape[-1] == config.frames(32_000)


def test_resampling_is_batched_and_on_rate() -> None:
    from ssl_music_bench.data.audio import resample, resampled_length

    t = torch.arange(16_000) / 16_000
    wave = torch.stack([torch.sin(2 * torch.pi * 440 * t), torch.sin(2 * torch.pi * 1000 * t)])
    out = resample(wave, 16_000, 22_050)
    assert out.shape == (2, resampled_length(16_000, 16_000, 22_050))
    peak = torch.fft.rfft(out, dim=1).abs().argmax(dim=1).float() * 22_050 / out.shape[1]
    assert torch.allclose(peak, torch.tensor([440.0, 1000.0]), atol=2.0)
