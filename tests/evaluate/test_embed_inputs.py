"""`bench embed` on hostile input files: each unusable file is reported with its reason and
skipped, nothing non-finite is written, and no usable file at all still gives a (0, D) matrix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

from ssl_music_bench.cli import main


def test_unusable_files_are_reported_and_skipped(shared_home: Path, tiny_protocol_file: Path, tmp_path: Path,
                                                 capsys) -> None:  # type: ignore[no-untyped-def]
    common = ["--method", "random-init", "--encoder", "effnet", "--protocol", str(tiny_protocol_file),
              "--home", str(shared_home)]
    assert main(["run", *common, "--task", "synth-genre", "--no-progress"]) == 0
    music = tmp_path / "music"
    music.mkdir()
    wave = np.random.default_rng(0).uniform(-0.3, 0.3, 16_000).astype(np.float32)
    poisoned = wave.copy()
    poisoned[100] = np.nan
    poisoned[200] = np.inf
    soundfile.write(music / "nan.wav", poisoned, 16_000, subtype="FLOAT")
    soundfile.write(music / "one_hertz.wav", wave[:200], 1)
    (music / "empty.wav").write_bytes(b"")
    out = tmp_path / "out"
    assert main(["embed", str(music), *common, "--out", str(out), "--no-progress"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "NaN or infinite" in err and "1 Hz" in err and "empty.wav" in err
    embeddings = np.load(out / "embeddings.npy")
    assert embeddings.shape == (0, 1280)
    assert sorted(Path(p).name for p in json.loads((out / "about.json").read_text())["skipped"]) == [
        "empty.wav", "nan.wav", "one_hertz.wav"]

    soundfile.write(music / "fine.wav", wave, 16_000)
    assert main(["embed", str(music), *common, "--out", str(out), "--no-progress"]) == 0
    embeddings = np.load(out / "embeddings.npy")
    assert embeddings.shape == (1, 1280) and np.isfinite(embeddings).all()
