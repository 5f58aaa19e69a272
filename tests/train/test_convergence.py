"""The convergence figure: relative change of the smoothed loss over the last fifth of the steps."""

from __future__ import annotations

import json
import math
import random

from ssl_music_bench.train.convergence import convergence, relative_change


def curve(losses: list[float], every: int = 5) -> list[list[float]]:
    return [[every * (i + 1), loss] for i, loss in enumerate(losses)]


def test_a_flat_curve_has_converged() -> None:
    figure = convergence(curve([2.77] * 40), tolerance=0.05)
    assert figure == {"relative_change": 0.0, "tolerance": 0.05, "share_of_fall": None, "share_limit": 0.1,
                      "converged": True}


def test_a_steadily_falling_curve_has_not() -> None:
    change = relative_change(curve([10.0 - 0.1 * i for i in range(50)]))  # 10 -> 5.1, still falling
    assert change is not None and change > 0.15
    assert convergence(curve([10.0 - 0.1 * i for i in range(50)]), 0.05)["converged"] is False


def test_a_decay_that_flattened_has_converged_and_one_still_decaying_has_not() -> None:
    flattened = [2.0 + 8.0 * math.exp(-i / 5) for i in range(100)]  # time constant 5 of 100 points
    still_falling = [2.0 + 8.0 * math.exp(-i / 60) for i in range(100)]
    assert abs(relative_change(curve(flattened))) < 0.01
    assert relative_change(curve(still_falling)) > 0.05


def test_a_slow_steady_fall_has_not_converged_though_its_level_barely_moved() -> None:
    # issue 12's supervised ceiling on synth-genre: 2.09 -> 1.86 over 1,500 steps, validated every 50
    rng = random.Random(1)
    losses = [2.09 - 0.23 * i / 29 + rng.gauss(0, 0.005) for i in range(30)]
    figure = convergence(curve(losses, every=50), tolerance=0.05)
    assert figure is not None and abs(figure["relative_change"]) < 0.05  # the level alone would pass it
    assert 0.15 < figure["share_of_fall"] < 0.3 and figure["converged"] is False
    flattened = [1.86 + 0.23 * math.exp(-i / 6) for i in range(30)]  # the same fall, done by a third of the run
    assert convergence(curve(flattened, every=50), tolerance=0.05)["converged"] is True


def test_a_curve_that_never_fell_is_judged_by_its_level_only() -> None:
    rng = random.Random(2)
    stuck = [2.77 + rng.gauss(0, 0.01) for _ in range(60)]  # a contrastive loss at chance: noise, no fall
    figure = convergence(curve(stuck), tolerance=0.05)
    assert figure["share_of_fall"] is None and figure["converged"] is True


def test_noise_and_spikes_are_smoothed_away() -> None:
    rng = random.Random(0)
    noisy = [3.0 + rng.gauss(0, 0.05) for _ in range(200)]
    for i in range(175, 200, 6):  # single-batch spikes in the last fifth
        noisy[i] = 9.0
    figure = convergence(curve(noisy), tolerance=0.05)
    assert figure is not None and figure["converged"], figure


def test_a_loss_going_to_zero_is_judged_against_its_whole_fall() -> None:
    # 2.0 -> 0.02 -> 0.01: 50 % of the final level, but nothing beside the fall before it
    losses = [2.0 * math.exp(-i / 3) + 0.01 + 0.01 * max(0.0, (80 - i) / 80) for i in range(100)]
    assert abs(relative_change(curve(losses))) < 0.01


def test_a_rising_loss_is_negative_and_a_short_curve_has_no_figure() -> None:
    assert relative_change(curve([1.0 + 0.05 * i for i in range(20)])) < -0.1
    assert relative_change(curve([3.0, 2.0])) is None
    assert convergence([], 0.05) is None


def test_run_records_carry_convergence_resolution_and_corpus_version(shared_home, tiny_protocol_file) -> None:
    from ssl_music_bench.contracts.protocol import load_protocol
    from ssl_music_bench.data.synthetic_corpus import SYNTH_VERSION
    from ssl_music_bench.report.records import record_problem
    from ssl_music_bench.run import run_benchmark
    from ssl_music_bench.run_spec import RunOptions, RunSpec

    protocol = load_protocol(str(tiny_protocol_file))
    options = RunOptions(progress=False)
    trained, _ = run_benchmark(RunSpec("cola", "effnet", protocol, task="synth-genre", seed=0), shared_home, options)
    floor, _ = run_benchmark(RunSpec("random-init", "effnet", protocol, task="synth-genre", seed=0), shared_home,
                             options)
    figure = trained["pretraining"]["convergence"]
    assert figure is None or set(figure) == {"relative_change", "tolerance", "share_of_fall", "share_limit",
                                             "converged"}  # 2 steps: too short
    assert convergence(trained["pretraining"]["loss_curve"], 0.05) == figure
    assert floor["pretraining"]["convergence"] is None  # random-init does not pretrain
    for record in (trained, floor):
        assert set(record["resolution"]) == {"accuracy"} and 0.0 <= record["resolution"]["accuracy"] <= 0.5
        assert record["dataset"]["corpus_version"] == SYNTH_VERSION
        assert record_problem(json.loads(json.dumps(record))) == ""  # as stored and read back
