"""A run's numbers are checked when the run is described, before any work: the seed, the number
of devices and nodes, and whether the global batch splits over them (run_spec.py, run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.errors import BenchError
from ssl_music_bench.run import run_benchmark
from ssl_music_bench.run_spec import MAX_SEED, RunOptions, RunSpec


@pytest.mark.parametrize("seed", [-1, 2**32, 2**66, 1.5, True])
def test_a_seed_out_of_range_is_refused_naming_it(seed: object, tiny_protocol_file: Path) -> None:
    with pytest.raises(BenchError, match=rf"The seed {seed!r} is out of range.*0 to 4294967295"):
        RunSpec("clmr", "effnet", load_protocol(str(tiny_protocol_file)), seed=seed)  # type: ignore[arg-type]


def test_the_largest_seed_is_accepted(tiny_protocol_file: Path) -> None:
    assert RunSpec("clmr", "effnet", load_protocol(str(tiny_protocol_file)), seed=MAX_SEED).seed == 2**32 - 1


@pytest.mark.parametrize(("field", "value"), [("devices", 0), ("devices", -2), ("nodes", 0), ("nodes", 1.5)])
def test_devices_and_nodes_below_one_are_refused(field: str, value: object) -> None:
    with pytest.raises(BenchError, match=rf"--{field} {value!r} is not a count.*at least 1"):
        RunOptions(**{field: value})  # type: ignore[arg-type]


def test_a_batch_that_does_not_split_is_refused_before_the_data_is_touched(tiny_protocol_file: Path,
                                                                           tmp_path: Path) -> None:
    """--devices 3 with the protocol's global batch of 4: refused before the corpus is made and
    before a resume folder is written (it was refused only after both)."""
    home = tmp_path / "home"
    command = ["run", "--method", "clmr", "--encoder", "effnet", "--task", "synth-tags", "--protocol",
               str(tiny_protocol_file), "--home", str(home), "--devices", "3", "--no-progress"]
    assert main(command) == 2
    assert not (home / "data").exists() and not (home / "checkpoints").exists()
    spec = RunSpec("clmr", "effnet", load_protocol(str(tiny_protocol_file)), task="synth-tags")
    with pytest.raises(BenchError, match="not divisible by 3"):
        run_benchmark(spec, home, RunOptions(devices=3, progress=False))
    assert not (home / "data").exists()
