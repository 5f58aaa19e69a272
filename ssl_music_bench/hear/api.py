"""The HEAR 2021 API over a trained method: what an exported module (``bench export --hear``) calls.

HEAR 2021 (Turian et al., "HEAR: Holistic Evaluation of Audio Representations", PMLR 176, 2022;
https://hearbenchmark.com, the common API) asks a module for three functions:

    load_model(model_file_path="") -> Model        with sample_rate, scene_embedding_size,
                                                     timestamp_embedding_size
    get_scene_embeddings(audio, model) -> (n_sounds, scene_embedding_size)
    get_timestamp_embeddings(audio, model) -> ((n_sounds, n_timestamps, timestamp_embedding_size),
                                               (n_sounds, n_timestamps) in milliseconds)

``audio`` is (n_sounds, n_samples) at the model's sample rate, in [-1, 1], of any length (the
validator sends 2 s and 3.74 s of white noise; HEAR tasks go from under a second to minutes).

Scene embedding: the benchmark's own probe features of the sound, computed as its probe sees a
clip: consecutive non-overlapping crops of the encoder's length (a sound shorter than one crop is
zero-padded to one, as evaluate/embed.py does; SampleCNN's crop is 2.68 s, longer than many HEAR
sounds), each through the method's frozen ``features``, averaged over the crops.

Timestamp embeddings: one crop centred on each timestamp (zero-padded at both ends), timestamps
every ``hop_ms`` (50 ms by default, the interval HEAR suggests for music transcription, whose
onset tolerance is 50 ms) from 0 to the end of the sound. Each timestamp costs a whole crop's
forward pass: with SampleCNN that is 20 crops per second of audio.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ssl_music_bench.contracts.method import Method
from ssl_music_bench.errors import BenchError

HEAR_SAMPLE_RATES = (16_000, 22_050, 32_000, 44_100, 48_000)  # HEAR 2021 rules (the 2021 validator: not 32 kHz)
DEFAULT_HOP_MS = 50.0
WINDOWS_PER_BATCH = 64  # crops per forward pass: bounds memory for long sounds


class HearModel(nn.Module):
    """A trained method behind the HEAR attributes; its ``features`` is what both embeddings use."""

    def __init__(self, method: Method, hop_ms: float = DEFAULT_HOP_MS) -> None:
        super().__init__()
        encoder = method.encoder
        if encoder.sample_rate not in HEAR_SAMPLE_RATES:
            raise BenchError(f"The encoder {type(encoder).__name__} works at {encoder.sample_rate} Hz; a HEAR module "
                             f"must take one of {', '.join(map(str, HEAR_SAMPLE_RATES))} Hz, so it cannot be exported.")
        self.method = method.eval()
        self.sample_rate: int = int(encoder.sample_rate)
        self.crop_samples: int = int(encoder.crop_samples)
        self.hop_samples: int = max(1, round(self.sample_rate * hop_ms / 1000))
        with torch.no_grad():  # the size of the probe features (CPC's context, not the encoder's embedding)
            size = int(self.method.features(torch.zeros(1, self.crop_samples)).shape[-1])
        self.scene_embedding_size: int = size
        self.timestamp_embedding_size: int = size

    def train(self, mode: bool = True) -> HearModel:
        # frozen: batch norm keeps its running statistics whatever the caller sets
        return super().train(False)

    def embed_crops(self, crops: Tensor) -> Tensor:
        """(n, crop_samples) -> (n, size) float32, in batches of WINDOWS_PER_BATCH."""
        device = next(self.parameters(), torch.zeros(())).device
        outputs = [self.method.features(batch.to(device=device, dtype=torch.float32)).float()
                   for batch in crops.split(WINDOWS_PER_BATCH)]
        return torch.cat(outputs) if outputs else torch.zeros(0, self.scene_embedding_size, device=device)


def _check_audio(audio: Tensor) -> Tensor:
    if not isinstance(audio, Tensor) or audio.dim() != 2:
        shape = tuple(audio.shape) if isinstance(audio, Tensor) else type(audio).__name__
        raise ValueError(f"HEAR audio is a (n_sounds, n_samples) tensor at the model's sample rate, got {shape}")
    return audio.float()


@torch.no_grad()
def scene_embeddings(audio: Tensor, model: HearModel) -> Tensor:
    """(n_sounds, n_samples) -> (n_sounds, scene_embedding_size): the mean over consecutive crops."""
    audio = _check_audio(audio)
    crop = model.crop_samples
    if audio.shape[1] < crop:  # shorter than one crop: zero-padded to one, as the benchmark's probe does
        audio = torch.nn.functional.pad(audio, (0, crop - audio.shape[1]))
    count = audio.shape[1] // crop  # the last partial crop is dropped, as in CLMR's evaluation
    crops = audio[:, : count * crop].reshape(audio.shape[0] * count, crop)
    return model.embed_crops(crops).reshape(audio.shape[0], count, -1).mean(dim=1)


@torch.no_grad()
def timestamp_embeddings(audio: Tensor, model: HearModel) -> tuple[Tensor, Tensor]:
    """(n_sounds, n_samples) -> embeddings (n_sounds, T, size) and timestamps (n_sounds, T) in ms,
    one crop centred on every hop from sample 0 (T = (n_samples - 1) // hop + 1)."""
    audio = _check_audio(audio)
    crop, hop = model.crop_samples, model.hop_samples
    sounds, samples = audio.shape
    left = crop // 2
    padded = torch.nn.functional.pad(audio, (left, crop - 1 - left))  # window i is centred on sample i * hop
    windows = padded.unfold(1, crop, hop)  # (sounds, T, crop): a view, the crops overlap in memory
    steps = windows.shape[1]
    # sound by sound and batch by batch, never as one (sounds x T, crop) copy: a minute of audio
    # at 22.05 kHz is 1,200 SampleCNN crops, 280 MB per sound if the overlapping views were copied
    embeddings = torch.stack([model.embed_crops(windows[sound]) for sound in range(sounds)]) if sounds else \
        torch.zeros(0, steps, model.timestamp_embedding_size)
    times = torch.arange(steps, dtype=torch.float64) * hop * 1000.0 / model.sample_rate
    return embeddings, times.float().to(embeddings.device).expand(sounds, steps).contiguous()


ABOUT = "about.json"
WEIGHTS = "model.safetensors"


def load_exported(folder: Path, weights_path: str | Path = "") -> HearModel:
    """The model of an exported module: the method rebuilt from ``about.json`` and its weights
    (``model.safetensors`` beside it, or another file of the same method given to load_model)."""
    from safetensors.torch import load_file

    from ssl_music_bench.hear.rebuild import rebuild_method

    about: dict[str, Any] = json.loads((folder / ABOUT).read_text(encoding="utf-8"))
    method = rebuild_method(about["method"], about["encoder"], about["method_config"])
    method.load_state_dict(load_file(str(weights_path or folder / WEIGHTS)), strict=True)
    return HearModel(method, about.get("hop_ms", DEFAULT_HOP_MS))
