"""The `bench` command end to end on the tiny synthetic corpus, and its error messages."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
from ssl_music_bench.environment import lock_sha256

REPO = Path(__file__).resolve().parents[2]


def bench(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `bench` console script as a user would."""
    env = {**os.environ, "COLUMNS": "200"}
    if home is not None:
        env["BENCH_HOME"] = str(home)
    return subprocess.run(["bench", *args], capture_output=True, text=True, env=env, timeout=900)


def test_list_shows_pairs() -> None:
    result = bench("list")
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    for name in ("clmr", "samplecnn", "effnet", "synth-tags", "synth-genre", "synth-instrument", "synth-pitch"):
        assert name in out
    assert "encoders: effnet, samplecnn" in out


def test_run_both_encoders_then_table(shared_home: Path, tiny_protocol_file: Path) -> None:
    for encoder in ("samplecnn", "effnet"):
        result = bench("run", "--method", "clmr", "--encoder", encoder, "--task", "synth-tags",
                       "--protocol", str(tiny_protocol_file), "--no-progress", home=shared_home)
        assert result.returncode == 0, result.stderr
        assert "roc_auc" in result.stderr
    # the session's home is shared with other test files: look at this test's records only
    records = sorted((shared_home / "records" / "test-tiny").glob(f"clmr__*__synth-tags__seed0__corpus{SYNTH_VERSION}.json"))
    assert [p.name for p in records] == [f"clmr__effnet__synth-tags__seed0__corpus{SYNTH_VERSION}.json",
                                         f"clmr__samplecnn__synth-tags__seed0__corpus{SYNTH_VERSION}.json"]
    record = json.loads(records[1].read_text())
    assert record["protocol"]["name"] == "test-tiny" and record["seed"] == 0
    assert 0.0 <= record["metrics"]["roc_auc"] <= 1.0 and 0.0 <= record["metrics"]["pr_auc"] <= 1.0
    assert record["encoder_parameters"] == record["encoder_parameters_used"] == 2_368_512
    assert record["pretraining"]["steps"] == 2 and not record["pretraining"]["reused"]
    assert set(record["versions"]) >= {"python", "torch", "torchaudio", "torchvision", "lightly", "timm"}
    assert record["lock"]["sha256"] == lock_sha256() and isinstance(record["lock"]["departures"], dict)
    assert "sha" in record["git"] and record["timings"]["total_s"] > 0
    assert record["memory"]["peak_rss_mb"] > 100
    table = bench("table", home=shared_home)
    assert table.returncode == 0
    rows = [line for line in table.stdout.splitlines() if line.startswith("| clmr |")]
    assert len(rows) == 2 and "effnet" in rows[0] and "samplecnn" in rows[1]


def test_second_task_reuses_the_checkpoint(shared_home: Path, tiny_protocol_file: Path) -> None:
    args = ["run", "--method", "clmr", "--encoder", "effnet", "--protocol", str(tiny_protocol_file), "--no-progress"]
    first = bench(*args, "--task", "synth-tags", home=shared_home)
    second = bench(*args, "--task", "synth-genre", home=shared_home)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "reusing pretrained checkpoint" in second.stderr
    record = json.loads((shared_home / "records" / "test-tiny" / f"clmr__effnet__synth-genre__seed0__corpus{SYNTH_VERSION}.json").read_text())
    assert record["pretraining"]["reused"] is True
    assert 0.0 <= record["metrics"]["accuracy"] <= 1.0


def test_plugin_method_runs(shared_home: Path, tiny_protocol_file: Path) -> None:
    result = bench("run", "--plugin", str(REPO / "examples" / "time_shift_contrast.py"), "--method", "time-shift",
                   "--encoder", "effnet", "--task", "synth-genre", "--protocol", str(tiny_protocol_file),
                   "--no-progress", home=shared_home)
    assert result.returncode == 0, result.stderr
    assert (shared_home / "records" / "test-tiny" / f"time-shift__effnet__synth-genre__seed0__corpus{SYNTH_VERSION}.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "clmrr", "--encoder", "effnet", "--task", "synth-tags"], 'Did you mean "clmr"'),
        (["--method", "clmr", "--encoder", "efnet", "--task", "synth-tags"], 'Did you mean "effnet"'),
        (["--method", "clmr", "--encoder", "effnet", "--task", "synth-tag"], 'Did you mean "synth-tags"'),
        (["--method", "clmr", "--encoder", "effnet", "--task", "synth-tags", "--protocol", "v2"], "Unknown protocol"),
    ],
)
def test_bad_names_get_one_paragraph_and_exit_2(args: list[str], message: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unwritable_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(["run", "--method", "clmr", "--encoder", "effnet", "--task", "synth-tags", "--home", str(blocker / "home")])
    assert code == 2
    assert "is not writable" in capsys.readouterr().err


def test_incompatible_pairing_is_refused_before_any_work(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ssl_music_bench import register_method
    from ssl_music_bench.contracts.method import Method
    from ssl_music_bench.contracts.registry import METHODS

    @register_method("test-spectrogram-only")
    class SpectrogramOnly(Method):
        """Needs a mel spectrogram."""

        accepts = frozenset({"mel"})

    try:
        code = main(["run", "--method", "test-spectrogram-only", "--encoder", "samplecnn", "--task", "synth-tags",
                     "--protocol", "cpu"])
    finally:
        METHODS.unregister("test-spectrogram-only")
    assert code == 2
    assert "Compatible encoders for test-spectrogram-only: effnet" in capsys.readouterr().err
    assert not (home / "data").exists()  # refused before generating or reading any data
