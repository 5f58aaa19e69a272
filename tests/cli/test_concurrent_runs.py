"""Two identical `bench run` at once: one pretrains and embeds, the other waits on the locks and
reuses its checkpoint and embeddings, and both end with the same metrics (train/pretrained.py's
checkpoint lock, evaluate/cache.py's entry lock). Progress and messages go to stderr: stdout
stays empty for data."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import TINY_PROTOCOL

QUICK_PLUGIN = '''
"""Test plugin: CLMR with a cheap deterministic loss, each step taking BENCH_TEST_STEP_SECONDS,
so that a second run meets the first mid-pretraining; with BENCH_TEST_RECORD_COPY=FILE the
record this process writes is also copied there (two identical runs write the same record file)."""
import json
import os
import time
from pathlib import Path

import ssl_music_bench.run as run_module
from ssl_music_bench import register_method
from ssl_music_bench.methods.clmr import CLMR


@register_method("quick-clmr", paper="test double of CLMR (Spijkervet & Burgoyne 2021)")
class QuickCLMR(CLMR):
    def training_loss(self, batch):
        time.sleep(float(os.environ.get("BENCH_TEST_STEP_SECONDS", "0")))
        return sum((p.float() ** 2).mean() for p in self.encoder.parameters())


_write_record = run_module.write_record


def _write_and_copy(home, record):
    path = _write_record(home, record)
    if os.environ.get("BENCH_TEST_RECORD_COPY"):
        Path(os.environ["BENCH_TEST_RECORD_COPY"]).write_text(json.dumps(record, default=str))
    return path


run_module.write_record = _write_and_copy
'''


def test_two_identical_runs_pretrain_and_embed_once(tmp_path: Path) -> None:
    plugin = tmp_path / "quick.py"
    plugin.write_text(QUICK_PLUGIN)
    protocol = tmp_path / "tiny.toml"
    protocol.write_text(TINY_PROTOCOL)
    home = tmp_path / "home"
    command = ["bench", "run", "--plugin", str(plugin), "--method", "quick-clmr", "--encoder", "effnet",
               "--task", "synth-genre", "--protocol", str(protocol), "--home", str(home)]  # progress bars on
    runs = []
    for name in ("a", "b"):
        env = {**os.environ, "BENCH_TEST_STEP_SECONDS": "2", "BENCH_TEST_RECORD_COPY": str(tmp_path / f"{name}.json")}
        runs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, err[-3000:]
        assert out == "", out[-2000:]  # Lightning's and the embedding's progress went to stderr
    records = [json.loads((tmp_path / f"{name}.json").read_text()) for name in ("a", "b")]

    assert sorted(r["pretraining"]["reused"] for r in records) == [False, True]  # exactly one pretrained
    trained = next(r for r in records if not r["pretraining"]["reused"])
    assert trained["pretraining"]["steps"] == 2
    assert any("waiting for another run that is pretraining" in err for _, err in outputs)
    for split in ("train", "valid", "test"):  # each split embedded once, reused by the other run
        assert sum(split in r["reused_embeddings"] for r in records) == 1
    assert records[0]["metrics"] == records[1]["metrics"]
    assert records[0]["valid_metrics"] == records[1]["valid_metrics"]
    assert records[0]["pretraining"]["weights_sha256"] == records[1]["pretraining"]["weights_sha256"]
