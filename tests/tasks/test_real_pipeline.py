"""A real-format dataset end to end: prepare, separate (untrained open-unmix), pretrain MSA on it,
probe, record. The stems are meaningless; this checks the plumbing users will run with real weights."""

from __future__ import annotations

from pathlib import Path

from test_task_gtzan import write_gtzan

from ssl_music_bench.cli import main
from ssl_music_bench.data.store import ClipStore

PROTOCOL = """
name = "test-gtzan"
version = 1
description = "tiny budget on a prepared real-format dataset"
synth_size = "tiny"
[pretrain]
data = "gtzan"
batch_size = 2
steps = 1
[probe]
max_epochs = 3
early_stop_patience = 1
"""


def test_prepare_separate_then_msa_on_gtzan(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    root, home = tmp_path / "gtzan", tmp_path / "home"
    write_gtzan(root)
    protocol = tmp_path / "gtzan.toml"
    protocol.write_text(PROTOCOL)
    run = ["run", "--method", "msa", "--encoder", "effnet", "--task", "gtzan", "--protocol", str(protocol),
           "--home", str(home), "--no-progress"]
    assert main(["prepare", "--task", "gtzan", "--root", str(root), "--home", str(home), "--no-progress"]) == 0
    assert main(run) == 2  # no stems yet: a clear message, no traceback
    assert "bench separate" in capsys.readouterr().err
    assert main(["separate", "--task", "gtzan", "--untrained", "--niter", "0", "--home", str(home), "--no-progress"]) == 0
    stems = ClipStore(home / "data" / "prepared" / "gtzan-stems")
    mixtures = ClipStore(home / "data" / "prepared" / "gtzan")
    assert stems.sources == ("drums", "bass", "vocals", "other")
    assert [i.id for i in stems.items] == [i.id for i in mixtures.items]
    assert main(run) == 0
    out = capsys.readouterr().err
    assert "msa + effnet on gtzan" in out and "accuracy" in out
    assert (home / "records" / "test-gtzan" / "msa__effnet__gtzan__seed0.json").is_file()
