"""An interrupted pretraining resumes from its last checkpoint and ends with the same result.

The end-to-end test kills `bench run` for real (SIGKILL, from inside the training process at a
chosen step, so the moment is deterministic), runs the same command again, and compares the
record with that of a run that was never interrupted: same weights hash, same loss curve, same
metrics. The sampler tests check the piece that makes this work: a batch sampler started at
step k yields exactly the tail of its full sequence.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_PROTOCOL

from ssl_music_bench.data.multisource import ExcerptGrid, SourceBatchSampler
from ssl_music_bench.data.sampler import ShardedBatchSampler
from ssl_music_bench.evaluate.cache import cache_entries
from ssl_music_bench.train.callbacks import RESUME_FILE, TrainingClock, checkpoint_interval

KILLABLE_PLUGIN = '''
"""Test plugin: CLMR whose process kills itself (SIGKILL, or BENCH_TEST_KILL_SIGNAL) at training
step BENCH_TEST_KILL_AT."""
import os
import signal

from ssl_music_bench import register_method
from ssl_music_bench.methods.clmr import CLMR


@register_method("killable-clmr", paper="test double of CLMR (Spijkervet & Burgoyne 2021)")
class KillableCLMR(CLMR):
    """CLMR; with BENCH_TEST_KILL_AT=k set, its process dies at its k-th training step."""

    calls = 0

    def training_loss(self, batch):
        KillableCLMR.calls += 1
        if KillableCLMR.calls == int(os.environ.get("BENCH_TEST_KILL_AT", "0")):
            os.kill(os.getpid(), getattr(signal, "SIG" + os.environ.get("BENCH_TEST_KILL_SIGNAL", "KILL")))
        return super().training_loss(batch)
'''


def bench_run(home: Path, plugin: Path, protocol: Path, kill_at: int | None = None,
              kill_signal: str = "KILL") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_TEST_KILL")}
    if kill_at is not None:
        env.update(BENCH_TEST_KILL_AT=str(kill_at), BENCH_TEST_KILL_SIGNAL=kill_signal)
    command = ["bench", "run", "--plugin", str(plugin), "--method", "killable-clmr", "--encoder", "effnet",
               "--task", "synth-genre", "--protocol", str(protocol), "--home", str(home), "--no-progress"]
    # SIGINT at its default, as in a terminal's foreground job (a test started in the background
    # of a script inherits it ignored, and Python would never see the Ctrl-C)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def only_record(home: Path) -> dict:
    paths = list((home / "records").rglob("*.json"))
    assert len(paths) == 1, paths
    return json.loads(paths[0].read_text())


def test_killed_pretraining_restarts_and_ends_with_the_same_record(tmp_path: Path) -> None:
    plugin = tmp_path / "killable.py"
    plugin.write_text(KILLABLE_PLUGIN)
    protocol = tmp_path / "resume-tiny.toml"
    protocol.write_text(TINY_PROTOCOL.replace("steps = 2", "steps = 6"))
    assert checkpoint_interval(6) == 1  # a resume checkpoint after every step

    uninterrupted = bench_run(tmp_path / "a", plugin, protocol)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]

    home = tmp_path / "b"
    killed = bench_run(home, plugin, protocol, kill_at=5)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    checkpoints = home / "checkpoints"
    assert not list(checkpoints.glob("*/model.safetensors")), "a killed run must leave no final checkpoint"
    (resume_dir,) = checkpoints.glob("*.resume")
    assert (resume_dir / RESUME_FILE).is_file()
    # the seconds trained before the kill, as the resume checkpoint keeps them for the record;
    # weights_only=False because a Lightning checkpoint holds non-tensor state, and this file is the
    # test's own `bench run`'s, not one from outside
    seconds_before = torch.load(resume_dir / RESUME_FILE, weights_only=False)["callbacks"]["TrainingClock"]["seconds"]
    assert seconds_before > 0
    assert not list(home.rglob("records/**/*.json")), "a killed run must write no record"
    listed = [(e.kind, e.about["method"]) for e in cache_entries(home)]
    assert ("resume", "killable-clmr") in listed  # `bench cache ls` shows the interrupted run

    restarted = bench_run(home, plugin, protocol)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert "resuming the interrupted pretraining" in restarted.stdout + restarted.stderr
    assert not resume_dir.exists(), "the resume folder is removed once the final weights are saved"

    expected, got = only_record(tmp_path / "a"), only_record(home)
    assert got["pretraining"]["resumed_from_step"] == 4  # the step-4 checkpoint; step 5 died
    assert expected["pretraining"]["resumed_from_step"] is None
    assert got["pretraining"]["weights_sha256"] == expected["pretraining"]["weights_sha256"]
    assert got["pretraining"]["loss_curve"] == expected["pretraining"]["loss_curve"]
    assert got["pretraining"]["steps"] == expected["pretraining"]["steps"] == 6
    assert got["pretraining"]["seconds"] >= seconds_before  # the whole training, not its last part
    assert got["metrics"] == expected["metrics"]
    assert got["valid_metrics"] == expected["valid_metrics"]


@pytest.mark.parametrize(("signal_name", "status", "message", "resumed_from"), [
    ("INT", 130, "interrupted", 4),
    ("TERM", 143, "terminated (SIGTERM)", 5),
])
def test_interrupted_pretraining_says_so_and_the_next_run_resumes(
        tmp_path: Path, signal_name: str, status: int, message: str, resumed_from: int) -> None:
    """Lightning turns a Ctrl-C inside fit() into sys.exit(1), and a SIGTERM (`kill`, a SLURM
    preemption) into its SIGTERMException, a SystemExit without a code: `bench run` ended then
    with status 0, no message and no record, as if it had succeeded (seen 2026-12-02 on a ceiling
    stopped with `kill`). It must say that it was interrupted (130, as every other phase) or
    terminated (143), write no record and keep its resume point. After a SIGTERM Lightning lets
    the step during which the signal came finish (its checkpoint is saved) and stops before the
    next; a Ctrl-C stops that step."""
    plugin = tmp_path / "killable.py"
    plugin.write_text(KILLABLE_PLUGIN)
    protocol = tmp_path / "resume-tiny.toml"
    protocol.write_text(TINY_PROTOCOL.replace("steps = 2", "steps = 6"))
    home = tmp_path / "home"
    interrupted = bench_run(home, plugin, protocol, kill_at=5, kill_signal=signal_name)
    assert interrupted.returncode == status, interrupted.stderr[-3000:]
    assert message in interrupted.stdout + interrupted.stderr
    assert "Traceback" not in interrupted.stderr
    assert not list(home.rglob("records/**/*.json")) and not list(home.glob("checkpoints/*/model.safetensors"))
    assert list(home.glob("checkpoints/*.resume/" + RESUME_FILE))
    restarted = bench_run(home, plugin, protocol)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    record = only_record(home)["pretraining"]
    assert (record["resumed_from_step"], record["steps"]) == (resumed_from, 6)


def test_training_clock_adds_the_seconds_of_the_run_it_resumed(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("ssl_music_bench.train.callbacks.time.perf_counter", lambda: now[0])
    interrupted = TrainingClock()
    interrupted.on_fit_start(None, None)
    now[0] = 130.0  # 30 s of training, then the kill: the checkpoint keeps them
    saved = interrupted.state_dict()
    assert saved == {"seconds": 30.0}
    resumed = TrainingClock()
    now[0] = 500.0  # the restart, much later: the time between the runs is not training
    resumed.load_state_dict(saved)
    resumed.on_fit_start(None, None)
    now[0] = 512.5
    assert resumed.seconds() == 42.5


def test_checkpoint_interval_gives_about_twenty_per_run() -> None:
    assert checkpoint_interval(1) == 1
    assert checkpoint_interval(20) == 1
    assert checkpoint_interval(10_000) == 500


@pytest.mark.parametrize(("rank", "world"), [(0, 1), (1, 2)])
def test_sharded_sampler_started_part_way_yields_the_tail_of_its_sequence(rank: int, world: int) -> None:
    full = list(ShardedBatchSampler(range(10), 3, 7, seed=5, rank=rank, world_size=world))
    late = ShardedBatchSampler(range(10), 3, 7, seed=5, rank=rank, world_size=world)
    late.start_at(4)
    assert len(late) == 3
    tail = list(late)
    assert [[int(d) for d in b] for b in tail] == [[int(d) for d in b] for b in full[4:]]
    assert [[d.seed for d in b] for b in tail] == [[d.seed for d in b] for b in full[4:]]


def test_source_sampler_started_part_way_yields_the_tail_of_its_sequence() -> None:
    rng = np.random.default_rng(0)
    grid = ExcerptGrid(clips=np.arange(12), starts=np.zeros(12, dtype=np.int64),
                       active=rng.random((12, 2)) < 0.7, sources=("drums", "bass"), samples=100)
    full = list(SourceBatchSampler(grid, 4, 6, seed=3, silent_probability=0.5, rank=0, world_size=1))
    late = SourceBatchSampler(grid, 4, 6, seed=3, silent_probability=0.5, rank=0, world_size=1)
    late.start_at(2)
    assert list(late) == full[2:]
