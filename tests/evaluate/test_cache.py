"""Reuse: embeddings cached per (weights, clips, chunking), corrupt entries rebuilt, ls/clear."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.evaluate.cache import cache_entries, clear_cache
from ssl_music_bench.home import embeddings_dir
from ssl_music_bench.run import run_benchmark
from ssl_music_bench.run_spec import RunOptions, RunSpec


def test_second_task_on_the_same_clips_reuses_checkpoint_and_embeddings(tmp_path: Path, tiny_protocol_file: Path) -> None:
    home = tmp_path / "home"
    protocol = load_protocol(str(tiny_protocol_file))
    quiet = RunOptions(progress=False, console=Console(quiet=True))
    tags, _ = run_benchmark(RunSpec("random-init", "effnet", protocol, task="synth-tags"), home, quiet)
    genre, _ = run_benchmark(RunSpec("random-init", "effnet", protocol, task="synth-genre"), home, quiet)
    assert tags["reused_embeddings"] == [] and tags["pretraining"]["reused"] is False
    assert genre["reused_embeddings"] == ["train", "valid", "test"] and genre["pretraining"]["reused"] is True
    assert len(list(embeddings_dir(home).glob("*.safetensors"))) == 3

    # a corrupt entry is detected, removed and rebuilt, and the result does not change
    for entry in embeddings_dir(home).glob("*.safetensors"):
        entry.write_bytes(b"garbage")
    again, _ = run_benchmark(RunSpec("random-init", "effnet", protocol, task="synth-genre"), home, quiet)
    assert again["reused_embeddings"] == [] and again["metrics"] == genre["metrics"]

    kinds = sorted(entry.kind for entry in cache_entries(home))
    assert kinds == ["checkpoint", "embeddings", "embeddings", "embeddings"]
    assert clear_cache(home, task="synth-genre") and all(e.kind == "checkpoint" for e in cache_entries(home))
    assert len(clear_cache(home, method="random-init")) == 1 and cache_entries(home) == []


def test_cache_commands(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    assert main(["cache", "ls", "--home", str(home)]) == 0
    assert "0 entries" in capsys.readouterr().out
    assert main(["cache", "clear", "--home", str(home)]) == 2
    assert "--all" in capsys.readouterr().err
    assert main(["cache", "clear", "--all", "--home", str(home)]) == 0
    assert main(["protocol", "show", "v1"]) == 0
    shown = capsys.readouterr().out
    assert 'name = "v1"' in shown and "sha256" in shown


def test_clear_leaves_a_file_it_cannot_prove_it_wrote(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    embeddings_dir(home).mkdir(parents=True)
    stranger = embeddings_dir(home) / "my-own.safetensors"
    stranger.write_bytes(b"not a safetensors file the tool wrote")
    assert [entry.about for entry in cache_entries(home)] == [{"state": "unreadable"}]
    assert main(["cache", "clear", "--all", "--home", str(home)]) == 0
    assert stranger.read_bytes() == b"not a safetensors file the tool wrote"
    err = " ".join(capsys.readouterr().err.split())
    assert "removed 0 entries" in err and "left 1 unreadable file(s)" in err and "my-own.safetensors" in err


def test_a_folder_whose_description_is_not_json_is_listed_and_left_alone(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A checkpoint whose config.json, or a resume folder whose spec.json, is not the JSON object the
    tool writes (cut short, edited, another program's) is listed as unreadable, not a traceback,
    and `cache clear --all` leaves it where it is."""
    from ssl_music_bench.home import checkpoints_dir
    from ssl_music_bench.train.checkpoint import CONFIG

    cut_short = checkpoints_dir(home := tmp_path / "home") / "cola-effnet-seed0"
    cut_short.mkdir(parents=True)
    (cut_short / CONFIG).write_text('{"spec": {"method": "cola"')
    not_an_object = checkpoints_dir(home) / "clmr-effnet-seed0.resume"
    not_an_object.mkdir()
    (not_an_object / "spec.json").write_text("[1, 2, 3]")
    assert sorted((entry.kind, entry.about["state"]) for entry in cache_entries(home)) == [
        ("checkpoint", "unreadable"), ("resume", "unreadable")]
    assert main(["cache", "ls", "--home", str(home)]) == 0
    assert main(["cache", "clear", "--all", "--home", str(home)]) == 0
    assert (cut_short / CONFIG).read_text() == '{"spec": {"method": "cola"' and (not_an_object / "spec.json").is_file()
    assert "left 2 unreadable file(s)" in " ".join(capsys.readouterr().err.split())
