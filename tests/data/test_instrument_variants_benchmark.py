"""benchmarks/instrument_variants.py: the note-generator variants it measures are what its
docstring (and docs/TASKS.md) say, and it never works in a home that is not its own."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ssl_music_bench.data.synth import notes, render

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "instrument_variants.py"


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("instrument_variants_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # the variants replace generator functions for the whole process: restore them after the test
    monkeypatch.setattr(notes, "_render", notes._render)
    monkeypatch.setattr(render, "generate_note", render.generate_note)
    monkeypatch.setattr(notes, "ACCOMPANIMENT", notes.ACCOMPANIMENT)
    return module


def test_a_body_colours_every_note_of_an_instrument_alike_and_keeps_its_peak(script) -> None:
    plain = notes._render(0, "brass", 3, 60, 100, np.random.default_rng(7))
    script.install_body(resonances=4, gain_db=18.0, tilt=3.0)
    coloured = notes._render(0, "brass", 3, 60, 100, np.random.default_rng(7))
    assert coloured.shape == plain.shape
    assert np.abs(coloured).max() == pytest.approx(np.abs(plain).max())
    assert not np.allclose(coloured, plain, atol=1e-3)
    # the same instrument's body on another note: its spectrum moved the same way, within the jitter
    bands = np.geomspace(100, 7000, 9)

    def band_db(x: np.ndarray) -> np.ndarray:
        power, freqs = np.abs(np.fft.rfft(x)) ** 2, np.fft.rfftfreq(len(x), 1 / 16_000)
        return np.array([10 * np.log10(power[(freqs >= lo) & (freqs < hi)].sum()) for lo, hi in zip(bands[:-1], bands[1:])])

    body = np.random.default_rng([0, notes.NOTE_FAMILIES.index("brass"), 3, 2000])
    gain = script.body_gain_db(np.sqrt(bands[:-1] * bands[1:]), body, 4, 18.0, 3.0, 1.0)
    change = band_db(coloured) - band_db(plain)
    # levels are relative (the peak is kept): compare the shapes of the change and of the body
    assert np.corrcoef(change, gain)[0, 1] > 0.9


def test_the_lowest_variant_labels_the_lowest_note(script, monkeypatch: pytest.MonkeyPatch) -> None:
    played: list[int] = []
    plain = notes._render

    def spy(seed, family, number, pitch, velocity, rng):
        played.append(pitch)
        return plain(seed, family, number, pitch, velocity, rng)

    monkeypatch.setattr(notes, "_render", spy)
    script.install_lowest(accompaniment=2)
    note = render.generate_note(0, 2, 4)
    assert len(played) == 3 and note.pitch == played[0] == min(played)
    assert all(5 <= other - note.pitch <= 19 for other in played[1:]) and 36 <= note.pitch <= 72


def test_it_refuses_a_home_it_did_not_make(script, tmp_path: Path) -> None:
    foreign = tmp_path / "someone's"
    foreign.mkdir()
    (foreign / "data").mkdir()
    with pytest.raises(SystemExit, match="not made by this script"):
        script.claim_home(foreign, {"variant": "body"})
    assert sorted(p.name for p in foreign.iterdir()) == ["data"]  # untouched
    own = tmp_path / "new"
    script.claim_home(own, {"variant": "body"})
    script.claim_home(own, {"variant": "body"})  # its own, for the same settings: accepted again
    with pytest.raises(SystemExit):
        script.claim_home(own, {"variant": "lowest"})  # another variant's corpus must not meet it
