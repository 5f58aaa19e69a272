"""A stored checkpoint is used only when its weights are those written: a flipped byte, a
truncated file, a broken config or weights of another model are reported, moved to
HOME/quarantine/checkpoints/ (never deleted) and pretrained again, and the embedding cache is
keyed by the hash of the verified weights (train/checkpoint.py, train/pretrained.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.home import quarantine_dir
from ssl_music_bench.run_spec import RunSpec
from ssl_music_bench.train.checkpoint import CONFIG, WEIGHTS
from ssl_music_bench.train.pretrained import load_pretrained


def flip_200_kb(directory: Path) -> None:
    data = bytearray((directory / WEIGHTS).read_bytes())
    middle = len(data) // 2
    data[middle:middle + 200_000] = bytes(b ^ 0xFF for b in data[middle:middle + 200_000])
    (directory / WEIGHTS).write_bytes(bytes(data))


def truncate(directory: Path) -> None:
    data = (directory / WEIGHTS).read_bytes()
    (directory / WEIGHTS).write_bytes(data[: len(data) // 2])


def break_config(directory: Path) -> None:
    (directory / CONFIG).write_text('{"spec": {"method": "random-init"')  # cut off mid-write


def config_of_a_list(directory: Path) -> None:
    (directory / CONFIG).write_text("[]")


def claim_another_hash(directory: Path) -> None:
    config = json.loads((directory / CONFIG).read_text())
    (directory / CONFIG).write_text(json.dumps({**config, "weights_sha256": "0" * 64}))


def drop_the_summary(directory: Path) -> None:
    config = json.loads((directory / CONFIG).read_text())
    del config["pretraining"]
    (directory / CONFIG).write_text(json.dumps(config))


@pytest.mark.parametrize("damage", [flip_200_kb, truncate, break_config, config_of_a_list, claim_another_hash,
                                    drop_the_summary])
def test_damaged_checkpoint_is_quarantined_and_made_again(
    damage: Callable[[Path], None], tiny_protocol_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = RunSpec("random-init", "effnet", load_protocol(str(tiny_protocol_file)), task="synth-genre")
    home = tmp_path / "home"
    _, first = load_pretrained(spec, home)
    directory = spec.checkpoint_directory(home)
    damage(directory)
    capsys.readouterr()

    _, again = load_pretrained(spec, home)

    assert again["reused"] is False  # not loaded: made again
    assert again["weights_sha256"] == first["weights_sha256"]  # random-init: the same seeded weights
    (moved,) = quarantine_dir(home, "checkpoints").iterdir()
    assert moved.name.startswith(directory.name) and (moved / CONFIG).exists()  # kept for inspection
    captured = capsys.readouterr()
    assert "was not used" in captured.err and "quarantine" in captured.err and captured.out == ""
    _, third = load_pretrained(spec, home)
    assert third["reused"] is True  # the new checkpoint verifies


def test_weights_of_another_encoder_are_refused(tiny_protocol_file: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint folder whose files are intact but belong to another model (copied over by
    hand): the hash matches its own config, the tensors do not fit; refused, not half-loaded."""
    protocol = load_protocol(str(tiny_protocol_file))
    effnet = RunSpec("random-init", "effnet", protocol, task="synth-genre")
    samplecnn = RunSpec("random-init", "samplecnn", protocol, task="synth-genre")
    home = tmp_path / "home"
    _, first = load_pretrained(effnet, home)
    load_pretrained(samplecnn, home)
    target = effnet.checkpoint_directory(home)
    shutil.rmtree(target)
    shutil.copytree(samplecnn.checkpoint_directory(home), target)

    method, again = load_pretrained(effnet, home)

    assert again["reused"] is False and again["weights_sha256"] == first["weights_sha256"]
    assert "do not fit the model" in capsys.readouterr().err
    fresh = effnet.new_method()  # the refused load left nothing of the other model behind
    assert all((a == b).all() for a, b in zip(method.state_dict().values(), fresh.state_dict().values()))


def test_bench_run_after_a_flipped_checkpoint_reuses_the_right_embeddings(
    tiny_protocol_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit's case: 200 kB flipped inside model.safetensors gave exit 0 and another accuracy.
    Now the run says so, redoes the weights, and (their hash being that of the intact weights)
    reuses the embeddings of the intact weights: the same result."""
    home = tmp_path / "home"
    command = ["run", "--method", "random-init", "--encoder", "effnet", "--task", "synth-genre",
               "--protocol", str(tiny_protocol_file), "--home", str(home), "--no-progress"]
    assert main(command) == 0
    (record_path,) = (home / "records").rglob("*.json")
    intact = json.loads(record_path.read_text())
    flip_200_kb(home / "checkpoints" / intact["pretraining"]["checkpoint"])
    capsys.readouterr()

    assert main(command) == 0

    again = json.loads(record_path.read_text())
    assert "was not used" in capsys.readouterr().err
    assert again["metrics"] == intact["metrics"]
    assert again["pretraining"]["weights_sha256"] == intact["pretraining"]["weights_sha256"]
    assert sorted(again["reused_embeddings"]) == ["test", "train", "valid"]
    assert len(list(quarantine_dir(home, "checkpoints").iterdir())) == 1
