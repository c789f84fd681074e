"""Tests for mrkit.experiments.analysis on synthetic data with known answers."""

import math

import numpy as np
import pandas as pd
import pytest

from mrkit.experiments import analysis as an


def make_runs(rows):
    """runs.csv-shaped frame: defaults for config columns, overridden per row."""
    base = dict(app="wc", backend="local", n_map=8, n_reduce=2, workers=1, cpu_count=2)
    return pd.DataFrame([{**base, **r} for r in rows])


def test_cores_of_prefers_the_recorded_affinity_over_the_machine():
    assert an.cores_of(make_runs([dict(n_map=1, cores=1, cpu_count=2)])) == 1
    assert an.cores_of(make_runs([dict(n_map=1, cpu_count=2)])) == 2  # records from before `cores`
    assert an.cores_of(make_runs([dict(n_map=1, cores=np.nan, cpu_count=4)])) == 4
    assert an.cores_of(pd.DataFrame({"n_map": [1]})) is None


# -------------------------------------------------------------- summaries


def test_summarize_flags_noisy_configuration():
    runs = make_runs(
        [dict(workers=1, end_to_end_s=v) for v in (100, 101, 99)] + [dict(workers=2, end_to_end_s=v) for v in (50, 65, 40)]
    )
    s = an.summarize(runs).set_index("workers")
    assert list(s["n"]) == [3, 3]
    assert s.loc[1, "cv"] == pytest.approx(0.01)
    assert not s.loc[1, "noisy"] and s.loc[2, "noisy"]
    assert s.loc[1, "ci95"] == pytest.approx(4.303 * 1 / math.sqrt(3))
    assert s.loc[2, "mean"] == pytest.approx(155 / 3)
    assert not an.summarize(runs, noisy_cv=0.5)["noisy"].any()


def test_summarize_single_run_has_no_interval():
    s = an.summarize(make_runs([dict(end_to_end_s=5.0)]), by="workers")
    assert list(s.columns[:2]) == ["workers", "n"]
    assert math.isnan(s["ci95"].iloc[0]) and not s["noisy"].iloc[0]


def test_summarize_keeps_groups_with_missing_keys():
    runs = make_runs([dict(backend=None, end_to_end_s=1.0), dict(end_to_end_s=2.0)])
    assert len(an.summarize(runs)) == 2


def test_map_stage_speedup():
    runs = make_runs(
        [
            dict(n_map=4, map_serial_sum_s=8.0, map_wall_s=4.0),
            dict(n_map=4, map_serial_sum_s=9.0, map_wall_s=3.0),
            dict(n_map=8, map_serial_sum_s=8.0, map_wall_s=0.0),
        ]
    )
    s = an.map_stage_speedup(runs).set_index("n_map")
    assert s.loc[4, "mean"] == pytest.approx(2.5)
    assert s.loc[4, "std"] == pytest.approx(math.sqrt(0.5))
    assert s.loc[8, "n"] == 0  # zero wall time is not an infinite speedup


# ---------------------------------------------------------------- speedup


def test_speedup_with_one_worker_baseline():
    runs = make_runs([dict(workers=w, end_to_end_s=t) for w, t in [(1, 100), (1, 100), (2, 60), (4, 40), (4, 40)]])
    s = an.speedup(runs)
    assert list(s["workers"]) == [1, 2, 4]
    np.testing.assert_allclose(s["speedup"], [1, 100 / 60, 2.5])
    np.testing.assert_allclose(s["efficiency"], [1, 100 / 120, 0.625])
    assert set(s["baseline_x"]) == {1}


def test_speedup_without_one_worker_says_so():
    runs = make_runs([dict(workers=w, end_to_end_s=t) for w, t in [(2, 60), (4, 40), (8, 30)]])
    s = an.speedup(runs)
    assert set(s["baseline_x"]) == {2}
    np.testing.assert_allclose(s["speedup"], [1, 1.5, 2])
    np.testing.assert_allclose(s["efficiency"], [1, 0.75, 0.5])  # relative to 2 workers
    s4 = an.speedup(runs, baseline=4)
    np.testing.assert_allclose(s4["speedup"], [40 / 60, 1, 40 / 30])
    with pytest.raises(ValueError, match="baseline"):
        an.speedup(runs, baseline=1)


def test_speedup_refuses_mixed_backends_unless_split():
    runs = make_runs(
        [
            dict(backend=b, workers=w, end_to_end_s=t)
            for b, w, t in [("local", 1, 10), ("local", 2, 5), ("ecs", 1, 20), ("ecs", 2, 16)]
        ]
    )
    with pytest.raises(ValueError, match="backend"):
        an.speedup(runs)
    s = an.speedup(runs, by="backend").set_index(["backend", "workers"])
    assert s.loc[("local", 2), "speedup"] == pytest.approx(2)
    assert s.loc[("ecs", 2), "speedup"] == pytest.approx(1.25)


# ------------------------------------------------------- best and stages


def test_best_configuration_margin():
    runs = make_runs([dict(workers=w, end_to_end_s=t + d) for w, t in [(1, 20), (2, 10), (4, 12)] for d in (-0.1, 0, 0.1)])
    best = an.best_configuration(runs)
    assert best.config["workers"] == 2 and best.runner_up["workers"] == 4
    assert best.config == dict(app="wc", backend="local", n_map=8, n_reduce=2, workers=2)
    assert best.mean == pytest.approx(10) and best.runner_up_mean == pytest.approx(12)
    assert best.margin_s == pytest.approx(2) and best.margin_pct == pytest.approx(20)
    assert not best.within_noise


def test_best_configuration_within_noise():
    wide = make_runs([dict(workers=w, end_to_end_s=t + d) for w, t in [(2, 10), (4, 10.5)] for d in (-2, 0, 2)])
    assert an.best_configuration(wide).within_noise
    single = make_runs([dict(workers=2, end_to_end_s=10), dict(workers=4, end_to_end_s=15)])
    assert an.best_configuration(single).within_noise  # one run each: cannot tell
    alone = an.best_configuration(single[single.workers == 2])
    assert alone.runner_up is None and math.isnan(alone.margin_s)


def test_stage_breakdown_overhead():
    runs = make_runs(
        [
            dict(split_s=1.0, map_wall_s=5.0, reduce_wall_s=2.0, end_to_end_s=10.0),
            dict(split_s=1.0, map_wall_s=5.0, reduce_wall_s=2.0, end_to_end_s=7.0),
        ]
    )
    b = an.stage_breakdown(runs)
    assert list(b["stage"]) == ["split", "map", "reduce", "overhead"]
    # overhead 2 and -1 -> clipped to 0 -> mean 1
    np.testing.assert_allclose(b["seconds"], [1, 5, 2, 1])
    np.testing.assert_allclose(b["fraction"], [1 / 9, 5 / 9, 2 / 9, 1 / 9])
    assert (b["workers"] == 1).all()


# ----------------------------------------------------------------- tasks


def test_task_timeline():
    rows = [
        ("r1", "map", 0, 0, "w2", 1000.5, 1002.0, "ok"),
        ("r1", "split", 0, 0, "w1", 1000.0, 1000.5, "ok"),
        ("r1", "map", 1, 0, "w1", 1000.5, 1003.0, "failed"),
        ("r1", "map", 1, 1, "w1", 1003.0, 1004.0, "ok"),
        ("r2", "map", 0, 0, "w1", 5.0, 6.0, "ok"),
    ]
    tasks = pd.DataFrame(rows, columns=["run_id", "phase", "task", "attempt", "worker", "start", "end", "status"])
    tl = an.task_timeline(tasks, "r1")
    assert len(tl) == 4
    assert list(tl["worker"]) == ["w1", "w1", "w1", "w2"]
    assert list(tl["phase"]) == ["split", "map", "map", "map"]
    np.testing.assert_allclose(tl["start_s"], [0, 0.5, 3.0, 0.5])
    np.testing.assert_allclose(tl["duration_s"], [0.5, 2.5, 1.0, 1.5])
    assert list(tl["status"]) == ["ok", "failed", "ok", "ok"]
    with pytest.raises(ValueError, match="no tasks"):
        an.task_timeline(tasks, "r3")


# ------------------------------------------------------------ correctness


def test_correctness_counts_each_kind_of_error():
    expected = {"a": "1", "b": "2", "c": "3"}
    c = an.correctness(expected, {"a": 1, "b": 5, "d": 1, "c": " 3"})
    assert (c.expected_keys, c.actual_keys) == (3, 4)
    assert (c.missing, c.extra, c.different, c.duplicate) == (0, 1, 1, 0)
    assert not c.exact and c.examples == {"extra": ["d"], "different": ["b"]}
    lost = an.correctness(expected, pd.Series({"a": 1, "b": 2}))
    assert lost.missing == 1 and lost.examples == {"missing": ["c"]}
    assert an.correctness(expected, pd.Series([1, 2, 3], index=list("abc"))).exact


def test_correctness_catches_duplicate_keys():
    actual = pd.Series(["1", "2", "2"], index=["a", "b", "b"])
    c = an.correctness({"a": "1", "b": "2"}, actual)
    assert c.duplicate == 1 and c.actual_keys == 2 and not c.exact


def test_spearman_is_pearson_of_ranks_with_ties_averaged():
    assert an.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert an.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # 1 - 6 sum d^2 / (n (n^2 - 1)) with ranks (1, 2, 3, 4, 5) and (2, 1, 4, 3, 5): d^2 sums to 4
    assert an.spearman([1, 2, 3, 4, 5], [0.2, 0.1, 0.4, 0.3, 0.5]) == pytest.approx(1 - 6 * 4 / (5 * 24))
    # a tie: ranks (1.5, 1.5, 3) against (1, 2, 3); Pearson of those is sqrt(3)/2
    assert an.spearman([7, 7, 9], [1, 2, 3]) == pytest.approx(math.sqrt(3) / 2)
    assert math.isnan(an.spearman([1, 1, 1], [1, 2, 3])) and math.isnan(an.spearman([1], [2]))


@pytest.mark.parametrize(("gap", "exact_model"), [(0.3, 0.73), (0.6, 0.91), (1.0, 0.97)])
def test_spearman_ceiling_is_what_a_model_exact_to_the_true_times_ranks(gap, exact_model):
    """Eight points `gap` standard deviations of their noise apart, each measured three times (median):
    an exact model's rank correlation with such measurements averages `exact_model` (simulated below);
    the ceiling estimated from each measurement's own repeats averages that, give or take 0.04."""
    rng = np.random.default_rng(3)
    truth = 1.0 + 0.1 * gap * np.arange(8)
    measurements = [rng.normal(truth, 0.1, size=(3, 8)) for _ in range(100)]
    simulated = np.mean([an.spearman(truth, np.median(rng.normal(truth, 0.1, size=(3, 8)), axis=0)) for _ in range(2000)])
    assert simulated == pytest.approx(exact_model, abs=0.01)  # the docstring's figures
    ceilings = [an.spearman_ceiling(m.T) for m in measurements]
    assert np.mean(ceilings) == pytest.approx(simulated, abs=0.04)


def test_spearman_ceiling_is_low_within_the_noise_seeded_and_left_out_for_single_runs():
    apart = [[1.0, 1.02, 0.98], [2.0, 2.02, 1.98], [3.0, 3.02, 2.98], [4.0, 4.02, 3.98]]
    assert an.spearman_ceiling(apart) == pytest.approx(1.0)
    within = [[1.0, 1.3, 0.8], [1.05, 0.85, 1.25], [0.95, 1.2, 0.9], [1.1, 0.8, 1.2]]
    assert an.spearman_ceiling(within) < 0.7
    assert an.spearman_ceiling(within) == an.spearman_ceiling(within)  # seeded: a pure function of the times
    assert an.spearman_ceiling(within, seed=1) == pytest.approx(an.spearman_ceiling(within), abs=0.03)
    # a point with one time has no noise to draw: left out, and three points with two times are needed
    assert an.spearman_ceiling([*apart, [2.5]]) == an.spearman_ceiling(apart)
    assert math.isnan(an.spearman_ceiling([[1.0, 1.1], [2.0, 2.1], [3.0]]))
    assert math.isnan(an.spearman_ceiling([[1.0, 1.1, 0.9]] * 4)), "equal medians: no ranking to get"


def test_straggler_ratio_is_each_runs_slowest_task_over_the_median_of_its_phase():
    rows = [("a", "map", d, "ok") for d in (1.0, 1.0, 4.0)] + [("a", "reduce", d, "ok") for d in (1.0, 2.0)]
    rows += [("a", "map", 50.0, "failed"), ("b", "map", 2.0, "ok")]  # a failed attempt, a run of one task: neither counts
    tasks = pd.DataFrame(rows, columns=["run_id", "phase", "duration_s", "status"])
    assert an.straggler_ratio(tasks).to_dict() == {"a": 4.0}
