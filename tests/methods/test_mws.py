"""Masking, warping and shifting (ssl_music_bench/augment/mws.py) and the cola-mws method."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from ssl_music_bench.augment.mws import (
    MWSConfig,
    band_mask,
    mask_warp_shift,
    scaled_to,
    shift_down,
    warp_positions,
    warp_time,
)
from ssl_music_bench.contracts.compatibility import check_compatible
from ssl_music_bench.contracts.registry import ENCODERS, METHODS
from ssl_music_bench.contracts.settings import config_from_overrides
from ssl_music_bench.errors import BenchError

BINS, FRAMES = 64, 98
NOTHING = MWSConfig(time_mask_p=0.0, freq_mask_p=0.0, freq_shift_p=0.0, time_warp_p=0.0)


def spectrogram(batch: int, frames: int = FRAMES, seed: int = 0) -> torch.Tensor:
    """(B, 1, 64, frames) values in [100, 101): never equal to a fill value."""
    return 100 + torch.rand(batch, 1, BINS, frames, generator=torch.Generator().manual_seed(seed))


def ramp(batch: int, frames: int = FRAMES) -> torch.Tensor:
    return torch.arange(frames, dtype=torch.float32).expand(batch, 1, BINS, frames).clone()


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def runs(flags: torch.Tensor) -> list[tuple[int, int]]:
    """(start, length) of the runs of True in a 1-D bool tensor."""
    out, start = [], None
    for i, flag in enumerate([*flags.tolist(), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - start))
            start = None
    return out


@pytest.mark.parametrize("shape", [(3, 1, 64, 98), (2, 64, 98), (2, 1, 64, 392), (2, 1, 32, 50)])
def test_shape_and_dtype_kept(shape: tuple[int, ...]) -> None:
    spec = torch.randn(shape)
    out = mask_warp_shift(spec, MWSConfig(time_mask_p=1.0, freq_mask_p=1.0, freq_shift_p=1.0, time_warp_p=1.0), seeded())
    assert out.shape == spec.shape and out.dtype == spec.dtype and torch.isfinite(out).all()


def test_nothing_applied_is_the_identity() -> None:
    spec = spectrogram(4)
    assert torch.equal(mask_warp_shift(spec, NOTHING, seeded()), spec)


def test_band_mask_marks_active_bands_and_clips_at_the_edge() -> None:
    start = torch.tensor([[2, 8, 0], [5, 0, 0]])
    width = torch.tensor([[3, 5, 1], [2, 4, 4]])
    active = torch.tensor([[True, True, False], [True, False, False]])
    mask = band_mask(10, start, width, active)
    assert mask[0].nonzero().flatten().tolist() == [2, 3, 4, 8, 9]  # the band at 8 is cut at 10
    assert mask[1].nonzero().flatten().tolist() == [5, 6]


def test_one_wide_time_mask_lies_in_range_and_holds_the_fill_value() -> None:
    config = replace(NOTHING, time_mask_p=1.0, time_mask_count=(1, 1), time_mask_width=(9, 9), fill_value=-11.5)
    out = mask_warp_shift(spectrogram(32), config, seeded(1))
    masked = (out == -11.5).all(dim=2).squeeze(1)  # (B, frames): whole column filled
    assert ((out == -11.5) == masked[:, None, None, :]).all()  # nothing else was touched
    starts = []
    for row in masked:
        [(start, length)] = runs(row)
        assert length == 9 and 0 <= start <= 86
        starts.append(start)
    assert len(set(starts)) > 5  # each example draws its own start


def test_time_masks_count_and_width_within_range() -> None:
    config = replace(NOTHING, time_mask_p=1.0)
    out = mask_warp_shift(spectrogram(64), config, seeded(2))
    masked = (out == 0).all(dim=2).squeeze(1)
    for row in masked:
        bands = runs(row)
        assert 1 <= len(bands) <= 9 and 1 <= row.sum() <= 81
        assert all(start <= 86 for start, _ in bands) and all(start + length <= 95 for start, length in bands)
    assert len({tuple(row.tolist()) for row in masked}) == 64  # independent across the batch


def test_frequency_masks_count_and_width_within_range() -> None:
    config = replace(NOTHING, freq_mask_p=1.0, freq_mask_count=(1, 1))
    out = mask_warp_shift(spectrogram(64), config, seeded(3))
    masked = (out == 0).all(dim=3).squeeze(1)  # (B, bins): whole row filled
    for row in masked:
        [(start, length)] = runs(row)
        assert 0 <= start <= 63 and 1 <= length <= min(11, BINS - start)
    out = mask_warp_shift(spectrogram(64), replace(NOTHING, freq_mask_p=1.0), seeded(4))
    counts = (out == 0).all(dim=3).sum(dim=(1, 2))
    assert counts.min() >= 1 and counts.max() <= 4 * 11


def test_frequency_shift_moves_content_down_and_fills_the_top() -> None:
    spec = spectrogram(3)
    out = shift_down(spec, torch.tensor([0, 3, 9]), fill_value=-1.0)
    assert torch.equal(out[0], spec[0])
    for b, k in ((1, 3), (2, 9)):
        assert torch.equal(out[b, :, : BINS - k], spec[b, :, k:])
        assert (out[b, :, BINS - k :] == -1.0).all()


def test_random_frequency_shift_is_1_to_9_bins() -> None:
    spec = spectrogram(32)
    out = mask_warp_shift(spec, replace(NOTHING, freq_shift_p=1.0), seeded(5))
    shifts = []
    for b in range(32):
        top = int((out[b, 0] == 0).all(dim=1).sum())
        assert 1 <= top <= 9 and torch.equal(out[b, :, : BINS - top], spec[b, :, top:])
        shifts.append(top)
    assert len(set(shifts)) > 3


def test_warp_positions_follow_the_reference() -> None:
    positions = warp_positions(torch.tensor([38, 57]), FRAMES)
    for row, tc in zip(positions, (38, 57)):
        expected = np.concatenate([np.linspace(0, tc, 49), np.linspace(tc + 1, 97, 49)])
        assert np.allclose(row.numpy(), expected, atol=1e-5)


def test_warp_is_monotone_and_keeps_the_endpoints() -> None:
    for frames in (FRAMES, 392):
        out = mask_warp_shift(ramp(16, frames), replace(NOTHING, time_warp_p=1.0), seeded(6))
        assert (out.diff(dim=-1) >= -1e-5).all()
        assert (out[..., 0] == 0).all() and torch.allclose(out[..., -1], torch.tensor(frames - 1.0))
    pivots = out[:, 0, 0, 392 // 2 - 1]  # the last frame of the first half sits on the pivot
    assert len(set(pivots.round().tolist())) > 3


def test_warp_matches_linear_interpolation() -> None:
    spec = torch.randn(2, 1, BINS, FRAMES)
    pivot = torch.tensor([40, 55])
    out = warp_time(spec, pivot)
    positions = warp_positions(pivot, FRAMES).numpy()
    for b in range(2):
        for f in (0, 31, 63):
            expected = np.interp(positions[b], np.arange(FRAMES), spec[b, 0, f].numpy())
            assert np.allclose(out[b, 0, f].numpy(), expected, atol=1e-5)


def test_each_step_fires_with_its_probability() -> None:
    spec = ramp(2000)
    for step, p in (("time_mask_p", 0.5), ("freq_mask_p", 0.5), ("freq_shift_p", 0.4), ("time_warp_p", 0.4)):
        out = mask_warp_shift(spec, replace(NOTHING, **{step: getattr(MWSConfig(), step)}), seeded(7))
        changed = (out - spec).abs().amax(dim=(1, 2, 3)) > 1e-3
        rate = p * (19 / 20 if step == "time_warp_p" else 1.0)  # pivot 48 of 38..57 is the identity
        assert abs(changed.float().mean().item() - rate) < 0.05, step


def test_ranges_scale_with_the_grid() -> None:
    assert scaled_to(MWSConfig(), BINS, FRAMES) == MWSConfig()
    long = scaled_to(MWSConfig(), BINS, 392)
    assert long.time_mask_start == (0, 344) and long.time_mask_width == (4, 36)
    assert long.time_warp_pivot == (152, 228) and long.freq_shift_bins == (1, 9)


# -- the method ----------------------------------------------------------------------------


def test_cola_mws_refuses_a_wave_encoder() -> None:
    with pytest.raises(BenchError, match="Compatible encoders for cola-mws: effnet"):
        check_compatible("cola-mws", "samplecnn")
    check_compatible("cola-mws", "effnet")


def test_cola_mws_settings_reach_the_command_line() -> None:
    config = config_from_overrides("cola-mws", {"fill_value": "-11.51", "time_mask_count": "2,3"})
    assert config.fill_value == -11.51 and config.time_mask_count == (2, 3)
    assert config.learning_rate == 1e-3 and MWSConfig().fill_value == 0.0


def test_cola_mws_without_augmentation_is_cola() -> None:
    torch.manual_seed(0)
    encoder = ENCODERS.get("effnet").obj()
    config = METHODS.get("cola-mws").obj.config_class(**vars(NOTHING))
    method = METHODS.get("cola-mws").obj(encoder, config).eval()
    waves = torch.randn(2, encoder.crop_samples) * 0.1
    with torch.no_grad():
        assert torch.allclose(method.embed(waves), method.projection(encoder(waves)), atol=1e-6)


def test_cola_mws_training_step() -> None:
    torch.manual_seed(0)
    encoder = ENCODERS.get("effnet").obj()
    method = METHODS.get("cola-mws").obj(encoder)
    audio = torch.randn(2, round(method.segment_seconds() * encoder.sample_rate)) * 0.1
    loss = method.training_loss({"audio": audio})
    loss.backward()
    assert torch.isfinite(loss) and method.criterion.weight.grad is not None
