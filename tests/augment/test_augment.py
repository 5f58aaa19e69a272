"""Tests for the batched CLMR augmentation chain (ssl_music_bench.augment).

Signals are short (mostly 0.03-0.75 s at 22,050 Hz) so that the file runs in seconds on CPU. Every
test that relies on randomness seeds torch first.
"""

from __future__ import annotations

import math

import pytest
import torch

from ssl_music_bench.augment import (
    CLMRAugment,
    CLMRAugmentConfig,
    apply_high_low_pass,
    apply_pitch_shift,
    apply_reverb,
    augment_one_at_a_time,
    delay,
    gain,
    high_low_pass,
    pitch_shift,
    polarity_inversion,
    random_crop,
    reverb,
    white_noise,
)
from ssl_music_bench.augment.reverb import sox_feedback

SR = 22050
TRANSFORMS = {
    "polarity": polarity_inversion,
    "noise": white_noise,
    "gain": gain,
    "filter": high_low_pass,
    "delay": delay,
    "pitch": pitch_shift,
    "reverb": reverb,
}
CLMR_P = {"polarity": 0.8, "noise": 0.01, "gain": 0.3, "filter": 0.8, "delay": 0.3, "pitch": 0.6, "reverb": 0.6}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def sine(freq: float, seconds: float, batch: int = 1, rate: int = SR) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return torch.sin(2 * math.pi * freq * t).repeat(batch, 1)


def peak_hz(wave: torch.Tensor, rate: int = SR) -> torch.Tensor:
    """(B,) frequency of the strongest FFT bin of each row (Hann window, 8x zero padding)."""
    n = wave.shape[1]
    spectrum = torch.fft.rfft(wave * torch.hann_window(n, device=wave.device), n=8 * n).abs()
    return spectrum.argmax(dim=1).double() * rate / (8 * n)


def rms(wave: torch.Tensor) -> torch.Tensor:
    return wave.pow(2).mean(dim=-1).sqrt()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_shape_dtype_device_kept(name: str, device: str) -> None:
    torch.manual_seed(0)
    wave = torch.randn(3, SR // 2, device=device) * 0.1
    out = TRANSFORMS[name](wave, SR, p=1.0)
    assert out.shape == wave.shape and out.dtype == torch.float32 and out.device == wave.device
    assert torch.isfinite(out).all()
    assert not torch.allclose(out, wave)


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_probability_honoured_per_example(name: str) -> None:
    """The fraction of changed clips matches p, so each clip drew its own coin."""
    torch.manual_seed(1)
    batch, p = 2000, CLMR_P[name]
    wave = torch.randn(batch, 640) * 0.1
    out = TRANSFORMS[name](wave, SR, p=p)
    changed = (out - wave).abs().amax(dim=1) > 1e-4
    tolerance = 5 * math.sqrt(p * (1 - p) / batch) + 2 / batch
    assert abs(changed.float().mean().item() - p) < tolerance


def test_random_crop_offsets_per_example() -> None:
    torch.manual_seed(2)
    ramp = torch.arange(1000.0).repeat(64, 1)
    crops = random_crop(ramp, 300)
    assert crops.shape == (64, 300)
    start = crops[:, 0]
    assert torch.equal(crops, start[:, None] + torch.arange(300.0))  # contiguous slices
    assert start.min() >= 0 and start.max() <= 700 and start.unique().numel() > 20
    with pytest.raises(ValueError):
        random_crop(ramp, 1001)


def test_gain_in_range_and_independent() -> None:
    torch.manual_seed(3)
    wave = sine(440, 0.25, batch=500)
    out = gain(wave, SR, p=1.0)
    db = 20 * torch.log10(rms(out) / rms(wave))
    assert db.min() >= -20 - 1e-3 and db.max() <= -1 + 1e-3
    assert db.max() - db.min() > 15  # one draw per clip, spread over the range


def test_noise_std_ratio_in_range() -> None:
    torch.manual_seed(4)
    wave = sine(440, 0.75, batch=200)
    out = white_noise(wave, SR, p=1.0)
    ratio = (out - wave).std(dim=1) / wave.std(dim=1)
    assert ratio.min() > 1e-4 * 0.9 and ratio.max() < 1e-2 * 1.1
    assert ratio.max() / ratio.min() > 10


def test_delay_echo_position_and_amplitude() -> None:
    torch.manual_seed(5)
    wave = torch.zeros(64, int(0.6 * SR))
    wave[:, 0] = 1.0
    out = delay(wave, SR, p=1.0)
    assert torch.allclose(out[:, 0], torch.full((64,), 0.5))  # (x + ...) / 2
    echo = out[:, 1:].abs().argmax(dim=1) + 1
    assert torch.allclose(out[torch.arange(64), echo], torch.full((64,), 0.25))  # 0.5 x / 2
    allowed = {int(ms * SR / 1000) for ms in range(200, 451, 50)}
    assert set(echo.tolist()) <= allowed and len(set(echo.tolist())) >= 4


def test_high_and_low_pass_at_range_ends() -> None:
    low, high = sine(50, 0.5), sine(5000, 0.5)
    both = torch.cat([low, high])
    for cutoff in (200.0, 1200.0):
        out = apply_high_low_pass(both, SR, torch.full((2,), cutoff), torch.ones(2, dtype=torch.bool))
        kept = rms(out[:, 2000:-2000]) / rms(both[:, 2000:-2000])
        assert kept[0] < 0.05 and kept[1] > 0.9
    for cutoff in (2200.0, 4000.0):
        out = apply_high_low_pass(both, SR, torch.full((2,), cutoff), torch.zeros(2, dtype=torch.bool))
        kept = rms(out[:, 2000:-2000]) / rms(both[:, 2000:-2000])
        assert kept[0] > 0.9 and kept[1] < 0.05


def test_fir_filter_matches_direct_convolution() -> None:
    """The batched FFT filter equals julius' design applied clip by clip with conv1d."""
    torch.manual_seed(12)
    wave = torch.randn(3, 3000)
    cutoffs = torch.tensor([250.0, 1100.0, 3900.0])
    highpass = torch.tensor([True, False, False])
    got = apply_high_low_pass(wave, SR, cutoffs, highpass)
    for row, (cutoff, high) in enumerate(zip(cutoffs.tolist(), highpass.tolist())):
        fc = cutoff / SR
        half = int(8 / fc / 2)
        time = torch.arange(-half, half + 1, dtype=torch.float64)
        taps = 2 * fc * torch.hann_window(2 * half + 1, periodic=False, dtype=torch.float64)
        taps = taps * torch.sinc(2 * fc * time)
        taps = (taps / taps.sum()).float()
        padded = torch.nn.functional.pad(wave[row][None, None], (half, half), mode="replicate")
        low = torch.nn.functional.conv1d(padded, taps[None, None])[0, 0]
        expected = wave[row] - low if high else low
        assert (got[row] - expected).abs().max() < 1e-4


def test_filter_choice_is_per_example() -> None:
    torch.manual_seed(6)
    wave = sine(50, 0.5, batch=100) + sine(5000, 0.5, batch=100)
    out = high_low_pass(wave, SR, p=1.0)
    low_left = rms(apply_high_low_pass(out, SR, torch.full((100,), 400.0), torch.zeros(100, dtype=torch.bool)))
    is_lowpassed = low_left > 0.5  # the 50 Hz sine survived
    assert 20 < is_lowpassed.sum() < 80


@pytest.mark.parametrize("cents", [-700, -300, 0, 250, 700])
def test_pitch_moves_frequency_keeps_length(cents: int) -> None:
    wave = sine(440, 0.75)
    out = apply_pitch_shift(wave, SR, torch.tensor([cents]))
    assert out.shape == wave.shape
    expected = 440 * 2 ** (cents / 1200)
    measured = peak_hz(out[:, 2048:-2048]).item()
    assert abs(measured / expected - 1) < 0.02


def test_pitch_keeps_tempo() -> None:
    """An onset stays where it was; plain resampling would move it to 0.3 s / 2^(c/1200)."""
    wave = sine(440, 0.75, batch=2)
    wave[:, : int(0.3 * SR)] = 0
    out = apply_pitch_shift(wave, SR, torch.tensor([-700, 700]))
    envelope = torch.nn.functional.avg_pool1d(out.abs()[:, None], 221, stride=1, padding=110)[:, 0]
    onset = (envelope > 0.5 * envelope.amax(dim=1, keepdim=True)).float().argmax(dim=1) / SR
    assert torch.all((onset - 0.3).abs() < 0.03)
    assert torch.all(rms(out[:, -int(0.1 * SR) :]) > 0.3)  # the note lasts to the end


def test_pitch_parameters_per_example() -> None:
    torch.manual_seed(7)
    out = pitch_shift(sine(440, 0.5, batch=8), SR, p=1.0)
    assert peak_hz(out).round().unique().numel() >= 6


def naive_sox_reverb(x: list[float], rate: int, reverberance: float, damping: float, room: float) -> list[float]:
    """Sample-by-sample SoX reverb (reverb.c): two Freeverb channels, averaged, plus dry."""
    f = float(sox_feedback(torch.tensor(reverberance, dtype=torch.float64)))
    d, scale, r = damping / 100 * 0.3 + 0.2, room / 100 * 0.9 + 0.1, rate / 44100
    channels = []
    for offset in (0.0, 1.0):
        comb_len, allpass_len = [], []
        for base in (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617):
            comb_len.append(int(scale * r * (base + 12 * offset) + 0.5))
            offset = -offset
        for base in (225, 341, 441, 556):
            allpass_len.append(int(r * (base + 12 * offset) + 0.5))
            offset = -offset
        combs, allpasses = [[0.0] * n for n in comb_len], [[0.0] * n for n in allpass_len]
        store, wet = [0.0] * 8, []
        for n, sample in enumerate(x):
            out = 0.0
            for i, buf in enumerate(combs):
                o = buf[n % len(buf)]
                store[i] = o + (store[i] - o) * d
                buf[n % len(buf)] = sample + store[i] * f
                out += o
            for buf in allpasses:
                o = buf[n % len(buf)]
                buf[n % len(buf)] = out + o * 0.5
                out = o - out
            wet.append(out * 0.015)
        channels.append(wet)
    return [s + 0.5 * (a + b) for s, a, b in zip(x, *channels)]


@pytest.mark.parametrize("params", [(99, 0, 99), (50, 50, 50), (0, 99, 0), (99, 99, 10)])
def test_reverb_matches_sox_recursion(params: tuple[int, int, int]) -> None:
    """The FFT evaluation of the Freeverb network equals SoX's sample-by-sample recursion."""
    torch.manual_seed(8)
    rate, x = 8000, torch.zeros(2500)
    x[5], x[400:430] = 1.0, torch.randn(30) * 0.3
    expected = torch.tensor(naive_sox_reverb(x.tolist(), rate, *map(float, params)))
    got = apply_reverb(x[None], rate, *(torch.tensor([float(v)]) for v in params))[0]
    assert (got - expected).abs().max() < 1e-4


def test_reverb_impulse_tail_decays_and_grows_with_reverberance() -> None:
    impulse = torch.zeros(2, SR // 2)
    impulse[:, 0] = 1.0
    middle = torch.tensor([50.0, 50.0])
    out = apply_reverb(impulse, SR, torch.tensor([10.0, 90.0]), middle, middle)
    tail = out[:, 1:]
    early, late = rms(tail[:, : SR // 10]), rms(tail[:, SR // 5 : 3 * SR // 10])
    assert torch.all(early > 1e-3) and torch.all(late < early)
    assert late[1] > 10 * late[0]  # more reverberance, longer tail


def test_reverb_parameters_per_example() -> None:
    torch.manual_seed(9)
    impulse = torch.zeros(8, SR // 8)
    impulse[:, 0] = 1.0
    out = reverb(impulse, SR, p=1.0)
    assert rms(out[:, 1:]).unique().numel() == 8


def test_clmr_defaults_are_the_shipped_config() -> None:
    c = CLMRAugmentConfig()
    assert (c.polarity_p, c.noise_p, c.gain_p, c.filter_p, c.delay_p, c.pitch_p, c.reverb_p) == (
        0.8, 0.01, 0.3, 0.8, 0.3, 0.6, 0.6,
    )
    assert (c.gain_min_db, c.gain_max_db, c.noise_min_snr, c.noise_max_snr) == (-20.0, -1.0, 1e-4, 1e-2)
    assert (c.pitch_min_cents, c.pitch_max_cents, c.delay_min_ms, c.delay_max_ms) == (-700, 700, 200, 450)


@pytest.mark.parametrize("device", DEVICES)
def test_whole_chain_runs_finite_and_seeded(device: str) -> None:
    wave = torch.randn(4, SR // 4, device=device) * 0.1
    chain = CLMRAugment(CLMRAugmentConfig.always())
    torch.manual_seed(10)
    first = chain(wave, SR)
    torch.manual_seed(10)
    again = chain(wave, SR)
    assert first.shape == wave.shape and torch.isfinite(first).all()
    assert torch.equal(first, again)
    view_a, view_b = CLMRAugment()(wave, SR), CLMRAugment()(wave, SR)
    assert torch.isfinite(view_a).all() and not torch.equal(view_a, view_b)
    looped = augment_one_at_a_time(chain, wave, SR)
    assert looped.shape == wave.shape and torch.isfinite(looped).all()


def test_generator_makes_draws_reproducible() -> None:
    wave = torch.randn(4, SR // 8) * 0.1
    outs = [CLMRAugment(generator=torch.Generator().manual_seed(11))(wave, SR) for _ in range(2)]
    assert torch.equal(outs[0], outs[1])


def test_rejects_unbatched_input() -> None:
    with pytest.raises(ValueError):
        gain(torch.zeros(100), SR)


def reference_pitch_shift(wave: torch.Tensor, rate: int, cents: torch.Tensor) -> torch.Tensor:
    """The pitch shift as first written (torch.stft / torch.polar / torch.istft on zero-padded
    frame spectra, cubic read-out): the reference for the faster synthesis in pitch.py."""
    from ssl_music_bench.augment.pitch import OVERSAMPLE, default_fft_size, nearest_peak

    batch, length = wave.shape
    n_fft = default_fft_size(rate)
    while n_fft // 2 >= length and n_fft > 16:
        n_fft //= 2
    dtype = wave.dtype
    stretch = torch.pow(2.0, cents.double() / 1200.0).to(dtype)
    out_length = math.ceil(length * float(stretch.max())) + 4
    hop = n_fft // 4
    spec = torch.stft(wave, n_fft, hop, window=torch.hann_window(n_fft, dtype=dtype), center=True, return_complex=True)
    spec = torch.nn.functional.pad(spec.transpose(1, 2), (0, 0, 0, 2))
    frames, bins = spec.shape[1] - 2, spec.shape[2]
    magnitude, phase = spec.abs(), spec.angle()
    omega = torch.linspace(0, math.pi * hop, bins, dtype=dtype)
    deviation = phase[:, 1:] - phase[:, :-1] - omega
    advance = deviation - 2 * math.pi * torch.round(deviation / (2 * math.pi)) + omega
    out_frames = out_length // hop + 1
    position = (torch.arange(out_frames, dtype=torch.float64)[None] / stretch.double()[:, None]).clamp(max=frames)
    first = position.floor().long()
    frac = (position - first).to(dtype)[:, :, None]
    row = (first + (frames + 2) * torch.arange(batch)[:, None]).flatten()

    def frames_at(table: torch.Tensor, offset: int = 0) -> torch.Tensor:
        return table.reshape(-1, bins).index_select(0, row + offset).view(batch, out_frames, bins)

    mag = torch.lerp(frames_at(magnitude), frames_at(magnitude, 1), frac)
    step = frames_at(torch.nn.functional.pad(advance, (0, 0, 0, 1)))
    out_phase = torch.cumsum(torch.cat([phase[:, :1], step[:, :-1]], dim=1), dim=1)
    peak, analysis = frames_at(nearest_peak(magnitude)), frames_at(phase)
    out_phase = out_phase.gather(2, peak) + analysis - analysis.gather(2, peak)
    keep = torch.arange(bins)[None, :] * stretch[:, None] <= bins - 1
    out = torch.polar(mag * keep[:, None, :].to(dtype), out_phase).transpose(1, 2)
    out = torch.nn.functional.pad(out, (0, 0, 0, (OVERSAMPLE - 1) * n_fft // 2)) * OVERSAMPLE
    size = OVERSAMPLE * n_fft
    stretched = torch.istft(
        out, size, OVERSAMPLE * hop, window=torch.hann_window(size, dtype=dtype), center=True, length=OVERSAMPLE * out_length
    )
    grid = torch.arange(length, dtype=torch.float64)[None] * (stretch * OVERSAMPLE).double()[:, None]
    base = grid.floor()
    t = (grid - base).to(dtype)
    padded = torch.nn.functional.pad(stretched, (1, 3))
    index = (base.long() + 1).clamp(max=padded.shape[1] - 3)
    weights = (
        -0.5 * t**3 + t**2 - 0.5 * t,
        1.5 * t**3 - 2.5 * t**2 + 1.0,
        -1.5 * t**3 + 2.0 * t**2 + 0.5 * t,
        0.5 * t**3 - 0.5 * t**2,
    )
    return sum(padded.gather(1, index + offset) * weight for offset, weight in zip((-1, 0, 1, 2), weights))


@pytest.mark.parametrize("seconds", [0.01, 0.3, 1.0])
def test_pitch_matches_istft_reference(seconds: float) -> None:
    """The block overlap-add, closed-form window envelope, cos/sin polar and in-place steps of
    pitch.py compute what torch.istft and friends computed, up to float32 rounding.

    The phase is a cumulative sum over frames, so float32 rounding grows with the clip: the
    float32 reference itself is up to ~2e-3 off its float64 evaluation after 1 s of noise.
    So the test asks for (a) closeness to the float32 reference, within 1e-3 (measured: up to
    7e-4 at 1 s), and (b) no larger error than the float32 reference's against float64.
    """
    torch.manual_seed(13)
    length = int(seconds * SR)
    wave = torch.cat([sine(440, seconds, batch=2), torch.randn(4, length) * 0.3])
    cents = torch.tensor([-700, 650, 0, -123, 377, 700])
    # The reference one clip at a time: batched, it normalised the end of every row by the
    # overlap-add of the batch's longest stretch, so a row's last ~20 ms depended on its batch.
    expected = torch.cat([reference_pitch_shift(wave[i : i + 1], SR, cents[i : i + 1]) for i in range(6)])
    exact = torch.cat([reference_pitch_shift(wave[i : i + 1].double(), SR, cents[i : i + 1]) for i in range(6)])
    got = apply_pitch_shift(wave, SR, cents)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() < 1e-3
    reference_error = (expected.double() - exact).abs().max()
    assert (got.double() - exact).abs().max() <= 1.25 * reference_error + 1e-6


def test_reverb_tail_does_not_wrap_around() -> None:
    """A loud burst at the very end with the longest reverb (reverberance and room 99, no
    damping): its tail past the clip's end must not wrap onto the start. The FFT is 1.5x the
    clip long (reverb.FFT_LENGTH_FACTOR), so wrap-around is scaled by 1e-3^1.5 ~ 3e-5."""
    rate, x = 8000, torch.zeros(2500)
    x[2440:2500] = torch.randn(60, generator=torch.Generator().manual_seed(14))
    expected = torch.tensor(naive_sox_reverb(x.tolist(), rate, 99.0, 0.0, 99.0))
    got = apply_reverb(x[None], rate, torch.tensor([99.0]), torch.tensor([0.0]), torch.tensor([99.0]))[0]
    assert got[:2440].abs().max() < 1e-5  # silence before the burst stays silent
    assert (got - expected).abs().max() < 1e-4


def test_pitch_row_does_not_depend_on_its_batch() -> None:
    """A clip shifted in a batch (whose longest stretch sets the synthesis length) comes out
    as when shifted alone, so batched and one-at-a-time augmentation agree."""
    torch.manual_seed(15)
    wave = torch.randn(4, SR // 2) * 0.3
    cents = torch.tensor([-700, -480, 13, 700])
    batched = apply_pitch_shift(wave, SR, cents)
    for i in range(4):
        alone = apply_pitch_shift(wave[i : i + 1], SR, cents[i : i + 1])[0]
        assert (batched[i] - alone).abs().max() < 1e-6
