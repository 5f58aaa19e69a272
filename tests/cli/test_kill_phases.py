"""A `bench run` killed (SIGKILL) at any phase leaves nothing half-written, and the same command
afterwards completes with the metrics of a run that was never interrupted.

The run announces its phases on stderr ("phase: pretraining", ...); the test waits for each line
and kills the process there, then checks the home: no partial folder or temporary file, every
checkpoint and embedding entry verifies, every record is complete. One home is killed at each
phase in turn (each rerun goes on from what the killed one kept), then run to the end and
compared with an uninterrupted run in another home. (A kill in the middle of pretraining, and
the resume from its last step, is tests/train/test_resume.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path

from conftest import TINY_PROTOCOL

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.evaluate.cache import load_embeddings
from ssl_music_bench.home import embeddings_dir, quarantine_dir
from ssl_music_bench.run_spec import RunSpec
from ssl_music_bench.train.checkpoint import is_complete, load_checkpoint

QUICK_PLUGIN = '''
"""Test plugin: CLMR with a cheap deterministic loss (Lightning's loop without a model pass)."""
from ssl_music_bench import register_method
from ssl_music_bench.methods.clmr import CLMR


@register_method("quick-clmr", paper="test double of CLMR (Spijkervet & Burgoyne 2021)")
class QuickCLMR(CLMR):
    def training_loss(self, batch):
        return sum((p.float() ** 2).mean() for p in self.encoder.parameters())
'''

PHASES = ("pretraining", "embedding", "probe", "record")


def command(tmp_path: Path, home: Path) -> list[str]:
    return ["bench", "run", "--plugin", str(tmp_path / "quick.py"), "--method", "quick-clmr", "--encoder",
            "effnet", "--task", "synth-genre", "--protocol", str(tmp_path / "tiny.toml"), "--home", str(home),
            "--no-progress"]


def kill_at_phase(arguments: list[str], phase: str) -> None:
    """Start the run, read its stderr until "phase: <phase>", and SIGKILL it there."""
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(300, process.kill)  # a run that never reaches the phase must not hang the suite
    watchdog.start()
    seen = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            if line.strip() == f"phase: {phase}":
                os.kill(process.pid, signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        process.wait()
        assert process.stderr is not None
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, f"never reached phase {phase}: {''.join(seen)[-3000:]}"


def assert_nothing_half_written(home: Path, clmr: RunSpec) -> None:
    leftovers = [p for p in home.rglob("*") if p.name.endswith((".partial", ".tmp"))]
    assert not leftovers, leftovers
    for directory in home.glob("checkpoints/quick-clmr-effnet-*"):
        if directory.is_dir() and not directory.name.endswith(".resume"):
            assert is_complete(directory)
            # quick-clmr is CLMR's model: its weights load into one, verified against their stored hash
            load_checkpoint(directory, clmr.new_method())
    for entry in embeddings_dir(home).glob("*.safetensors"):
        assert load_embeddings(home, entry.stem) is not None, entry  # intact (else it would be quarantined)
    for record in home.glob("records/**/*.json"):
        assert "metrics" in json.loads(record.read_text())  # a record only when complete
    assert not quarantine_dir(home, "checkpoints").exists()


def only_record(home: Path) -> dict:
    (path,) = home.glob("records/*/*.json")
    return json.loads(path.read_text())


def test_a_run_killed_at_each_phase_leaves_nothing_half_written_and_completes(tmp_path: Path) -> None:
    (tmp_path / "quick.py").write_text(QUICK_PLUGIN)
    (tmp_path / "tiny.toml").write_text(TINY_PROTOCOL)
    clmr = RunSpec("clmr", "effnet", load_protocol(str(tmp_path / "tiny.toml")), task="synth-genre")

    uninterrupted = subprocess.run(command(tmp_path, tmp_path / "a"), capture_output=True, text=True, timeout=600)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]

    home = tmp_path / "b"
    for phase in PHASES:
        kill_at_phase(command(tmp_path, home), phase)
        assert_nothing_half_written(home, clmr)

    finished = subprocess.run(command(tmp_path, home), capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert_nothing_half_written(home, clmr)
    expected, got = only_record(tmp_path / "a"), only_record(home)
    assert got["metrics"] == expected["metrics"]
    assert got["valid_metrics"] == expected["valid_metrics"]
    assert got["pretraining"]["weights_sha256"] == expected["pretraining"]["weights_sha256"]
