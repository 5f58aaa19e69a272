"""COLA + MWS: COLA with masking, warping and shifting of the log-mel views.

Garoufis, Zlatintsi & Maragos, SMC 2023 (arXiv 2302.07077; cgaroufis/MSCOL_SMC23
``pretraining.py --mask``), re-implementing the "data-driven" augmentation of S3T (Zhao et al.,
ICASSP 2022) on top of COLA (Saeed et al., ICASSP 2021):

    "reimplements the data-driven augmentation pipeline outlined in the S3T paper"

Each view (anchor and positive, independently) is a COLA crop whose log-mel goes through time
masking (p 0.5), frequency masking (p 0.5), frequency shifting (p 0.4) and time warping (p 0.4)
before the encoder; the loss is COLA's unchanged:

    L = -1/B sum_i log( exp s(x_i, x'_i) / sum_j exp s(x_i, x'_j) ),  s(x, x') = g(x)^T W g(x')

Probabilities and ranges: ssl_music_bench/augment/mws.py. Masked and shifted-in values are
``fill_value``, by default the reference's 0 -- in a natural-log mel that is a magnitude of 1,
not silence (log 1e-5 ~ -11.51; ``--set fill_value=-11.51`` gives silence instead).
The reference adds no wave noise to the positive in either its COLA or its COLA+MWS runs (it
crops precomputed log-mels); this method inherits COLA's ``positive_noise`` so that cola and
cola-mws differ by MWS alone (``--set positive_noise=0`` reproduces the reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ssl_music_bench.augment.mws import MWSConfig, mask_warp_shift
from ssl_music_bench.contracts.registry import register_method
from ssl_music_bench.methods.cola import COLA, COLAConfig


@dataclass
class COLAMWSConfig(MWSConfig, COLAConfig):
    """COLA's settings (methods/cola.py) and MWS's (augment/mws.py), flat so --set reaches both."""


@register_method("cola-mws", paper="Garoufis, Zlatintsi & Maragos, SMC 2023; Zhao et al., ICASSP 2022")
class COLAMWS(COLA):
    """COLA with masking, warping and shifting of each view's log-mel (S3T's MWS, as in MSCOL)."""

    accepts = frozenset({"mel"})  # MWS acts on the spectrogram the encoder's frontend makes
    config_class = COLAMWSConfig

    def embed(self, waves: Tensor) -> Tensor:
        # Per view (COLA stacks anchors over positives): each view's draws are then per global
        # example, the same with any number of processes (ssl_music_bench/train/distributed.py).
        views = self.encoder.frontend(waves).chunk(2)
        spectrogram = torch.cat([mask_warp_shift(view, self.config) for view in views])
        return self.projection(self.encoder.embed_features(spectrogram))
