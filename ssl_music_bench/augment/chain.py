"""CLMR's augmentation chain, batched on the training device, and its one-clip-at-a-time twin.

Order and probabilities follow Spijkervet/CLMR main.py (``RandomApply`` of PolarityInversion,
Noise, Gain, HighLowPass, Delay, PitchShift, Reverb, after ``RandomResizedCrop``) with the
shipped config/config.yaml; ranges are the defaults of torchaudio-augmentations, which CLMR
does not override and does not pin. We follow its latest release (0.2.4, 2022-04); releases
before 2021-11-15 drew noise ratios from 0.001..1.0 and integer gains and cutoffs. The crop
is left to the caller (``random_crop``) because it changes the length and is where the two
views of a clip are cut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ssl_music_bench.augment.basic import delay, gain, polarity_inversion, white_noise
from ssl_music_bench.augment.batching import Generator, check_batch, static_shapes
from ssl_music_bench.augment.filters import high_low_pass
from ssl_music_bench.augment.pitch import pitch_shift
from ssl_music_bench.augment.reverb import reverb
from ssl_music_bench.contracts.settings import setting

Transform = Callable[[Tensor, int], Tensor]
"""(B, N) wave, sample rate -> (B, N): one step of the chain, or the whole chain."""


@dataclass
class CLMRAugmentConfig:
    """Every probability and range of the chain; defaults are CLMR's shipped values."""

    # config.yaml transforms_polarity: 0.8
    polarity_p: float = setting(0.8, "[0, 1]")
    # config.yaml transforms_noise: 0.01
    noise_p: float = setting(0.01, "[0, 1]")
    # torchaudio-augmentations Noise(min_snr=0.0001, max_snr=0.01) since commit f27fc7b
    # (2021-11-15; 0.001..1.0 before): the noise std as a fraction of the clip's std
    noise_min_snr: float = setting(1e-4, ">= 0")
    noise_max_snr: float = setting(1e-2, ">= 0")
    # config.yaml transforms_gain: 0.3
    gain_p: float = setting(0.3, "[0, 1]")
    # torchaudio-augmentations Gain(min_gain=-20.0, max_gain=-1); the thesis text says -6..0 dB,
    # the shipped code (what the published numbers were trained with) uses -20..-1 dB
    gain_min_db: float = setting(-20.0, "any")
    gain_max_db: float = setting(-1.0, "any")
    # config.yaml transforms_filters: 0.8
    filter_p: float = setting(0.8, "[0, 1]")
    # torchaudio-augmentations HighLowPass(highpass_freq_low=200, highpass_freq_high=1200)
    highpass_hz: tuple[float, float] = setting((200.0, 1200.0), "> 0", ordered=True)
    # torchaudio-augmentations HighLowPass(lowpass_freq_low=2200, lowpass_freq_high=4000)
    lowpass_hz: tuple[float, float] = setting((2200.0, 4000.0), "> 0", ordered=True)
    # config.yaml transforms_delay: 0.3
    delay_p: float = setting(0.3, "[0, 1]")
    # torchaudio-augmentations Delay: np.arange(200, 500, 50) ms, i.e. 200..450 inclusive
    delay_min_ms: int = setting(200, ">= 0")
    delay_max_ms: int = setting(450, ">= 0")
    delay_step_ms: int = setting(50, ">= 1")
    # torchaudio-augmentations Delay(volume_factor=0.5)
    delay_volume: float = setting(0.5, "[0, 1]")
    # config.yaml transforms_pitch: 0.6
    pitch_p: float = setting(0.6, "[0, 1]")
    # torchaudio-augmentations PitchShift(pitch_cents_min=-700, pitch_cents_max=700)
    pitch_min_cents: int = setting(-700, "any")
    pitch_max_cents: int = setting(700, "any")
    # config.yaml transforms_reverb: 0.6
    reverb_p: float = setting(0.6, "[0, 1]")
    # torchaudio-augmentations Reverb: torch.randint(0, 100) for each of the three
    reverberance: tuple[int, int] = setting((0, 99), "[0, 100]", ordered=True)
    damping: tuple[int, int] = setting((0, 99), "[0, 100]", ordered=True)
    room_size: tuple[int, int] = setting((0, 99), "[0, 100]", ordered=True)

    @classmethod
    def always(cls) -> "CLMRAugmentConfig":
        """Every transform with p = 1 (tests, and the worst case for speed)."""
        return cls(
            polarity_p=1.0, noise_p=1.0, gain_p=1.0, filter_p=1.0, delay_p=1.0, pitch_p=1.0, reverb_p=1.0
        )


class CLMRAugment(torch.nn.Module):
    """Apply CLMR's chain to a (B, N) batch; every clip draws its own coins and parameters.

    Two calls on the same batch give the two independent views CLMR contrasts. The module has
    no weights; ``generator`` (optional) makes its draws reproducible independently of the
    global seed, and must live on the wave's device. ``static_shapes`` runs every transform
    on every row with shapes fixed by the config's ranges and no device-to-host reads, so that
    the chain can be compiled or captured in a CUDA graph (``batching.static_shapes``); the
    draws and each chosen row's result stay the same. Off by default: it costs the skipped rows'
    work (pitch and reverb p = 0.6), and whether removing the reads pays for that on a GPU is
    measured by benchmarks/h200_speed.py, not yet run (docs/PERFORMANCE.md, "Issue 14").
    """

    def __init__(
        self, config: CLMRAugmentConfig | None = None, generator: Generator = None, static_shapes: bool = False
    ) -> None:
        super().__init__()
        self.config = config or CLMRAugmentConfig()
        self.generator = generator
        self.static_shapes = static_shapes

    def transforms(self) -> dict[str, Transform]:
        """The chain's steps by name, in CLMR's order, each with this config's p and ranges.

        The one place where the config's fields meet the transforms' arguments: ``forward``
        runs them in turn, benchmarks/augment_speed.py times them one by one.
        """
        c, g = self.config, self.generator
        return {
            "polarity": lambda w, sr: polarity_inversion(w, sr, c.polarity_p, generator=g),
            "noise": lambda w, sr: white_noise(w, sr, c.noise_p, c.noise_min_snr, c.noise_max_snr, generator=g),
            "gain": lambda w, sr: gain(w, sr, c.gain_p, c.gain_min_db, c.gain_max_db, generator=g),
            "filter": lambda w, sr: high_low_pass(w, sr, c.filter_p, c.highpass_hz, c.lowpass_hz, generator=g),
            "delay": lambda w, sr: delay(
                w, sr, c.delay_p, c.delay_min_ms, c.delay_max_ms, c.delay_step_ms, c.delay_volume, generator=g
            ),
            "pitch": lambda w, sr: pitch_shift(w, sr, c.pitch_p, c.pitch_min_cents, c.pitch_max_cents, generator=g),
            "reverb": lambda w, sr: reverb(w, sr, c.reverb_p, c.reverberance, c.damping, c.room_size, generator=g),
        }

    def forward(self, wave: Tensor, sample_rate: int) -> Tensor:
        """(B, N) -> (B, N) float32 on wave's device: polarity, noise, gain, filter, delay,
        pitch, reverb, in CLMR's order, each with its own coin per clip."""
        check_batch(wave)
        wave = wave.float()
        with static_shapes(self.static_shapes):
            for transform in self.transforms().values():
                wave = transform(wave, sample_rate)
        return wave


def augment_one_at_a_time(chain: Transform, wave: Tensor, sample_rate: int) -> Tensor:
    """The same chain (or any one transform) called once per clip in a Python loop, as CLMR's
    data loader does.

    This is the reference the speed benchmark compares the batched call against: identical
    transforms and distributions, but B small calls instead of one large one.
    """
    check_batch(wave)
    return torch.cat([chain(wave[i : i + 1], sample_rate) for i in range(wave.shape[0])])
