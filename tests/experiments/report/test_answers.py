"""A question's answer: the text and the figure read one computation, so their numbers agree."""

import re

import numpy as np
import pandas as pd
import pytest
from model_records import CONFIGS, synthetic

from mrkit.experiments import analysis
from mrkit.experiments.model import calibration, prediction
from mrkit.experiments.report import answers
from mrkit.experiments.sweeps.sweep_config import load_sweep


@pytest.fixture(scope="module")
def cal():
    return calibration.calibrate(*synthetic(CONFIGS), background=0)


def sweep_frames(times, repeats=3, timed_out_at=None):
    """A map sweep (R=5, W=M) whose runs take `times[M]`, with a timed-out attempt where asked."""
    runs, tasks = [], []
    for m, t in times.items():
        for rep in range(repeats):
            run_id = f"m{m}-{rep}"
            runs.append(
                dict(
                    run_id=run_id,
                    app="wc",
                    backend="local",
                    n_map=m,
                    n_reduce=5,
                    workers=m,
                    cpu_count=2,
                    cores=2,
                    input_bytes=8 * 2**20,
                    end_to_end_s=t * (1 + 0.01 * rep),
                    repeat=rep,
                )
            )
            for k in range(m):
                tasks.append(dict(run_id=run_id, phase="map", task=k, attempt=1, status="ok"))
            if m == timed_out_at:
                tasks.append(dict(run_id=run_id, phase="map", task=0, attempt=2, status="timed_out"))
    return pd.DataFrame(runs), pd.DataFrame(tasks)


def test_text_and_figure_show_the_same_numbers(cal):
    runs, tasks = sweep_frames({5: 3.0, 10: 2.0, 20: 2.5, 100: 6.0}, timed_out_at=100)
    cfg = load_sweep("map_sweep", n_map=[5, 10, 20, 100])
    # a model that ranks the points right and predicts them within their intervals: its decomposition is shown
    ans = answers.compute(
        runs, tasks, cfg, cal, {"median_abs_error_pct": 2.0, "max_abs_error_pct": 3.0, "spearman": 1.0, "within_noise_share": 1.0}
    )
    text = answers.answer_text(ans)
    fig = answers.answer_figure(ans)
    ax = fig.axes[0]
    measured = next(c for c in ax.containers if c.get_label().startswith("measured"))
    ys = dict(zip(measured.lines[0].get_xdata(), measured.lines[0].get_ydata()))
    # the fastest measured point in the text is the lowest point of the figure's measured series
    m = re.search(r"Fastest measured:\*\* M=(\d+), R=5, W=\d+ at ([0-9.]+) s", text)
    assert m and int(m[1]) == 10 and float(m[2]) == pytest.approx(min(ys.values()), rel=5e-3)
    assert ys[10] == pytest.approx(runs.loc[runs["n_map"] == 10, "end_to_end_s"].mean())
    # the model's error stated in the text is the one in the figure's legend
    assert "median error on these runs is 2%" in text
    assert any("median error 2%" in t.get_text() for t in ax.get_legend().get_texts())
    # the model's predictions at 100 cores: the text's pick is the figure's lowest point of that series
    line = next(ln for ln in ax.lines if ln.get_label() == "model output, 100 cores")
    pick = re.search(r"On 100 cores the model picks M=(\d+), R=5, W=\d+ at ([0-9.]+) s", text)
    lowest = int(line.get_xdata()[int(np.argmin(line.get_ydata()))])
    assert pick and int(pick[1]) == lowest and float(pick[2]) == pytest.approx(line.get_ydata().min(), rel=5e-3)
    # the events are counted, not summarised away
    assert "3 attempts did not count: 3 timed out" in text and "M=100, R=5" in text
    assert "Overload, not faults" in text  # only timeouts: a race with the CPU, not a failure
    # plain ticks at the swept values; intervals never below zero
    assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "10", "20", "100"]
    assert ax.get_yscale() == "log" or ax.get_ylim()[0] == 0  # log only when the lines span over 10x


def test_one_run_per_configuration_says_there_is_no_interval(cal):
    runs, tasks = sweep_frames({5: 3.0, 10: 2.0}, repeats=1)
    ans = answers.compute(runs, tasks, load_sweep("map_sweep", n_map=[5, 10]), cal)
    assert "no interval from one run" in answers.answer_text(ans)


def test_center_interval_switches_to_the_median_with_enough_runs_and_stays_above_zero():
    few = pd.DataFrame({"n_map": [1] * 3, "end_to_end_s": [0.1, 0.1, 5.0]})
    s = analysis.center_interval(few, by="n_map").iloc[0]
    assert s["method"].startswith("mean") and s["lo"] == 0.0 and s["center"] == pytest.approx(5.2 / 3)
    many = pd.DataFrame({"n_map": [1] * 9, "end_to_end_s": [1, 2, 3, 4, 5, 6, 7, 8, 90]})
    s = analysis.center_interval(many, by="n_map").iloc[0]
    # n = 9: the order statistics 2 and 8 (1-based) cover the median with probability 96%
    assert s["method"].startswith("median") and s["center"] == 5 and (s["lo"], s["hi"]) == (2, 8)


def test_a_term_that_does_not_change_is_not_said_to_grow():
    from mrkit.experiments.report.answers import _growth

    def end(config, overhead):
        return {"config": config, "terms_s": {"per-task overhead": overhead, "worker start-up": 0.1}}

    ans = {"swept": "n_map", "cores": 2, "model": {"here": {"first": end("M=5", 0.0), "last": end("M=100", 0.0)}}}
    text = _growth(ans)
    assert "none of the model's terms changes noticeably" in text and " s to " not in text
    ans["model"]["here"]["last"] = end("M=100", 1.5)
    assert "per-task overhead grows most, from 0 s to 1.5 s" in _growth(ans)


def test_every_model_term_has_its_reason_and_contention_can_be_the_one_that_grows():
    assert set(answers._WHY) == set(prediction.TERMS)
    contended = calibration.calibrate(*synthetic(CONFIGS, contention=1.5), background=0)
    runs, tasks = sweep_frames({1: 3.0, 2: 2.0})
    cfg = load_sweep("map_sweep", n_map=[1, 2], workers=[2])
    within_noise = {"median_abs_error_pct": 1.0, "max_abs_error_pct": 2.0, "spearman": 1.0, "within_noise_share": 1.0}
    text = answers.answer_text(answers.compute(runs, tasks, cfg, contended, within_noise))
    assert "contention between running tasks" in text and "slow each other down" in text


def test_the_models_decomposition_is_shown_only_within_the_measurements_noise(cal):
    # issue 25: the answer explained a 1.08 s point with a model that said 1.79 s there
    runs, tasks = sweep_frames({5: 3.0, 10: 2.0, 20: 2.5})
    cfg = load_sweep("map_sweep", n_map=[5, 10, 20])
    missing = answers.compute(
        runs,
        tasks,
        cfg,
        cal,
        {"median_abs_error_pct": 40.0, "max_abs_error_pct": 70.0, "spearman": 0.4, "within_noise_share": 0.25},
    )
    text = answers.answer_text(missing)
    assert (
        "misses here (40% median error; 25% within noise, needs 80%; rank correlation 0.40, needs 0.9): its terms are not shown"
    ) in text
    assert "in the model's terms" not in text and "With more cores" not in text
    fig = answers.answer_figure(missing)
    assert [ln.get_label() for ln in fig.axes[0].lines if ln.get_label().startswith("model")] == []
    assert "model" not in fig.axes[0].get_title()  # the title says what is drawn: measured only
    # beside a rank correlation under its target: what a model exact to the true times would have had
    ranked = {"median_abs_error_pct": 4.0, "max_abs_error_pct": 9.0, "spearman": 0.83, "within_noise_share": 1.0}
    text = answers.answer_text(answers.compute(runs, tasks, cfg, cal, ranked | {"spearman_ceiling": 0.61}))
    assert "rank correlation 0.83, needs 0.9 (a model exact to the true times: about 0.61, these runs' noise)" in text
    assert "exact to the true times" not in answers.answer_text(answers.compute(runs, tasks, cfg, cal, ranked))
    # one run per point (the quick report): nothing to judge the model by, which is not a miss
    quick = {"median_abs_error_pct": 2.54, "max_abs_error_pct": 3.0, "spearman": None, "within_noise_share": None}
    assert (
        "cannot be judged here (2.54% median error; no 95% interval to be within (one run per point); no ranking to"
        " follow (under three points, or all measured alike)): its terms are not shown"
    ) in answers.answer_text(answers.compute(runs, tasks, cfg, cal, quick))
    unknown = answers.compute(runs, tasks, cfg, cal, None)
    assert "its error on these runs could not be measured" in answers.answer_text(unknown)


def test_attempts_that_died_are_not_called_overload():
    ev = {"not_counted": 2, "endings": "1 failed (the worker died), 1 timed out", "where": [("M=5, R=5, W=5", 2)]}
    assert "Overload" in answers._events_text({**ev, "overload": True})
    text = answers._events_text({**ev, "overload": False})
    assert text == "2 attempts did not count: 1 failed (the worker died), 1 timed out; 2 at M=5, R=5, W=5."


def test_core_counts_the_model_gives_one_pick_are_named_together():
    picks = {8: "M=10, R=5, W=10", 16: "M=15, R=5, W=15", 64: "M=15, R=5, W=15", 100: "M=15, R=5, W=15"}
    assert answers._by_configuration(picks) == "8 cores: M=10, R=5, W=10; 16, 64 and 100 cores: M=15, R=5, W=15"
    assert answers._by_configuration({8: "A"}) == "8 cores: A"
