"""CLMR's chain with static shapes (augment/batching.py ``static_shapes``, for graph capture): the same
draws and, row by row, the subset path's output (the CPU default, unchanged code) up to
floating-point rounding, with no data-dependent shape and no device-to-host read left."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ssl_music_bench.augment import CLMRAugment, CLMRAugmentConfig, static_shapes

RATE, LENGTH = 22_050, 22_050  # 1 s: the algorithms are the full-length ones, at a test's cost


def music_like(batch: int, seed: int = 0) -> torch.Tensor:
    """Harmonic tones with an onset and a little noise, one pitch per row."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(LENGTH) / RATE
    f0 = 110.0 * 2 ** (torch.randint(0, 24, (batch, 1), generator=generator) / 12)
    tone = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 6))
    envelope = torch.exp(-3 * (t - 0.2).clamp(min=0)) * (t >= 0.2)
    return 0.3 * tone * envelope + 0.01 * torch.randn(batch, LENGTH, generator=generator)


def run(config: CLMRAugmentConfig, wave: torch.Tensor, static: bool, seed: int) -> torch.Tensor:
    chain = CLMRAugment(config, generator=torch.Generator().manual_seed(seed), static_shapes=static)
    return chain(wave, RATE)


CONFIGS = {
    "clmr": CLMRAugmentConfig(),
    "always": CLMRAugmentConfig.always(),
    **{name: CLMRAugmentConfig(**{f"{other}_p": float(other == name) for other in
                                  ("polarity", "noise", "gain", "filter", "delay", "pitch", "reverb")})
       for name in ("noise", "filter", "delay", "pitch", "reverb")},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_static_shapes_give_the_subset_paths_output(name: str) -> None:
    wave = music_like(6)
    for seed in (0, 1):
        subset = run(CONFIGS[name], wave, static=False, seed=seed)
        static = run(CONFIGS[name], wave, static=True, seed=seed)
        assert static.shape == subset.shape == wave.shape and static.dtype == torch.float32
        # float32 rounding of FFTs of other sizes (the filter's widest kernel, the longest
        # stretch) and batches: outputs are of order 0.1-1
        error = (static - subset).abs().amax(dim=1) / subset.abs().amax(dim=1).clamp(min=1e-3)
        if name in ("clmr", "always"):
            # Whole chains: the pitch shift's phase vocoder makes discrete choices (a bin's
            # spectral peak, phase wrapping) that rounding-sized input changes can flip, so the
            # subset path itself moves by 35-85 dB SNR when its input moves by 1e-7 (measured,
            # this test's batch). Static vs subset measured 65-86 dB; 60 dB is the bound.
            snr = -10 * torch.log10(((static - subset).pow(2).mean(1) / subset.pow(2).mean(1)).max())
            assert float(snr) > 60, (name, seed, snr)
        else:
            assert float(error.max()) < 1e-4, (name, seed, error)


def test_rows_the_coins_skip_are_returned_exactly() -> None:
    wave = music_like(8)
    config = CLMRAugmentConfig(polarity_p=0, noise_p=0, gain_p=0, filter_p=0, delay_p=0, pitch_p=0.5, reverb_p=0)
    subset, static = (run(config, wave, s, seed=3) for s in (False, True))
    untouched = (subset == wave).all(dim=1)
    assert 0 < int(untouched.sum()) < 8  # some rows shifted, some not
    assert torch.equal(static[untouched], wave[untouched])


class DeviceReads(TorchDispatchMode):
    """Records the ops that make a shape depend on data or wait for the device."""

    WATCHED = ("aten.nonzero", "aten._local_scalar_dense", "aten.masked_select", "aten.index.Tensor")

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = str(func.overloadpacket) if "index" not in str(func) else str(func)
        if any(name.startswith(w) for w in self.WATCHED):
            # boolean-mask indexing is a nonzero in disguise; integer index tensors are fine
            if name.startswith("aten.index.Tensor") and not any(
                t is not None and t.dtype == torch.bool for t in (args[1] if len(args) > 1 else [])
            ):
                return func(*args, **(kwargs or {}))
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


def test_static_chain_has_no_data_dependent_shapes_or_host_reads() -> None:
    wave = music_like(4)
    chain = CLMRAugment(CLMRAugmentConfig.always(), generator=torch.Generator().manual_seed(0), static_shapes=True)
    chain(wave, RATE)  # fill the caches (the reverb's fixed tables) outside the watch
    with DeviceReads() as reads:
        chain(wave, RATE)
    assert reads.seen == []
    # the subset path, for contrast, reads the coins (nonzero) and the batch's largest draws
    with DeviceReads() as reads:
        CLMRAugment(CLMRAugmentConfig.always(), static_shapes=False)(wave, RATE)
    assert "aten.nonzero" in reads.seen and "aten._local_scalar_dense" in reads.seen


def test_the_default_is_the_subset_path() -> None:
    wave = music_like(2)
    seen: list[bool] = []
    from ssl_music_bench.augment import batching

    config = CLMRAugmentConfig(polarity_p=0, noise_p=0, gain_p=0, filter_p=0, delay_p=1, pitch_p=0, reverb_p=0)
    original = batching.apply_to

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(batching.shapes_are_static())
        return original(*args, **kwargs)

    from ssl_music_bench.augment import basic

    basic.apply_to = spy
    try:
        CLMRAugment(config)(wave, RATE)
        with static_shapes():
            assert batching.shapes_are_static()
    finally:
        basic.apply_to = original
    assert seen == [False] and not batching.shapes_are_static()


def test_nearest_peak_is_the_same_in_both_forms() -> None:
    """The static path finds each bin's peak by argmax over unfolded windows (a form inductor
    compiles), the default by max pooling's indices: the same pointers, ties included (both
    keep the first of equal maxima), and at both edges."""
    from ssl_music_bench.augment.pitch import nearest_peak

    generator = torch.Generator().manual_seed(0)
    magnitude = torch.rand(3, 40, 513, generator=generator)
    magnitude[:, :, 100:110] = 0.5  # a plateau: every window inside it is one long tie
    magnitude[:, :, :3] = 0.0  # silence at an edge, where the padding takes part
    magnitude[:, 5] = 0.0  # a silent frame: every window is a tie
    default = nearest_peak(magnitude)
    with static_shapes():
        static = nearest_peak(magnitude)
    assert torch.equal(static, default)


def check_the_compiled_chain() -> None:
    """The compiled static chain's checks, run in a child process by the test below."""
    from ssl_music_bench.augment.pitch import apply_pitch_shift

    wave = music_like(2)
    out = torch.compile(CLMRAugment(CLMRAugmentConfig.always(), static_shapes=True))(wave, RATE)
    assert out.shape == wave.shape and bool(out.isfinite().all())

    cents = torch.tensor([-700, 433])

    def pitch(w: torch.Tensor) -> torch.Tensor:
        with static_shapes():
            return apply_pitch_shift(w, RATE, cents, None, (-700, 700))

    eager = pitch(wave)
    error = float((torch.compile(pitch)(wave) - eager).abs().max() / eager.abs().max())
    assert error < 1e-2, error


def test_the_static_chain_compiles_and_its_transforms_keep_their_output() -> None:
    """torch.compile (inductor) of the static chain runs on a CPU: this is what static shapes
    are for. Before, inductor stopped on two transforms (the noise's parameters read through
    an index tensor, the pitch shift's max-pooling indices read as gather indices). Compiled
    code draws its random numbers differently from eager code, so the pitch shift, the
    transform whose code changed, is compared on fixed parameters, up to its phase vocoder's
    sensitivity to rounding (measured 5.8e-4 of the peak on 2.68 s clips).

    In a child process: after inductor has compiled in a process, the tests that fork
    training processes from it fail ("Unable to handle autograd's threading in combination
    with fork-based multiprocessing"), so the compilation must not happen in pytest's own."""
    script = f"import runpy; runpy.run_path({str(Path(__file__))!r})['check_the_compiled_chain']()"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
