"""`bench embed --out` never deletes a user's files: inputs, folders above them, files, foreign folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ssl_music_bench.cli import main


@pytest.fixture()
def embed_args(shared_home: Path, tiny_protocol_file: Path):  # type: ignore[no-untyped-def]
    """`bench embed` arguments for a trained (random-init) checkpoint; the test adds paths and --out."""
    common = ["--method", "random-init", "--encoder", "effnet", "--protocol", str(tiny_protocol_file),
              "--home", str(shared_home)]
    assert main(["run", *common, "--task", "synth-genre", "--no-progress"]) == 0
    return lambda *extra: ["embed", *extra, *common, "--no-progress"]


def music_folder(root: Path) -> Path:
    music = root / "music"
    music.mkdir(parents=True)
    soundfile.write(music / "a.wav", np.random.default_rng(0).uniform(-0.3, 0.3, 16_000 * 2), 16_000)
    return music


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_out_equal_to_or_above_the_input_is_refused_and_nothing_is_touched(embed_args, tmp_path: Path,
                                                                             capsys) -> None:  # type: ignore[no-untyped-def]
    music = music_folder(tmp_path / "parent")
    (tmp_path / "parent" / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    for out in (music, music.parent, tmp_path):
        assert main(embed_args(str(music), "--out", str(out))) == 2
        message = capsys.readouterr().err
        assert "would replace the audio" in message and "Traceback" not in message
    assert main(embed_args(str(music / "a.wav"), "--out", str(music))) == 2  # a file inside --out
    assert snapshot(tmp_path) == before
    assert not list(tmp_path.rglob("*.partial"))


def test_out_that_is_a_file_is_refused(embed_args, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    music = music_folder(tmp_path)
    target = tmp_path / "taken.npy"
    target.write_bytes(b"precious")
    assert main(embed_args(str(music), "--out", str(target))) == 2
    assert "is an existing file" in capsys.readouterr().err
    assert target.read_bytes() == b"precious" and not list(tmp_path.rglob("*.partial"))


def test_a_folder_with_foreign_files_needs_force_and_keeps_them(embed_args, tmp_path: Path,
                                                                capsys) -> None:  # type: ignore[no-untyped-def]
    music = music_folder(tmp_path)
    out = tmp_path / "results"
    out.mkdir()
    (out / "thesis.tex").write_text("do not lose me")
    assert main(embed_args(str(music), "--out", str(out))) == 2
    assert "did not write" in capsys.readouterr().err
    assert snapshot(out) == {"thesis.tex": b"do not lose me"}
    assert main(embed_args(str(music), "--out", str(out), "--force")) == 0
    assert (out / "thesis.tex").read_text() == "do not lose me"
    assert np.load(out / "embeddings.npy").shape == (2, 1280)
    assert json.loads((out / "about.json").read_text())["written_by"] == "bench embed"
    assert sorted(p.name for p in out.iterdir()) == ["about.json", "embeddings.npy", "index.csv", "thesis.tex"]


def test_an_earlier_output_is_replaced_and_the_working_directory_survives(embed_args, tmp_path: Path,
                                                                          monkeypatch) -> None:  # type: ignore[no-untyped-def]
    music = music_folder(tmp_path)
    out = tmp_path / "emb"
    assert main(embed_args(str(music), "--out", str(out))) == 0
    first = snapshot(out)
    soundfile.write(music / "b.wav", np.random.default_rng(1).uniform(-0.3, 0.3, 16_000), 16_000)
    monkeypatch.chdir(out)  # `--out .` from inside an earlier output: replaced in place, folder kept
    assert main(embed_args(str(music), "--out", ".")) == 0
    assert Path(os.getcwd()) == out and out.is_dir()
    assert np.load(out / "embeddings.npy").shape == (3, 1280) and snapshot(out) != first
    assert not list(tmp_path.rglob("*.partial")) and not list(out.glob(".*.tmp"))
