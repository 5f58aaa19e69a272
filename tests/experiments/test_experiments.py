"""`bench experiment`: every named experiment parses, cites its paper, expands into the cells it
should (under derived protocols where it varies a protocol setting) and renders its table with
the expected rows and columns; one runs end to end through the grid runner."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from ssl_music_bench.cli import main
from ssl_music_bench.contracts.protocol import Protocol, load_protocol
from ssl_music_bench.errors import BenchError
from ssl_music_bench.experiments.definitions import experiment_names, load_experiment, parse_experiment
from ssl_music_bench.experiments.expansion import expand_experiment
from ssl_music_bench.experiments.rendering import experiment_table
from ssl_music_bench.grid.worker import cell_identity
from ssl_music_bench.report.records import SCHEMA_VERSION, write_record

EXPECTED = {"clmr-augmentations", "clmr-batch", "data-efficiency", "transfer", "msa-ablations", "msa-sources",
            "convergence"}
CHAIN = ("polarity", "noise", "gain", "filter", "delay", "pitch", "reverb")


def test_every_experiment_is_declared_and_cites_its_paper() -> None:
    assert set(experiment_names()) == EXPECTED
    for name in EXPECTED:
        experiment = load_experiment(name)
        assert experiment.name == name
        assert re.search(r"(Spijkervet|Garoufis).*20(21|23)", experiment.reproduces), name
    with pytest.raises(BenchError, match='Did you mean "msa-sources"'):
        load_experiment("msa-source")
    with pytest.raises(BenchError, match="layout must be one of"):
        parse_experiment('name = "x"\ntitle = "x"\nreproduces = "x"\nlayout = "pie"\nmethods = ["clmr"]\ntasks = ["t"]')
    with pytest.raises(BenchError, match="has no setting colour"):
        parse_experiment('name = "x"\ntitle = "x"\nreproduces = "x"\nlayout = "along"\ncolour = 1')


def rows_of(cells) -> list[str]:  # type: ignore[no-untyped-def]
    return list(dict.fromkeys(entry.row for entry in cells))


def test_expansions(home: Path) -> None:
    augmentations = expand_experiment(load_experiment("clmr-augmentations"), "cpu", home)
    assert rows_of(augmentations) == ["whole chain", *(f"without {t}" for t in CHAIN), *(f"{t} only" for t in CHAIN)]
    without_pitch = next(e.cell for e in augmentations if e.row == "without pitch")
    assert without_pitch.overrides == (("augment.pitch_p", "0"),) and without_pitch.label == "clmr[augment.pitch_p=0]"
    assert len(next(e.cell for e in augmentations if e.row == "filter only").overrides) == 6

    batch = expand_experiment(load_experiment("clmr-batch"), "cpu", home)
    assert rows_of(batch) == ["batch 48 (7 steps)", "batch 96 (3 steps)", "batch 456 (1 step)"]  # 20 x 16 examples
    derived = load_protocol(batch[0].cell.protocol)
    assert (derived.name, derived.pretrain.batch_size, derived.pretrain.steps) == ("cpu-batch48", 48, 7)
    assert derived.probe == load_protocol("cpu").probe  # everything else as the given protocol

    fractions = expand_experiment(load_experiment("data-efficiency"), "cpu", home, encoders=["samplecnn"])
    assert {e.condition for e in fractions} == {"1 %", "10 %", "100 %"}
    assert {"clmr + samplecnn", "random-init + samplecnn", "supervised + samplecnn"} <= set(rows_of(fractions))

    transfer = expand_experiment(load_experiment("transfer"), "cpu", home)
    assert rows_of(transfer) == ["pretrained on synth-tags", "pretrained on synth-instrument"]
    assert load_protocol(transfer[-1].cell.protocol).pretrain.data == "synth-instrument"
    assert transfer[0].cell.protocol == "cpu"  # the protocol's own pretraining data: its own runs serve
    assert {e.cell.task for e in transfer} == {"synth-tags", "synth-genre", "synth-instrument", "synth-pitch"}

    ablations = expand_experiment(load_experiment("msa-ablations"), "cpu", home, seeds=[0, 1])
    assert {e.cell.label for e in ablations} == {"msa", "msa[silent=false]", "msa[homogeneous=false]",
                                                "msa[loss=plain]", "msa[time_shift=false]"}
    assert len(ablations) == 5 * 2 * 2  # variants x tasks x seeds

    sources = expand_experiment(load_experiment("msa-sources"), "cpu", home)
    assert next(e.cell.method for e in sources if e.row == "none (COLA)") == "cola"
    assert next(e.cell.label for e in sources if e.row == "accompaniment") == "msa[sources=other]"

    along = expand_experiment(load_experiment("convergence"), "cpu", home)
    assert rows_of(along) == ["msa + effnet", "cola-mws + effnet"]
    assert load_protocol(along[0].cell.protocol).pretrain.probe_every == 5  # 20 steps, 4 points


def fake_record(entry, protocol: Protocol, value: float) -> dict:  # type: ignore[no-untyped-def]
    """A run record of a cell with known metrics: the rendering is checked against them."""
    metrics = {"roc_auc": value, "pr_auc": value / 2} if entry.cell.task == "synth-tags" else {"accuracy": value}
    return {"schema_version": SCHEMA_VERSION, **cell_identity(entry.cell, protocol), "metrics": metrics,
            "along_pretraining": [{"step": 5, "metrics": {k: v / 4 for k, v in metrics.items()}},
                                  {"step": 20, "metrics": metrics}]}


def table_rows(text: str) -> dict[str, list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_experiment_renders_its_rows_and_columns(name: str, home: Path) -> None:
    experiment = load_experiment(name)
    cells = expand_experiment(experiment, "cpu", home, seeds=[0, 1], encoders=["effnet"] if
                              name == "data-efficiency" else None)
    last = cells[-1].row
    for number, entry in enumerate(cells):
        if entry.row == last:
            continue  # the last row's cells have no record: shown as "-"
        value = 0.5 + 0.01 * (number // 2)  # the two seeds of a cell's row differ by 0.01 at most
        write_record(home, fake_record(entry, load_protocol(entry.cell.protocol), value + 0.001 * entry.cell.seed))
    text = experiment_table(experiment, cells, home, "cpu")
    rows = table_rows(text)
    header = rows.pop("row")
    resolution = rows.pop("*resolution ±*")
    assert list(rows) == list(dict.fromkeys(entry.row for entry in cells))
    tasks = list(dict.fromkeys(entry.cell.task for entry in cells))
    metrics = {task: ["roc_auc", "pr_auc"] if task == "synth-tags" else ["accuracy"] for task in tasks}
    if experiment.layout == "along":
        expected = [f"{t} {m} step {s}" for t in tasks for m in metrics[t] for s in (5, 20)]
    elif experiment.layout == "fractions":
        expected = [f"{t} {m} {f}" for t in tasks for m in metrics[t] for f in ("1 %", "10 %", "100 %")]
    else:
        expected = [f"{t} {m}" for t in tasks for m in metrics[t]]
    papers = any(entry.paper for entry in cells)
    assert header == expected + (["paper (reported)"] if papers else [])
    assert resolution == ["-"] * len(expected) + ([""] if papers else [])  # these fake records store none
    first = rows[cells[0].row]
    assert re.fullmatch(r"\d+\.\d\d ± \d+\.\d\d \(n=2\)", first[0])  # two seeds: mean and interval
    missing = sum(entry.row == last for entry in cells)
    assert f"No record for {missing} of {len(cells)} cells" in text
    assert rows[last][: len(expected)] == ["-"] * len(expected)
    if experiment.paper:
        assert f"Paper: {experiment.paper}" in text
    if name == "msa-sources":
        assert rows["bass"][-1] == "MTAT .885 / .392, NSynth .624, FMA .487"  # FACTS.md beside our row


def test_the_experiment_files_are_plain_toml_beside_the_protocols() -> None:
    folder = Path(load_protocol.__code__.co_filename).parent / "experiments"
    for name in EXPECTED:
        raw = tomllib.loads((folder / f"{name}.toml").read_text())
        assert raw["name"] == name and raw["reproduces"]


def test_convergence_runs_end_to_end_and_draws_its_figure(
    home: Path, shared_home: Path, tiny_protocol_file: Path, tiny_encoder: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home.mkdir(parents=True)
    (shared_home / "data").mkdir(exist_ok=True)
    (home / "data").symlink_to(shared_home / "data", target_is_directory=True)  # the corpus, generated once
    command = ["experiment", "convergence", "--protocol", str(tiny_protocol_file), "--encoders", "test-tiny-mel",
               "--plugin", str(tiny_encoder), "--home", str(home), "--out", str(tmp_path / "figures"), "--no-progress"]
    assert main(command) == 0
    out, err = capsys.readouterr()
    rows = table_rows(out)
    assert rows.pop("row") == [f"synth-tags {m} step {s}" for m in ("roc_auc", "pr_auc") for s in (1, 2)]
    assert all(re.fullmatch(r"\d+\.\d\d", width) for width in rows.pop("*resolution ±*"))
    assert list(rows) == ["msa + test-tiny-mel", "cola-mws + test-tiny-mel"]
    assert all(re.fullmatch(r"\d+\.\d\d", cell) for row in rows.values() for cell in row)
    assert "2 cells run now" in err
    assert (tmp_path / "figures" / "convergence" / "convergence_synth-tags.png").read_bytes()[:4] == b"\x89PNG"
    assert main(command) == 0  # again: every cell is done, nothing runs, the same table
    again, err = capsys.readouterr()
    assert again == out and "0 cells run now, 2 done before" in err


@pytest.mark.parametrize("name", sorted(EXPECTED - {"convergence"}))
def test_every_experiment_runs_end_to_end_on_a_tiny_grid(
    name: str, home: Path, shared_home: Path, tiny_protocol_file: Path, tiny_encoder: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every cell of the experiment (its first task only, one seed, the tiny test encoder) runs
    through the grid runner and the printed table holds every row with a number in each column."""
    home.mkdir(parents=True)
    (shared_home / "data").mkdir(exist_ok=True)
    (home / "data").symlink_to(shared_home / "data", target_is_directory=True)  # the corpus, generated once
    experiment = load_experiment(name)
    task = experiment.tasks[0]
    command = ["experiment", name, "--protocol", str(tiny_protocol_file), "--encoders", "test-tiny-mel",
               "--tasks", task, "--jobs", "2", "--plugin", str(tiny_encoder), "--home", str(home),
               "--out", str(tmp_path / "figures"), "--no-progress"]
    assert main(command) == 0
    out, err = capsys.readouterr()
    cells = expand_experiment(experiment, str(tiny_protocol_file), home, [task], None, ["test-tiny-mel"])
    assert f"{len(cells)} cells run now, 0 done before, 0 failed" in " ".join(err.split())
    rows = table_rows(out)
    header = rows.pop("row")
    widths = rows.pop("*resolution ±*")
    assert list(rows) == list(dict.fromkeys(entry.row for entry in cells))
    measured = [column for column in header if column != "paper (reported)"]
    assert all(re.fullmatch(r"\d+\.\d\d", width) for width in widths[: len(measured)])  # every real record stores one
    assert measured and all(column.startswith(task) for column in measured)
    for row, values in rows.items():
        assert all(re.fullmatch(r"\d+\.\d\d", value) for value in values[: len(measured)]), (row, values)
    assert "No record for" not in out
