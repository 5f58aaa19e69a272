"""``bench separate``: split every mixture of a prepared store into four stems with open-unmix.

Multi-source association (Garoufis et al., SMC 2023; FACTS.md) pairs a mixture excerpt with one
of its sources, "separated with open-unmix into vocals, drums, bass and other (accompaniment)",
and marks a source excerpt silent when mean(|x|) <= 0.01 over its ~4 s window of the 16 kHz stem.
:func:`separate_store` turns a mixture store into a store of the same items with the four stems
aligned sample for sample, plus each item's per-window levels (field ``silence``), so pretraining
only slices arrays.

How a clip is separated: the store's mono audio is resampled on the device to the separator's
rate (44.1 kHz for umxhq / umxl), duplicated to stereo, separated, each stem is averaged back to
mono, resampled to the store's rate, cut to the mixture's exact length and clipped to [-1, 1].
Clips of equal length are separated together, at most ``batch_seconds`` of audio per call; a
clip longer than that is separated in ``batch_seconds`` chunks with a 1 s linear cross-fade, so
memory stays bounded whatever the clip length.

Weights. The published models are umxhq (trained on MUSDB18-HQ, Zenodo record 3370489; the
default), umx (MUSDB18, record 3370486) and umxl (about 400 h of private multitracks, record
5069601). They come from open-unmix's own loader (torch hub: downloaded once, or found in the hub
cache) or from a local directory (``weights``). A separator built with ``pretrained=False`` runs
the same code path but its stems are meaningless (random masks of the mixture): it is for tests.

Atomicity and resumption: results are kept per batch in ``<output>.work/`` (one int16 array per
batch, listed in ``done.jsonl``) under a fingerprint of the input manifest, the separator's
weights and settings; a re-run with the same fingerprint separates only what is missing. The
store is then written through :class:`ClipStoreWriter` (``<output>.partial``, renamed into place)
and the work directory removed, so ``output`` is either absent or complete. Until then the work
directory holds a second copy of the stems.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openunmix
import torch
import torchaudio
from rich.progress import Progress

from ssl_music_bench.data.silence import window_levels
from ssl_music_bench.data.store import ClipStore, ClipStoreWriter, from_int16, to_int16
from ssl_music_bench.data.synth.styles import SOURCES  # stems stores keep the synthetic corpus's order
from ssl_music_bench.devices import default_device
from ssl_music_bench.errors import BenchError, did_you_mean
from ssl_music_bench.io import write_json_atomic

SILENCE_WINDOW_SECONDS = 4.0  # MSA's excerpt: mean(|x|) over each 4 s window of the raw stem
CROSSFADE_SECONDS = 1.0  # between the chunks of a clip longer than ``batch_seconds``
WORK_FORMAT = 1
# open-unmix's published models (a torch hub loader of that name exists in `openunmix`)
MODELS = {
    "umxhq": "MUSDB18-HQ, https://zenodo.org/records/3370489",
    "umx": "MUSDB18, https://zenodo.org/records/3370486",
    "umxl": "~400 h of private multitracks, https://zenodo.org/records/5069601",
}


def separate_store(
    store: ClipStore,
    output: str | Path,
    separator: torch.nn.Module | None = None,
    weights: str | Path | None = None,
    model: str = "umxhq",
    device: torch.device | None = None,
    batch_seconds: float = 120.0,
    niter: int = 1,
    progress: Progress | None = None,
) -> ClipStore:
    """Write at ``output`` a store of ``store``'s items (same order, ids, splits, labels, fields and
    mixtures) with stems ``SOURCES`` separated by open-unmix and the field ``silence``.

    ``silence[source]`` lists mean(|stem|) of the stored (int16) stem per window of
    ``SILENCE_WINDOW_SECONDS``: windows start at 0, 4 s, 8 s, ...; a last partial window is
    dropped; a clip shorter than one window has one level, over the whole clip (exactly the grid of
    :func:`ssl_music_bench.data.multisource.excerpt_grid` with 4 s excerpts). MSA's threshold is 0.01.

    The separator is ``separator`` if given (any open-unmix ``Separator``-like module: a
    ``sample_rate`` buffer, ``target_models`` naming the four targets, ``forward`` from
    (batch, channels, time) to (batch, targets, channels, time)); else the model ``model``
    with the weights in the directory ``weights``; else open-unmix's pretrained ``model``.
    ``niter`` (Wiener EM iterations, open-unmix's default 1) applies to loaded models only.
    ``batch_seconds`` bounds the audio per separator call. An ``output`` already made from this
    store by the same separator is reused; any other existing ``output`` is refused.
    """
    output = Path(output)
    if output.resolve() == store.root.resolve():
        raise BenchError(f"The separated store must go to a new directory, not over its input {store.root}.")
    if batch_seconds <= 0:
        raise BenchError(f"batch_seconds must be positive, got {batch_seconds}.")
    device = device or default_device()
    if separator is None:
        separator = load_separator(model, weights, niter, device)
        described = {"model": model, "weights": str(weights) if weights else "pretrained (torch hub)"}
    else:
        described = {"model": type(separator).__name__, "weights": "given separator"}
    separator = separator.to(device).eval()
    targets = _check_targets(separator)
    rate = int(round(float(separator.sample_rate)))
    fingerprint = _fingerprint(store, separator, batch_seconds)

    if output.exists():
        return _reuse(output, fingerprint, store, progress)

    work = _Work(output.with_name(output.name + ".work"), fingerprint)
    pending = [i for i in range(len(store)) if i not in work.done]
    task = None
    if progress is not None:
        resumed = f" (resuming: {len(work.done)} done before)" if work.done else ""
        task = progress.add_task(f"separating with open-unmix{resumed}", total=len(store), completed=len(work.done))
    channels = 1 if getattr(getattr(separator, "complexnorm", None), "mono", False) else 2
    # the resampling kernels are computed once (they cost more than resampling a clip)
    up = torchaudio.transforms.Resample(store.sample_rate, rate).to(device)
    down = torchaudio.transforms.Resample(rate, store.sample_rate).to(device)
    with torch.inference_mode():
        for batch in _batches(store, pending, batch_seconds):
            audio = torch.from_numpy(np.stack([store.read(i) for i in batch])).to(device)
            stems = _separate(separator, audio, up, down, rate, channels, targets, batch_seconds)
            work.save(batch, to_int16(stems.cpu().numpy()))
            if progress is not None and task is not None:
                progress.advance(task, len(batch))

    separation = {
        **described,
        "separator_rate": rate,
        "niter": getattr(separator, "niter", None),
        "source_store": str(store.root),
        "silence_window_seconds": SILENCE_WINDOW_SECONDS,
        "silence_window_samples": _window(store.sample_rate),
        "fingerprint": fingerprint,
    }
    result = _write(store, output, work, separation, progress)
    shutil.rmtree(work.root)
    return result


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


def openunmix_targets() -> tuple[str, ...]:
    """open-unmix's target names, in its own order."""
    return ("vocals", "drums", "bass", "other")


def _window(sample_rate: int) -> int:
    return round(SILENCE_WINDOW_SECONDS * sample_rate)


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


def _check_targets(separator: torch.nn.Module) -> list[int]:
    """Position of each of SOURCES among the separator's outputs."""
    names = list(getattr(separator, "target_models", {}))
    missing = [s for s in SOURCES if s not in names]
    if missing:
        raise BenchError(
            f"The separator estimates {', '.join(names) or 'nothing'}, but the stems store needs "
            f"{', '.join(SOURCES)}: use an open-unmix music model (umxhq, umx or umxl) with all four targets."
        )
    return [names.index(s) for s in SOURCES]


def _fingerprint(store: ClipStore, separator: torch.nn.Module, batch_seconds: float) -> str:
    """What the stems depend on: the input items, the weights, the separation settings."""
    digest = hashlib.sha256()
    digest.update((store.root / "manifest.jsonl").read_bytes())
    settings = {
        "format": WORK_FORMAT,
        "store_rate": store.sample_rate,
        "batch_seconds": batch_seconds,
        "crossfade": CROSSFADE_SECONDS,
        **{name: getattr(separator, name, None) for name in ("niter", "softmask", "residual", "wiener_win_len")},
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for name, tensor in separator.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def _reuse(output: Path, fingerprint: str, store: ClipStore, progress: Progress | None) -> ClipStore:
    try:
        existing = ClipStore(output)
    except (FileNotFoundError, ValueError, KeyError, json.JSONDecodeError):
        existing = None
    if existing is None or existing.header.get("separation", {}).get("fingerprint") != fingerprint:
        raise BenchError(
            f"{output} already exists and is not the stems of {store.root} made with this separator and "
            "these settings. Remove it, or choose another output directory."
        )
    if progress is not None:
        progress.console.print(f"reusing the separated store {output}")
    return existing


def _batches(store: ClipStore, indices: Sequence[int], batch_seconds: float) -> list[list[int]]:
    """Clips of equal length together, at most ``batch_seconds`` of audio (at least one clip) each;
    in the order of their first clip."""
    by_length: dict[int, list[int]] = defaultdict(list)
    for index in indices:
        by_length[store.items[index].length].append(index)
    batches = []
    for length, group in by_length.items():
        size = max(1, int(batch_seconds * store.sample_rate // max(1, length)))
        batches += [group[k : k + size] for k in range(0, len(group), size)]
    return sorted(batches, key=lambda batch: batch[0])


def _separate(
    separator: torch.nn.Module, audio: torch.Tensor, up: torch.nn.Module, down: torch.nn.Module, rate: int,
    channels: int, targets: list[int], batch_seconds: float,
) -> torch.Tensor:
    """(batch, time) mono mixtures -> (batch, len(SOURCES), time) mono stems in [-1, 1]; ``up`` and
    ``down`` resample from the store's rate to the separator's ``rate`` and back."""
    length = audio.shape[-1]
    x = up(audio)
    x = x.unsqueeze(1).expand(-1, channels, -1).contiguous()  # mono -> identical channels
    chunk = max(1, int(batch_seconds * rate))
    estimates = _chunked(separator, x, chunk, min(int(CROSSFADE_SECONDS * rate), chunk // 2))
    stems = estimates[:, targets].mean(2)  # (batch, sources, time at the separator's rate)
    stems = down(stems)[..., :length]
    if stems.shape[-1] < length:
        stems = torch.nn.functional.pad(stems, (0, length - stems.shape[-1]))
    return stems.clamp(-1.0, 1.0)


def _chunked(separator: torch.nn.Module, x: torch.Tensor, chunk: int, overlap: int) -> torch.Tensor:
    """Separate (batch, channels, time) whole, or in chunks cross-faded over ``overlap`` samples."""
    length = x.shape[-1]
    if length <= chunk:
        return _call(separator, x)
    starts = list(range(0, length - chunk, chunk - overlap)) + [length - chunk]
    ramp = (torch.arange(overlap, device=x.device, dtype=x.dtype) + 0.5) / max(1, overlap)
    total: torch.Tensor | None = None
    weight = torch.zeros(length, device=x.device, dtype=x.dtype)
    for start in starts:
        piece = _call(separator, x[..., start : start + chunk])
        fade = torch.ones(chunk, device=x.device, dtype=x.dtype)
        if start > 0 and overlap:
            fade[:overlap] = ramp
        if start + chunk < length and overlap:
            fade[-overlap:] = ramp.flip(0)
        if total is None:
            total = torch.zeros((*piece.shape[:-1], length), device=x.device, dtype=piece.dtype)
        total[..., start : start + chunk] += piece * fade
        weight[start : start + chunk] += fade
    assert total is not None
    return total / weight


def _call(separator: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One separator call; clips shorter than two FFT frames are zero-padded (the centred STFT's
    reflection padding needs them) and the estimates cut back."""
    length = x.shape[-1]
    minimum = 2 * int(getattr(getattr(separator, "stft", None), "n_fft", 4096))
    if length < minimum:
        x = torch.nn.functional.pad(x, (0, minimum - length))
    return separator(x)[..., :length]


class _Work:
    """Separated batches kept on disk until the store is published: ``job.json`` (fingerprint),
    ``batch-<first index>.npy`` (int16, (clips, sources, time)), ``done.jsonl`` (which clips)."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.root = root
        self.done: dict[int, tuple[str, int]] = {}  # store index -> (file, row)
        job = root / "job.json"
        if root.exists() and (not job.is_file() or json.loads(job.read_text()).get("fingerprint") != fingerprint):
            shutil.rmtree(root)  # another input or separator: nothing to resume
        write_json_atomic(job, {"fingerprint": fingerprint})  # a cut write would fail the next run's read
        done = root / "done.jsonl"
        if done.is_file():
            for line in done.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line cut by an interruption
                    continue
                if (root / entry["file"]).is_file():
                    self.done.update({i: (entry["file"], row) for row, i in enumerate(entry["indices"])})
        self._arrays: dict[str, np.ndarray] = {}

    def save(self, indices: list[int], stems: np.ndarray) -> None:
        name = f"batch-{indices[0]:08d}.npy"
        temporary = self.root / f"{name}.tmp.npy"
        np.save(temporary, stems)
        os.replace(temporary, self.root / name)
        with open(self.root / "done.jsonl", "a", encoding="utf-8") as done:
            done.write(json.dumps({"file": name, "indices": indices}) + "\n")
            done.flush()
            os.fsync(done.fileno())
        self.done.update({i: (name, row) for row, i in enumerate(indices)})

    def stems(self, index: int) -> np.ndarray:
        name, row = self.done[index]
        if name not in self._arrays:
            if len(self._arrays) >= 64:  # each memory map holds a file descriptor
                self._arrays.clear()
            self._arrays[name] = np.load(self.root / name, mmap_mode="r")
        return self._arrays[name][row]


def _write(store: ClipStore, output: Path, work: _Work, separation: dict[str, Any],
           progress: Progress | None) -> ClipStore:
    """The new store, in the input's manifest order (skipped items kept as skipped)."""
    basics = {"format", "sample_rate", "sources", "items", "shards", "separation"}
    metadata = {k: v for k, v in store.header.items() if k not in basics} | {"separation": separation}
    window = _window(store.sample_rate)
    task = progress.add_task("writing the stems store", total=len(store)) if progress is not None else None
    index = 0
    with ClipStoreWriter(output, store.sample_rate, sources=SOURCES, metadata=metadata) as writer:
        for info in store.manifest:
            if info.status != "ok":
                writer.skip(info.id, info.split, info.status.removeprefix("skipped: "), info.labels, **info.extra)
                continue
            stems = dict(zip(SOURCES, from_int16(work.stems(index))))
            silence = {s: window_levels(stems[s], window) for s in SOURCES}
            writer.add(info.id, info.split, info.labels, store.read(index), stems=stems,
                       **{**info.extra, "silence": silence})
            index += 1
            if progress is not None and task is not None:
                progress.advance(task)
    return ClipStore(output)
