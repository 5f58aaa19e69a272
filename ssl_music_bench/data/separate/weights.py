"""Which open-unmix separator splits the mixtures: the published models and their weights.

The published models are umxhq (trained on MUSDB18-HQ, Zenodo record 3370489; the default), umx
(MUSDB18, record 3370486) and umxl (about 400 h of private multitracks, record 5069601). Their
weights come from open-unmix's own loader (torch hub: downloaded once, or found in the hub cache)
or from a local directory, for machines without network access. Whatever the separator, it must
estimate the four stems of :data:`~ssl_music_bench.contracts.sources.SOURCES`.
"""

from __future__ import annotations

import json
from pathlib import Path

import openunmix
import torch

from ssl_music_bench.contracts.sources import SOURCES
from ssl_music_bench.errors import BenchError, did_you_mean

# open-unmix's published models (a torch hub loader of that name exists in `openunmix`)
MODELS = {
    "umxhq": "MUSDB18-HQ, https://zenodo.org/records/3370489",
    "umx": "MUSDB18, https://zenodo.org/records/3370486",
    "umxl": "~400 h of private multitracks, https://zenodo.org/records/5069601",
}


def openunmix_targets() -> tuple[str, ...]:
    """open-unmix's target names, in its own order."""
    return ("vocals", "drums", "bass", "other")


def load_separator(model: str, weights: str | Path | None, niter: int, device: torch.device) -> torch.nn.Module:
    """open-unmix ``model`` with the weights in directory ``weights``, or its pretrained weights.

    A weights directory holds either ``<target>.pth`` or the published ``<target>-<hash>.pth``
    for vocals, drums, bass and other (loaded into ``model``'s architecture), or open-unmix's
    training output (``separator.json`` plus ``<target>.json`` and ``<target>*.pth``, read by
    ``openunmix.utils.load_separator``, which takes the architecture from the JSON files).
    """
    if model not in MODELS:
        raise BenchError(f'Unknown open-unmix model "{model}"; choose one of {", ".join(MODELS)}.'
                         + did_you_mean(model, MODELS))
    names = list(openunmix_targets())
    if weights is None:
        try:
            return getattr(openunmix, model)(targets=names, niter=niter, device=device, pretrained=True)
        except Exception as error:  # no network, no hub cache, a broken download
            raise BenchError(_no_weights_message(model, error)) from error
    directory = Path(weights).expanduser()
    files = {t: sorted(directory.glob(f"{t}.pth")) or sorted(directory.glob(f"{t}-*.pth")) for t in names}
    missing = [t for t, found in files.items() if not found]
    if not directory.is_dir() or missing:
        raise BenchError(
            f"The open-unmix weights directory {directory} lacks {', '.join(missing or names)}: it should "
            "hold vocals.pth, drums.pth, bass.pth and other.pth (or the published files such as "
            f"vocals-b62c91ce.pth), for the model {model} ({MODELS[model]}), optionally with "
            "open-unmix's separator.json and <target>.json from training."
        )
    try:
        if (directory / "separator.json").is_file():
            return openunmix.utils.load_separator(
                model_str_or_path=str(directory), targets=names, niter=niter, device=device, pretrained=True
            )
        separator = getattr(openunmix, model)(targets=names, niter=niter, device="cpu", pretrained=False)
        for target in names:
            state = torch.load(files[target][0], map_location="cpu", weights_only=True)
            state = state.get("state_dict", state)
            missing_keys = separator.target_models[target].load_state_dict(state, strict=False).missing_keys
            if missing_keys:
                raise RuntimeError(f"{files[target][0].name} lacks {', '.join(missing_keys)}")
    except (OSError, RuntimeError, KeyError, ValueError, json.JSONDecodeError) as error:
        raise BenchError(
            f"The open-unmix weights in {directory} could not be loaded as the model {model}: {error}. "
            "Weights of UMX-L need model umxl (hidden size 1024), those of umxhq/umx model umxhq or umx "
            "(512); a directory with separator.json needs <target>.json files from open-unmix training."
        ) from error
    return separator.to(device)


def _no_weights_message(model: str, error: BaseException) -> str:
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    return (
        f"The pretrained open-unmix weights ({model}, trained on {MODELS[model]}) could not be "
        f"fetched ({type(error).__name__}: {error}). Without network access, download the four files "
        f"vocals-*.pth, drums-*.pth, bass-*.pth and other-*.pth of that Zenodo record elsewhere and "
        f"either put them in a directory and pass `--weights DIR` (the files may also be named "
        f"vocals.pth, drums.pth, bass.pth, other.pth), or copy them unchanged into the torch hub "
        f"cache {cache}, where open-unmix's loader finds them offline."
    )


def target_positions(separator: torch.nn.Module) -> list[int]:
    """Position of each of SOURCES among the separator's outputs."""
    names = list(getattr(separator, "target_models", {}))
    missing = [s for s in SOURCES if s not in names]
    if missing:
        raise BenchError(
            f"The separator estimates {', '.join(names) or 'nothing'}, but the stems store needs "
            f"{', '.join(SOURCES)}: use an open-unmix music model (umxhq, umx or umxl) with all four targets."
        )
    return [names.index(s) for s in SOURCES]
