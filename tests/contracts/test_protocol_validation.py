"""Every protocol setting is checked, with its type and range, before any work starts: the message
names the file, the key, the value and what is allowed; names that become paths stay inside the home."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssl_music_bench.contracts.protocol import load_protocol
from ssl_music_bench.errors import BenchError

GOOD = """name = "x"
version = 1
description = ""
synth_size = "tiny"
seeds = [0]

[pretrain]
data = "synth-tags"
batch_size = 4
steps = 2
"""


@pytest.mark.parametrize("line, fragment", [
    ('name = "../../escaped"', "name = '../../escaped'"),
    ('name = "/abs/where"', "name = '/abs/where'"),
    ('seeds = "abc"', "seeds = 'abc'"),
    ("seeds = [-1]", "seeds = [-1]"),
    ("seeds = [73786976294838206464]", "seeds = [73786976294838206464]"),
    ('synth_size = "huge"', "synth_size = 'huge'"),
    ("version = 0", "version = 0"),
])
def test_top_level_values_are_checked(tmp_path: Path, line: str, fragment: str) -> None:
    key = line.split(" =")[0]
    text = "\n".join(line if row.startswith(key + " =") else row for row in GOOD.splitlines())
    path = tmp_path / "p.toml"
    path.write_text(text + "\n")
    with pytest.raises(BenchError) as raised:
        load_protocol(str(path))
    assert fragment in str(raised.value) and str(path) in str(raised.value)


@pytest.mark.parametrize("table, line", [
    ("pretrain", 'precision = "foo"'), ("pretrain", "steps = 2.5"), ("pretrain", 'batch_size = "4"'),
    ("pretrain", "num_workers = -1"), ("pretrain", 'data = "nope"'), ("pretrain", "log_every_steps = 0"),
    ("pretrain", "convergence_tolerance = 0.0"), ("pretrain", "convergence_tolerance = 1.5"),
    ("probe", "max_epochs = 0"), ("probe", "batch_size = 0"), ("probe", "embed_batch_size = 0"),
    ("probe", 'kind = "foo"'), ("probe", "learning_rate = nan"), ("probe", "learning_rate = -1.0"),
    ("probe", "lr_reduce_factor = 1.5"), ("probe", "standardize = 1"), ("probe", "colour = 3"),
])
def test_table_values_are_checked_before_any_work(tmp_path: Path, table: str, line: str) -> None:
    key = line.split(" =")[0]
    rows = [row for row in GOOD.splitlines() if not (table == "pretrain" and row.startswith(key + " ="))]
    text = "\n".join(rows) + "\n" + (f"{line}\n" if table == "pretrain" else f"\n[probe]\n{line}\n")
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(BenchError) as raised:
        load_protocol(str(path))
    message = str(raised.value)
    assert str(path) in message and line.split(" =")[0].strip() in message


def test_a_missing_table_and_bad_bytes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\nversion = 1\ndescription = ""\n')
    with pytest.raises(BenchError, match=r"no \[pretrain\] table"):
        load_protocol(str(path))
    path.write_bytes(b'name = "\xff\xfe"\n')
    with pytest.raises(BenchError, match="not UTF-8"):
        load_protocol(str(path))


def test_cli_prints_table_names_in_messages(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from ssl_music_bench.cli import main

    path = tmp_path / "p.toml"
    path.write_text('name = "x"\nversion = 1\ndescription = ""\n')
    assert main(["protocol", "show", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "[pretrain] table" in err and "the tables [pretrain] and [probe]" in err
