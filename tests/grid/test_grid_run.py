"""`bench grid` on CPU with the tiny protocol: it fills a grid with two concurrent workers, each
pretraining group pretrains once, a SIGKILL of the whole grid loses nothing (the same command
skips the done cells and finishes the rest), a failed cell is reported and the grid goes on,
`bench status` agrees, and a Ctrl-C stops the grid and every cell it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import TINY_PROTOCOL

from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION

PLUGIN = '''
"""Test plugin: CLMR with a cheap deterministic loss (quick-clmr), optionally slow and leaving a
mark file when it starts training (BENCH_TEST_STEP_SECONDS, BENCH_TEST_MARK); one that always
crashes in its first training step (broken-clmr)."""
import os
import time
from pathlib import Path

from ssl_music_bench import register_method
from ssl_music_bench.methods.clmr import CLMR


@register_method("quick-clmr", paper="test double of CLMR (Spijkervet & Burgoyne 2021)")
class QuickCLMR(CLMR):
    def training_loss(self, batch):
        if os.environ.get("BENCH_TEST_MARK"):
            Path(os.environ["BENCH_TEST_MARK"]).write_text("training")
        time.sleep(float(os.environ.get("BENCH_TEST_STEP_SECONDS", "0")))
        return sum((p.float() ** 2).mean() for p in self.encoder.parameters())


@register_method("broken-clmr", paper="test double of CLMR (Spijkervet & Burgoyne 2021)")
class BrokenCLMR(CLMR):
    def training_loss(self, batch):
        raise RuntimeError("boom: the test's deliberate crash")
'''


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "plugin.py").write_text(PLUGIN)
    (tmp_path / "tiny.toml").write_text(TINY_PROTOCOL)
    return tmp_path / "plugin.py", tmp_path / "tiny.toml"


def grid_command(files: tuple[Path, Path], home: Path, methods: list[str], tasks: list[str]) -> list[str]:
    plugin, protocol = files
    return ["bench", "grid", "--plugin", str(plugin), "--protocol", str(protocol), "--methods", *methods,
            "--encoders", "effnet", "--tasks", *tasks, "--jobs", "2", "--home", str(home), "--no-progress"]


def records(home: Path) -> dict[Path, str]:
    folder = home / "records" / "test-tiny"
    return {path: path.read_text() for path in folder.glob("*.json")} if folder.is_dir() else {}


def test_grid_fills_resumes_after_a_kill_and_pretrains_each_group_once(tmp_path: Path, files) -> None:
    home = tmp_path / "home"
    command = grid_command(files, home, ["quick-clmr", "random-init"], ["synth-tags", "synth-genre"])
    # a session of its own: the SIGKILL below reaches the grid and every `bench run` it started,
    # as a lost node or `kill -9` of the job's process group would
    grid = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 600
    while not records(home) and grid.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert records(home), f"no record appeared: {grid.communicate()[1][-3000:]}"
    os.killpg(grid.pid, signal.SIGKILL)
    grid.communicate()
    before = records(home)
    assert 1 <= len(before) < 4  # killed mid-grid (the grid of 4 cells was not finished)

    again = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout == ""  # progress and messages on stderr
    assert f"4 cells, {len(before)} already done" in again.stderr
    after = records(home)
    assert len(after) == 4
    assert all(after[path] == text for path, text in before.items())  # done cells were skipped, not rerun
    quick = [json.loads(text) for path, text in after.items() if path.name.startswith("quick-clmr__")]
    # one pretraining for both tasks of the group (before or after the kill: the kill may have
    # come after the checkpoint was saved, and then both records reuse it)
    assert len(quick) == 2 and sum(not r["pretraining"]["reused"] for r in quick) <= 1
    checkpoints = [p for p in (home / "checkpoints").glob("quick-clmr-effnet-*")
                   if p.is_dir() and not p.name.endswith((".resume", ".partial"))]
    assert len(checkpoints) == 1 and len({r["pretraining"]["weights_sha256"] for r in quick}) == 1


def test_a_failed_cell_is_reported_the_grid_goes_on_and_status_agrees(tmp_path: Path, files) -> None:
    home = tmp_path / "home"
    run = subprocess.run(grid_command(files, home, ["broken-clmr", "random-init"], ["synth-genre"]),
                         capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "failed broken-clmr + effnet on synth-genre, seed 0: RuntimeError: boom: the test's deliberate crash" \
        in " ".join(run.stderr.split())
    assert "1 of 2 cells failed" in " ".join(run.stderr.split())
    assert [p.name for p in records(home)] == [f"random-init__effnet__synth-genre__seed0__corpus{SYNTH_VERSION}.json"]
    log = home / "grid" / "logs" / "test-tiny" / f"broken-clmr__effnet__synth-genre__seed0__corpus{SYNTH_VERSION}.log"
    assert "Traceback" in log.read_text()  # the whole output of the failed `bench run` is kept

    plugin, protocol = files
    status = subprocess.run(["bench", "status", "--plugin", str(plugin), "--protocol", str(protocol), "--task",
                             "synth-genre", "--home", str(home)], capture_output=True, text=True, timeout=300, check=False)
    assert status.returncode == 0, status.stderr
    rows = {line.split("  ")[0].strip(): line for line in status.stdout.splitlines()}
    assert "✓" in rows["random-init effnet"] and "✗" in rows["broken-clmr effnet"]
    assert "# failed: broken-clmr effnet synth-genre seed 0: RuntimeError: boom" in status.stdout


@pytest.mark.parametrize(("signal_number", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_stops_the_grid_and_every_cell_it_started(
        tmp_path: Path, files, signal_number: int, status: int) -> None:
    """A SIGTERM (`kill`, a batch system's preemption) used to end the grid alone: its cells went
    on training, orphaned (seen 2026-12-03). Both signals must reach every cell it started."""
    home, mark = tmp_path / "home", tmp_path / "training"
    environment = {**os.environ, "BENCH_TEST_MARK": str(mark), "BENCH_TEST_STEP_SECONDS": "5"}
    # SIGINT at its default, as in a terminal's foreground job (a test run in a script's
    # background inherits it ignored); the signal goes to the grid alone (`kill -INT <pid>`),
    # so the grid itself must pass it on to the `bench run` it started
    grid = subprocess.Popen(grid_command(files, home, ["quick-clmr"], ["synth-genre"]), env=environment,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 600
    while not mark.exists() and grid.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mark.exists(), "the cell never started training"
    os.kill(grid.pid, signal_number)
    try:
        _, stderr = grid.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(grid.pid, signal.SIGKILL)
        raise AssertionError(f"bench grid hung after signal {signal_number}")
    assert grid.returncode == status, stderr[-3000:]
    assert "grid interrupted: 0 cells done now" in stderr and "1 left" in stderr
    with pytest.raises(ProcessLookupError):  # no `bench run` outlived the grid
        os.killpg(grid.pid, 0)
    assert not records(home)
    assert not list((home / "records").rglob("failed/*.json"))  # an interruption is not a failure
