"""`bench grid --config grid.toml`: the grid as a file, every key checked, the command line winning."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.errors import BenchError
from ssl_music_bench.grid.config import load_grid_config

GRID = """
protocol = "tiny.toml"
methods = ["clmr", "random-init"]
encoders = ["samplecnn"]
tasks = ["synth-tags", "synth-genre"]
seeds = [0, 1]
jobs = 2
launcher = "local"
[set]
[slurm]
partition = "gpu"
time = 30
gpus = 1
"""


def test_a_grid_file_is_read_with_paths_relative_to_it(tmp_path: Path, tiny_protocol_file: Path) -> None:
    (tmp_path / "tiny.toml").write_text(tiny_protocol_file.read_text())
    (tmp_path / "grid.toml").write_text(GRID)
    config = load_grid_config(tmp_path / "grid.toml")
    assert config.protocol == str(tmp_path / "tiny.toml")
    assert config.methods == ["clmr", "random-init"] and config.seeds == [0, 1] and config.jobs == 2
    assert config.slurm == {"partition": "gpu", "time": 30, "gpus": 1}


def test_the_command_line_overrides_the_file(tmp_path: Path, tiny_protocol_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tiny.toml").write_text(tiny_protocol_file.read_text())
    (tmp_path / "grid.toml").write_text(GRID)
    home = tmp_path / "home"
    assert main(["grid", "--config", str(tmp_path / "grid.toml"), "--home", str(home), "--dry-run"]) == 0
    listed = capsys.readouterr().err.splitlines()
    assert len(listed) == 2 * 2 * 2 and all(line.startswith("missing") for line in listed)
    assert main(["grid", "--config", str(tmp_path / "grid.toml"), "--home", str(home), "--dry-run",
                 "--methods", "random-init", "--seeds", "3"]) == 0
    listed = capsys.readouterr().err.splitlines()
    assert len(listed) == 2 and all("random-init + samplecnn" in line and "seed 3" in line for line in listed)


@pytest.mark.parametrize(("text", "message"), [
    ('protocol = "cpu"\nmethod = ["clmr"]', "unknown keys method"),
    ('protocol = "cpu"\nseeds = [0, -1]', "seeds = \\[0, -1\\] is not valid"),
    ('protocol = "cpu"\njobs = 0', "jobs = 0 is not valid"),
    ('protocol = "cpu"\nlauncher = "pbs"', "launcher = 'pbs' is not valid"),
    ('protocol = "cpu"\n[slurm]\nnodes = 2', "unknown keys nodes"),
    ('protocol = "cpu"\nmethods = "clmr"', "list of names"),
    ("protocol = ", "not valid UTF-8 TOML"),
])
def test_bad_grid_files_are_one_paragraph(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    with pytest.raises(BenchError, match=message) as caught:
        load_grid_config(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_grid_needs_a_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grid", "--home", str(tmp_path), "--dry-run"]) == 2
    assert "needs a protocol" in capsys.readouterr().err


def test_the_example_grid_file_is_a_valid_grid() -> None:
    """examples/leaderboard_grid.toml, which the README and leaderboard/README.md point to, parses."""
    example = Path(__file__).resolve().parents[2] / "examples" / "leaderboard_grid.toml"
    config = load_grid_config(example)
    assert config.protocol == "cpu" and config.seeds == [0, 1, 2] and config.jobs == 2
    assert "supervised" in config.methods and len(config.tasks) == 4
