"""`bench embed`: a user's folder of wav and mp3 files with a trained checkpoint."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import soundfile
from rich.console import Console

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.run import run_benchmark
from ssl_music_bench.run_spec import RunOptions, RunSpec


def test_embed_a_folder_of_wav_and_mp3(shared_home: Path, tiny_protocol_file: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    soundfile.write(music / "a.wav", rng.uniform(-0.3, 0.3, (44_100 * 2, 2)), 44_100)  # stereo 2 s
    soundfile.write(music / "sub" / "b.mp3", rng.uniform(-0.3, 0.3, 16_000 * 3), 16_000, format="MP3")
    (music / "broken.wav").write_bytes(b"not audio")
    out = tmp_path / "out"
    args = ["embed", str(music), "--method", "random-init", "--encoder", "effnet", "--protocol", str(tiny_protocol_file),
            "--home", str(shared_home), "--out", str(out), "--no-progress"]
    assert main(["embed", str(music), "--method", "clmr", "--encoder", "effnet", "--seed", "7", "--protocol",
                 str(tiny_protocol_file), "--home", str(shared_home), "--out", str(out)]) == 2
    assert "No trained checkpoint" in capsys.readouterr().err
    run_benchmark(RunSpec("random-init", "effnet", load_protocol(str(tiny_protocol_file)), task="synth-genre"),
                  shared_home, RunOptions(progress=False, console=Console(quiet=True)))
    assert main(args) == 0
    assert "skipped" in capsys.readouterr().err  # the broken file is reported
    embeddings = np.load(out / "embeddings.npy")
    with open(out / "index.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert embeddings.shape == (5, 1280)  # 2 one-second chunks of a.wav + 3 of b.mp3
    assert [(Path(r["file"]).name, int(r["chunk"])) for r in rows] == [("a.wav", 0), ("a.wav", 1), ("b.mp3", 0), ("b.mp3", 1), ("b.mp3", 2)]
    about = json.loads((out / "about.json").read_text())
    assert about["files"] == 2 and list(about["skipped"]) == [str(music / "broken.wav")]
