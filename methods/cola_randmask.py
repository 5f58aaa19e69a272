"""COLA + random soft mask: the control for multi-source association.

Garoufis, Zlatintsi & Maragos, SMC 2023 (arXiv 2302.07077), whose poster lists "COLA + random
soft mask" beside COLA + MSA: the separated source of the positive is replaced by the mixture
under a random soft mask. It asks whether MSA's gain comes from *sources* or merely from pairing
an excerpt with a spectrally filtered version of it. The reference code (cgaroufis/MSCOL_SMC23)
has no such option, so this is our reading:

    "sources replaced by random soft masks of the mixture" (our summary of the poster's variant)

The positive is a COLA positive (an independent crop of the same ~4 s mixture excerpt) passed
through a random smooth soft time-frequency mask, on the device:

    X = STFT(x)  (Hann, n_fft 1024, hop 256, at the encoder's rate)
    M = sigmoid(sharpness * upsample_bilinear(N(0, 1) on a cells_freq x cells_time grid))
    x' = iSTFT(M * X)   (mixture phase kept, as open-unmix's soft masks do)

Why this shape: open-unmix makes a source estimate by scaling the mixture's STFT magnitudes with
values in [0, 1] and keeping its phase, and its masks vary smoothly over bands and tens of
milliseconds. A mask of the same kind but drawn at random keeps everything about the positive
(same excerpt, same filtering machinery, level reduced like a source's) except the source
semantics. The grid (32 linear bands of ~250 Hz at 16 kHz x 8 cells per 1 s crop) and the
sharpness (3: about half the bins below 0.2 or above 0.8) are our choices.

The loss is COLA's: L = -1/B sum_i log( exp s(x_i, x'_i) / sum_j exp s(x_i, x'_j) ). Batches
are COLA's (no stems needed); the excerpt length and Adam 1e-3 follow MSA (methods/msa.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Generator, Tensor

from ssl_music_bench.contracts.registry import register_method
from ssl_music_bench.contracts.settings import setting
from ssl_music_bench.methods.cola import COLA, COLAConfig
from ssl_music_bench.train.distributed import draw


@dataclass
class RandMaskConfig(COLAConfig):
    """COLA's settings (methods/cola.py) plus the random mask's (our choices, see the module)."""

    mask_cells_freq: int = setting(32, ">= 1")  # ~250 Hz bands at 16 kHz: bass, kick, voice land in different cells
    mask_cells_time: int = setting(8, ">= 1")  # ~125 ms cells per 1 s crop: note-scale changes
    mask_sharpness: float = setting(3.0, "> 0")  # logit scale: masks spread over (0, 1) rather than near 0.5
    n_fft: int = setting(1024, ">= 2")
    hop_length: int = setting(256, ">= 1")


def random_soft_mask(
    wave: Tensor, cells: tuple[int, int] = (32, 8), sharpness: float = 3.0, n_fft: int = 1024,
    hop_length: int = 256, generator: Generator | None = None,
) -> Tensor:
    """(B, N) -> (B, N): each row under its own random smooth soft STFT mask, mixture phase kept."""
    window = torch.hann_window(n_fft, device=wave.device, dtype=wave.dtype)
    spectrum = torch.stft(wave, n_fft, hop_length, window=window, return_complex=True)  # (B, F, T)
    shape = (wave.shape[0], 1, *cells)
    coarse = draw(shape[0], lambda n: torch.randn((n, *shape[1:]), device=wave.device, dtype=wave.dtype,
                                                   generator=generator))
    logits = F.interpolate(coarse, size=spectrum.shape[-2:], mode="bilinear", align_corners=True)
    mask = torch.sigmoid(sharpness * logits[:, 0])
    return torch.istft(spectrum * mask, n_fft, hop_length, window=window, length=wave.shape[-1])


@register_method("cola-randmask", paper="Garoufis, Zlatintsi & Maragos, SMC 2023")
class COLARandMask(COLA):
    """COLA whose positive is the mixture under a random soft mask (MSA's control, SMC 2023)."""

    accepts = frozenset({"wave", "mel"})  # the mask acts on the wave crop, before any frontend
    config_class = RandMaskConfig

    def views(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        anchor, positive = super().views(audio)
        c = self.config
        cells = (c.mask_cells_freq, c.mask_cells_time)
        return anchor, random_soft_mask(positive, cells, c.mask_sharpness, c.n_fft, c.hop_length)
