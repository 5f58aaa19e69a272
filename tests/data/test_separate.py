"""bench separate: open-unmix stems store, aligned and complete, silence levels, atomic, resumable."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import numpy as np
import openunmix
import pytest
import torch
import torchaudio
from openunmix.model import OpenUnmix, Separator
from rich.progress import Progress

from ssl_music_bench.contracts.sources import SOURCES
from ssl_music_bench.data.multisource import excerpt_grid
from ssl_music_bench.data.separate import separate_store
from ssl_music_bench.data.separate.weights import load_separator
from ssl_music_bench.data.silence import stored_levels, window_levels
from ssl_music_bench.data.store import INT16_SCALE, ClipStore, ClipStoreWriter
from ssl_music_bench.errors import BenchError

RATE = 16_000
LSB = 1.0 / INT16_SCALE
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def mixtures(tmp_path_factory: pytest.TempPathFactory) -> ClipStore:
    """Four clips (2 s, two of 3 s, 8.5 s with a silent second half) and one skipped item."""
    rng = np.random.default_rng(0)
    t = np.arange(int(8.5 * RATE)) / RATE
    long = 0.3 * np.sin(2 * np.pi * 220 * t) * (t < 4.0)
    clips = [
        ("a", "train", ["rock"], 0.2 * rng.standard_normal(2 * RATE), {"tempo": 120}),
        ("b", "valid", ["pop", "vocal"], 0.5 * np.sin(2 * np.pi * 440 * t[: 3 * RATE]), {"tempo": 90}),
        ("c", "test", [], 0.1 * rng.standard_normal(3 * RATE) + 0.3 * np.sin(2 * np.pi * 110 * t[: 3 * RATE]),
         {"tempo": 100}),
        ("d", "train", ["jazz"], long, {"tempo": 70}),
    ]
    root = tmp_path_factory.mktemp("mixtures") / "store"
    with ClipStoreWriter(root, RATE, shard_samples=5 * RATE, metadata={"task": "tiny"}) as writer:
        for id, split, labels, audio, extra in clips[:2]:
            writer.add(id, split, labels, audio, **extra)
        writer.skip("broken", "train", "corrupt audio", ["rock"], tempo=0)
        for id, split, labels, audio, extra in clips[2:]:
            writer.add(id, split, labels, audio, **extra)
    return ClipStore(root)


def tiny_openunmix() -> Separator:
    """An untrained open-unmix separator at umxhq's STFT and rate, hidden size 16, no Wiener EM."""
    torch.manual_seed(0)
    models = {t: OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=16, max_bin=1487)
              for t in ("vocals", "drums", "bass", "other")}
    return Separator(models, niter=0, sample_rate=44100.0, n_fft=4096, n_hop=1024, nb_channels=2)


class Scaler(torch.nn.Module):
    """A linear stand-in for open-unmix: each target is the mixture times a fixed gain."""

    GAINS = {"vocals": 0.1, "drums": 0.2, "bass": 0.3, "other": 0.4}

    def __init__(self, rate: float = 44100.0) -> None:
        super().__init__()
        self.target_models = torch.nn.ModuleDict({t: torch.nn.Identity() for t in self.GAINS})
        self.register_buffer("sample_rate", torch.as_tensor(rate))
        self.register_buffer("gains", torch.tensor(list(self.GAINS.values())))
        self.calls: list[int] = []  # clips per call
        self.fail_on_call: int | None = None

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        self.calls.append(audio.shape[0])
        if self.fail_on_call == len(self.calls):
            raise RuntimeError("interrupted")
        assert audio.ndim == 3 and audio.shape[1] == 2
        return audio[:, None] * self.gains[None, :, None, None]


def assert_same_items(source: ClipStore, separated: ClipStore) -> None:
    assert separated.sources == SOURCES
    assert [(i.id, i.split, i.labels, i.status) for i in separated.manifest] == [
        (i.id, i.split, i.labels, i.status) for i in source.manifest
    ]
    for old, new in zip(source.manifest, separated.manifest):
        assert {k: v for k, v in new.extra.items() if k != "silence"} == dict(old.extra)
    for index, info in enumerate(separated.items):
        mix = separated.read(index)
        assert np.abs(mix - source.read(index)).max() <= LSB
        window = 4 * RATE
        for source_name in SOURCES:
            stem = separated.read(index, source=source_name)
            assert len(stem) == len(mix) == info.length
            levels = info.extra["silence"][source_name]
            assert len(levels) == max(1, info.length // window)
            used = min(info.length, len(levels) * window)
            expected = np.abs(stem[:used]).reshape(len(levels), -1).mean(1)
            assert np.allclose(levels, expected, atol=LSB, rtol=0)


def test_untrained_openunmix_gives_an_aligned_stems_store(mixtures: ClipStore, tmp_path: Path) -> None:
    out = separate_store(mixtures, tmp_path / "stems", separator=tiny_openunmix(), device=CPU)
    assert out.root == tmp_path / "stems" and not list(tmp_path.glob("stems.*"))
    assert_same_items(mixtures, out)
    assert out.header["task"] == "tiny" and out.header["separation"]["silence_window_samples"] == 4 * RATE
    assert [len(i.extra["silence"]["drums"]) for i in out.items] == [1, 1, 1, 2]
    assert any(np.abs(out.read(3, source=s)).max() > 0 for s in SOURCES)
    # the stored levels are what MSA measures on the same 4 s grid
    grid = excerpt_grid(out, range(len(out)), 4 * RATE, SOURCES, 0.01)
    stored = np.concatenate([stored_levels(out, i, 4 * RATE, SOURCES) for i in range(len(out))])
    assert np.array_equal(stored > 0.01, grid.active) or np.abs(stored - 0.01).min() < 1e-6
    assert stored_levels(out, 0, 3 * RATE, SOURCES) is None


def test_msa_grid_reads_the_stored_levels_instead_of_the_stems(mixtures: ClipStore, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = separate_store(mixtures, tmp_path / "stems", separator=tiny_openunmix(), device=CPU)
    measured = excerpt_grid(out, range(len(out)), 3 * RATE, SOURCES, 0.01)  # no levels for 3 s windows
    reads: list[str] = []
    original = ClipStore.read

    def counting_read(self: ClipStore, index: int, *args: object, source: str = "mix") -> np.ndarray:
        reads.append(source)
        return original(self, index, *args, source=source)

    monkeypatch.setattr(ClipStore, "read", counting_read)
    grid = excerpt_grid(out, range(len(out)), 4 * RATE, SOURCES, 0.01)
    assert reads == []  # every level came from the manifest: no stem was decoded
    stored = np.concatenate([stored_levels(out, i, 4 * RATE, SOURCES) for i in range(len(out))])
    assert np.array_equal(grid.active, stored > 0.01)
    assert measured.active.shape[1] == len(SOURCES)  # other windows are still measured


def test_targets_land_on_their_names_and_chunks_cross_fade(mixtures: ClipStore, tmp_path: Path) -> None:
    whole = separate_store(mixtures, tmp_path / "whole", separator=Scaler(), device=CPU)
    assert_same_items(mixtures, whole)
    for index in range(len(whole)):
        there = torchaudio.functional.resample(torch.from_numpy(whole.read(index)), RATE, 44100)
        back = torchaudio.functional.resample(there, 44100, RATE).numpy()  # the mixture's round trip
        for name in SOURCES:
            stem = whole.read(index, source=name)
            assert np.abs(stem - Scaler.GAINS[name] * back).max() <= 2 * LSB, name
    # 1.5 s chunks with a 0.75 s cross-fade: a linear separator gives the same stems
    chunked = separate_store(mixtures, tmp_path / "chunked", separator=Scaler(), device=CPU, batch_seconds=1.5)
    for index in range(len(whole)):
        for name in SOURCES:
            assert np.abs(chunked.read(index, source=name) - whole.read(index, source=name)).max() <= 2 * LSB


def test_equal_lengths_are_batched_within_the_budget(mixtures: ClipStore, tmp_path: Path) -> None:
    scaler = Scaler()
    separate_store(mixtures, tmp_path / "a", separator=scaler, device=CPU, batch_seconds=6.0)
    assert sorted(scaler.calls) == [1, 1, 1, 2]  # the two 3 s clips together; 8.5 s chunked in 2
    scaler = Scaler()
    separate_store(mixtures, tmp_path / "b", separator=scaler, device=CPU, batch_seconds=5.0)
    assert sorted(scaler.calls) == [1, 1, 1, 1, 1]  # 3 s + 3 s exceed 5 s; 8.5 s in 2 chunks


def test_interrupted_run_leaves_no_store_and_resumes(mixtures: ClipStore, tmp_path: Path) -> None:
    output = tmp_path / "stems"
    scaler = Scaler()
    scaler.fail_on_call = 2
    with pytest.raises(RuntimeError, match="interrupted"):
        separate_store(mixtures, output, separator=scaler, device=CPU)
    assert not output.exists() and not output.with_name("stems.partial").exists()
    assert output.with_name("stems.work").is_dir()  # the first clip's stems, kept for the re-run
    scaler.fail_on_call, scaler.calls = None, []
    with Progress(disable=True) as progress:
        resumed = separate_store(mixtures, output, separator=scaler, device=CPU, progress=progress)
    assert "resuming: 1 done before" in progress.tasks[0].description and progress.tasks[0].finished
    assert sum(scaler.calls) == len(mixtures) - 1  # the first clip was not separated again
    assert not output.with_name("stems.work").exists()
    fresh = separate_store(mixtures, tmp_path / "fresh", separator=Scaler(), device=CPU)
    assert_same_items(mixtures, resumed)
    for index in range(len(fresh)):
        for name in SOURCES:
            assert np.array_equal(resumed.read(index, source=name), fresh.read(index, source=name))


def test_existing_output_is_reused_or_refused(mixtures: ClipStore, tmp_path: Path) -> None:
    output = tmp_path / "stems"
    separate_store(mixtures, output, separator=Scaler(), device=CPU)
    scaler = Scaler()
    again = separate_store(mixtures, output, separator=scaler, device=CPU)
    assert scaler.calls == [] and again.root == output
    with pytest.raises(BenchError, match="already exists"):
        separate_store(mixtures, output, separator=Scaler(rate=22050.0), device=CPU)
    with pytest.raises(BenchError, match="new directory"):
        separate_store(mixtures, mixtures.root, separator=Scaler(), device=CPU)


def test_a_separator_without_the_four_targets_is_refused(mixtures: ClipStore, tmp_path: Path) -> None:
    speech = openunmix.umxse(pretrained=False, niter=0)
    with pytest.raises(BenchError, match="drums, bass, vocals, other"):
        separate_store(mixtures, tmp_path / "x", separator=speech, device=CPU)


def test_without_weights_or_network_the_error_says_what_to_do(
    mixtures: ClipStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*_: object, **__: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(BenchError) as error:
        separate_store(mixtures, tmp_path / "stems", device=CPU)
    message = str(error.value)
    assert "pretrained open-unmix weights (umxhq" in message and "could not be fetched" in message
    assert "--weights DIR" in message and "vocals.pth" in message and "zenodo.org/records/3370489" in message
    assert not (tmp_path / "stems").exists()
    with pytest.raises(BenchError, match="lacks vocals, drums, bass, other"):
        separate_store(mixtures, tmp_path / "stems", weights=tmp_path, device=CPU)
    with pytest.raises(BenchError, match="Did you mean"):
        separate_store(mixtures, tmp_path / "stems", model="umxhg", device=CPU)


def test_local_weights_in_open_unmix_training_layout(tmp_path: Path) -> None:
    with ClipStoreWriter(tmp_path / "one", RATE) as writer:
        writer.add("x", "train", [], 0.3 * np.sin(np.arange(RATE) / 5.0))
    one = ClipStore(tmp_path / "one")
    separator = tiny_openunmix()
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "separator.json").write_text(json.dumps({"sample_rate": 44100.0, "nfft": 4096, "nhop": 1024,
                                                        "nb_channels": 2}))
    for target, model in separator.target_models.items():
        torch.save(model.state_dict(), weights / f"{target}.pth")
        (weights / f"{target}.json").write_text(json.dumps({"args": {"nfft": 4096, "nb_channels": 2,
                                                                     "hidden_size": 16}}))
    loaded = separate_store(one, tmp_path / "loaded", weights=weights, niter=0, device=CPU)
    given = separate_store(one, tmp_path / "given", separator=separator, device=CPU)
    assert loaded.header["separation"]["weights"] == str(weights)
    for name in SOURCES:
        assert np.abs(loaded.read(0, source=name) - given.read(0, source=name)).max() <= LSB


def test_local_weights_as_published_files(mixtures: ClipStore, tmp_path: Path) -> None:
    separator = openunmix.umxhq(pretrained=False, niter=0)
    for target, model in separator.target_models.items():
        torch.nn.init.normal_(model.output_mean)  # differs from a fresh model's
    weights = tmp_path / "umxhq"
    weights.mkdir()
    for target, model in separator.target_models.items():
        torch.save(model.state_dict(), weights / f"{target}-0123abcd.pth")
    loaded = load_separator("umxhq", weights, niter=0, device=CPU)
    for target in separator.target_models:
        for key, value in separator.target_models[target].state_dict().items():
            assert torch.equal(loaded.target_models[target].state_dict()[key], value), (target, key)
    torch.save(tiny_openunmix().target_models["bass"].state_dict(), weights / "bass-0123abcd.pth")
    with pytest.raises(BenchError, match="could not be loaded as the model umxhq"):
        load_separator("umxhq", weights, niter=0, device=CPU)  # hidden size 16, not 512


def test_window_levels_grid() -> None:
    x = np.concatenate([np.full(8, 0.5), np.full(8, -0.25), np.full(3, 1.0)])
    assert window_levels(x, 8) == [0.5, 0.25]  # the partial window is dropped
    assert window_levels(x[:5], 8) == [0.5]  # shorter than a window: the whole clip
