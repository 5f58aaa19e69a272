"""CLMR's audio augmentations as batched tensor operations on the training device.

Every transform takes a (B, N) float batch and its sample rate, draws one coin and one set of
parameters per example on the batch's device, and keeps the length. ``CLMRAugment`` chains
them in CLMR's order; ``random_crop`` cuts the views before it. See each module's docstring
for how the SoX effects of the reference (pitch, reverb) are approximated.
"""

from ssl_music_bench.augment.basic import (
    apply_delay,
    apply_gain,
    delay,
    gain,
    polarity_inversion,
    random_crop,
    white_noise,
)
from ssl_music_bench.augment.batching import static_shapes
from ssl_music_bench.augment.chain import CLMRAugment, CLMRAugmentConfig, augment_one_at_a_time
from ssl_music_bench.augment.filters import apply_high_low_pass, high_low_pass
from ssl_music_bench.augment.pitch import apply_pitch_shift, pitch_shift
from ssl_music_bench.augment.reverb import apply_reverb, reverb

__all__ = [
    "CLMRAugment",
    "CLMRAugmentConfig",
    "apply_delay",
    "apply_gain",
    "apply_high_low_pass",
    "apply_pitch_shift",
    "apply_reverb",
    "augment_one_at_a_time",
    "delay",
    "gain",
    "high_low_pass",
    "pitch_shift",
    "polarity_inversion",
    "random_crop",
    "reverb",
    "static_shapes",
    "white_noise",
]
