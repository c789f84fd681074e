"""Report text on synthetic frames with known answers: the numbers in it come from the frames."""

import re

import numpy as np
import pandas as pd
import pytest

from mrkit.experiments import analysis, laws, meaning
from mrkit.experiments.report import markdown

NUM = r"([0-9.]+)"


def make_runs(means, *, x="n_map", fixed=None, cv=0.01, repeats=3, seed=1, cpu_count=2, workers=None, **extra):
    """Runs whose per-configuration mean end-to-end time is about `means[value]`."""
    rng = np.random.default_rng(seed)
    fixed = fixed or {"n_reduce": 5} if x == "n_map" else fixed or {"n_map": 10}
    rows = []
    for value, mean in means.items():
        cfg = {**fixed, x: value}
        w = workers(cfg) if workers else max(cfg["n_map"], cfg["n_reduce"])
        for rep in range(repeats):
            t = mean * (1 + cv * rng.standard_normal())
            rows.append(
                dict(
                    run_id=f"{x}{value}-{rep}",
                    app="wc",
                    backend="local",
                    workers=w,
                    cpu_count=cpu_count,
                    split_s=0.01,
                    map_serial_sum_s=0.6 * t * min(w, cpu_count),
                    map_wall_s=0.6 * t,
                    reduce_wall_s=0.2 * t,
                    end_to_end_s=t,
                    est_parallel_s=0.81 * t,
                    est_serial_s=0.81 * t * w,
                    repeat=rep,
                    **cfg,
                    **extra,
                )
            )
    return pd.DataFrame(rows)


def mean_of(runs, col, value):
    return runs.loc[runs[col] == value, "end_to_end_s"].mean()


def close(text_number, value):
    return float(text_number) == pytest.approx(value, rel=6e-3)


MAP_MEANS = {5: 4.0, 10: 3.0, 15: 2.5, 20: 2.0, 50: 2.6, 100: 3.5}  # falls to M=20, then turns up


def test_map_sweep_trend_names_the_turn_up_with_the_frames_numbers():
    runs = make_runs(MAP_MEANS)
    text = markdown.trend(runs, "n_map")
    m = re.search(rf"falls from {NUM} s at M=5 to {NUM} s at M=20 .*then rises to {NUM} s at M=100", text)
    assert m, text
    assert close(m[1], mean_of(runs, "n_map", 5)) and close(m[2], mean_of(runs, "n_map", 20))
    assert close(m[3], mean_of(runs, "n_map", 100))


@pytest.mark.parametrize(
    "means, pattern",
    [
        ({5: 3.0, 10: 2.0, 20: 1.0}, r"falls steadily from .* at R=5 to .* at R=20"),
        ({5: 1.0, 10: 2.0, 20: 3.0}, r"rises from .* at R=5 to .* at R=20"),
        ({5: 2.00, 10: 2.02, 20: 2.01}, r"stays flat"),
    ],
)
def test_trend_shapes(means, pattern):
    assert re.search(pattern, markdown.trend(make_runs(means, x="n_reduce", cv=0.001), "n_reduce"))


def test_best_configuration_and_a_real_margin():
    runs = make_runs(MAP_MEANS)
    text = markdown.best(runs)
    m = re.search(
        rf"fastest configuration is M=20 R=5 W=20 at {NUM} s .*runner-up, M=15 R=5 W=15, "
        rf"is {NUM} s \({NUM}%\) slower, a real difference",
        text,
    )
    assert m, text
    best, second = mean_of(runs, "n_map", 20), mean_of(runs, "n_map", 15)
    assert close(m[1], best) and close(m[2], second - best)
    assert float(m[3]) == pytest.approx(100 * (second - best) / best, abs=0.05)


def test_best_configuration_within_noise():
    runs = make_runs({5: 2.0, 10: 2.02}, cv=0.10, seed=3)
    assert "within noise" in markdown.best(runs)
    assert "cannot tell from noise" in markdown.best(make_runs({5: 2.0, 10: 2.5}, repeats=1))


def test_noisy_points_are_counted_and_named_by_the_table_s_cv():
    runs = make_runs(MAP_MEANS)
    noisy = runs["n_map"] == 50
    runs.loc[noisy, "end_to_end_s"] = [2.0, 2.6, 3.2]
    text = markdown.noise(runs)
    cv = runs.loc[noisy, "end_to_end_s"].std() / runs.loc[noisy, "end_to_end_s"].mean()
    assert cv > 0.1 and text.startswith(f"1 of {runs['n_map'].nunique()} configurations vary by more than 10%"), text
    runs.loc[runs["n_map"] == 20, "end_to_end_s"] = [1.0, 1.5, 2.0]
    assert markdown.noise(runs).startswith("2 of ")
    assert "No configuration varies" in markdown.noise(make_runs(MAP_MEANS))


def test_points_repeated_past_the_plan_are_counted_and_named_by_the_table_s_runs():
    runs = make_runs(MAP_MEANS)
    extra = make_runs({50: MAP_MEANS[50]}, repeats=5, seed=9)
    runs = pd.concat([runs[runs["n_map"] != 50], extra], ignore_index=True)
    text = markdown.noise(runs)
    i = analysis.interval_of(extra["end_to_end_s"])
    assert " 1 took more than 3 runs for a wide 95% interval." in text and i["n"] == 5, text
    assert "more than 3 runs" not in markdown.noise(make_runs(MAP_MEANS))


def test_amdahl_fraction_and_predictions_come_from_the_fit():
    f = 0.2
    runs = make_runs({w: 10 * (f + (1 - f) / w) for w in (1, 2, 4, 8)}, fixed={"n_reduce": 1}, cv=0.005, cpu_count=8)
    text = markdown.amdahl(runs)
    fit = laws.fit_amdahl(runs["workers"], runs["end_to_end_s"])
    m = re.search(rf"f = {NUM} \(95% CI {NUM}–{NUM}", text)
    assert m and float(m[1]) == pytest.approx(fit.serial_fraction, abs=0.005)
    assert float(m[2]) <= float(m[1]) <= float(m[3])
    m = re.search(rf"at most {NUM} at 10 workers.* and {NUM} at 100 workers", text)
    assert m, text
    assert close(m[1], fit.predict(10).speedup) and close(m[2], fit.predict(100).speedup)
    assert float(m[1]) == pytest.approx(1 / (f + (1 - f) / 10), rel=0.03)


def test_amdahl_when_workers_do_not_help_or_do_not_vary():
    slower = make_runs({5: 1.0, 10: 1.5, 20: 2.0}, cpu_count=32)
    assert "f = 1.00" in markdown.amdahl(slower) and "no speedup" in markdown.amdahl(slower)
    # On 2 cores all three worker counts are oversubscribed: Amdahl's law is not fitted across them.
    oversubscribed = markdown.amdahl(make_runs({5: 1.0, 10: 1.5, 20: 2.0}))
    assert "not fitted" in oversubscribed and "f =" not in oversubscribed
    fixed_w = make_runs({5: 1.0, 10: 1.5}, workers=lambda cfg: 4)
    assert "Workers stayed at W=4" in markdown.amdahl(fixed_w)


def test_limits_name_cores_per_task_cost_serial_stages_and_stragglers():
    runs = make_runs(MAP_MEANS)
    tasks = pd.DataFrame(
        [
            dict(run_id=rid, phase="map", task=i, status="ok", duration_s=d)
            for rid in runs["run_id"]
            for i, d in enumerate([0.1, 0.1, 0.1, 0.4])
        ]
    )
    text = markdown.limits(runs, tasks, "n_map")
    assert re.search(r"6 of 6 worker counts exceed the 2 CPUs \(up to W=100\)", text), text
    assert "A straight line through the mean times says each extra task" in text  # every M >= cores: no fit
    m = re.search(rf"each extra task adds about {NUM} ms", text)
    means = runs.groupby("n_map")["end_to_end_s"].mean()
    slope = np.polyfit(means.index.to_numpy(float), means.to_numpy(), 1)[0]
    assert m and close(m[1], slope * 1000)
    assert "overhead" not in text, "the split and overhead shares: the section's stage figure, not said again"
    assert "Stragglers" not in text, "the slowest task over the median one: the appendix's column, not said again"


def test_per_task_slope_is_taken_where_every_core_is_busy():
    # Falls while more tasks add parallelism (M < 2 cores), then rises: a line through all of it would mislead.
    means = {1: 4.0, 2: 2.0, 4: 2.2, 8: 2.6}
    runs = make_runs(means, fixed={"n_reduce": 1}, cv=0.001)
    text = markdown.limits(runs, None, "n_map")
    m = re.search(
        rf"From M=2 on \(all 2 CPUs busy\), a straight line through the mean times says each extra task "
        rf"adds about {NUM} ms",
        text,
    )
    busy = runs[runs["n_map"] >= 2].groupby("n_map")["end_to_end_s"].mean()
    assert m and close(m[1], np.polyfit(busy.index.to_numpy(float), busy.to_numpy(), 1)[0] * 1000), text
    pinned = markdown.limits(runs.assign(cores=1), None, "n_map")  # pinned to 1 CPU: every point is busy
    assert "A straight line through the mean times" in pinned and "From M=" not in pinned


def test_markdown_report_sections_per_sweep_and_header():
    a = make_runs(MAP_MEANS, sweep="map_sweep")
    b = make_runs({5: 3.0, 10: 2.0, 20: 2.5}, x="n_reduce", sweep="reduce_sweep")
    runs = pd.concat([a, b], ignore_index=True)
    meta = {
        "host": "box",
        "cpu_count": 2,
        "versions": {"mrkit": "0.1.0"},
        "git_commit": "abcdef1234567",
        "start": "2026-01-01T00:00:00",
        "input_bytes": 16 * 2**20,
        "parameters": {"repeats": 3, "warmup": True},
    }
    text = markdown.markdown_report(runs, None, meta=meta)
    assert text.count("\n## ") == 2
    assert "## Map sweep" in text and "## Reduce sweep" in text
    assert "box (2 CPUs)" in text and "one unrecorded warm-up" in text and "16 MiB" in text
    reduce_part = text.split("## Reduce sweep")[1]
    assert "M=10 R=10 W=10" in reduce_part and "M=20 R=5 W=20" not in reduce_part
    mappers = make_runs({m: 3.0 / min(m, 2) + 0.1 for m in (1, 2, 3, 4)}, fixed={"n_reduce": 1})
    assert meaning.infer_question(mappers) == "mappers"
    text = markdown.markdown_report(mappers, extra_sections=["## Extra\n"])
    assert "## Mappers" in text and "Map-stage speedup" in text and text.rstrip().endswith("## Extra")


def test_amdahl_fits_within_the_cores_and_does_not_claim_time_never_fell():
    import pandas as pd

    # 4 cores: time follows f = 0.2 up to W=4, then oversubscription slows it.
    rows = [(w, t) for w, t in ((1, 1.0), (2, 0.6), (4, 0.4), (8, 1.3)) for _ in range(3)]
    runs = pd.DataFrame({"workers": [w for w, _ in rows], "end_to_end_s": [t for _, t in rows], "cpu_count": 4})
    text = markdown.amdahl(runs)
    assert "only W ≤ 4" in text and "W=1..4" in text
    assert "f = 0.20" in text
    assert "never fell" not in text


def test_amdahl_is_not_fitted_through_as_many_points_as_parameters():
    # issue 25: "f = 0.78 (95% CI 0.78-0.78, R² = 1.00)" from W in {1, 2}, then projected to 100 workers
    runs = make_runs({1: 3.0, 2: 2.0}, fixed={"n_reduce": 1}, cpu_count=2)
    text = markdown.amdahl(runs)
    assert text.startswith("Amdahl's law is not fitted: 2 distinct worker counts (1, 2) within the 2 CPUs; it needs 3.")
    assert "f =" not in text and "100 workers" not in text and "CI" not in text
    assert markdown.fraction_ci(0.78, 0.78) == "" and markdown.fraction_ci(0.781, 0.784) == "0.781–0.784"


def _reduce_tasks(runs, seconds):
    """One ok reduce task per R in each run, taking seconds(M, R), and a failed attempt that must not count."""
    rows = [
        dict(
            run_id=run["run_id"],
            phase="reduce",
            task=k,
            attempt=1,
            status="ok",
            duration_s=seconds(run["n_map"], run["n_reduce"]),
        )
        for _, run in runs.iterrows()
        for k in range(int(run["n_reduce"]))
    ]
    return pd.DataFrame([*rows, {**rows[0], "attempt": 2, "status": "failed", "duration_s": 99.0}])


def test_files_per_reduce_says_the_reduce_task_time_against_the_files_it_reads():
    # issue 25 item 5: the why "each reducer merges M files" from the task records, not only the model's words
    pairs = pd.concat([make_runs({m: 1.0 for m in (5, 20)}, fixed={"n_reduce": r}) for r in (5, 10)], ignore_index=True)
    pairs["run_id"] = pairs["run_id"] + "-r" + pairs["n_reduce"].astype(str)
    text = markdown.files_per_reduce(pairs, _reduce_tasks(pairs, lambda m, r: 0.01 * m + 0.001 * r))
    assert (
        text
        == "A reduce task reads one file per map task: at R=5 its median time is 0.055 s for 5 files and 0.205 s for 20 (3.73×)."
    )
    reduce_sweep = make_runs({1: 1.0, 10: 1.0}, x="n_reduce")
    text = markdown.files_per_reduce(reduce_sweep, _reduce_tasks(reduce_sweep, lambda m, r: 1.0 / r))
    assert text == "Each reduce task reads M=10 files, smaller as R grows: its median time is 1 s at R=1 and 0.1 s at R=10."
    assert markdown.files_per_reduce(reduce_sweep, None) == ""
    section = markdown.question_section(pairs, _reduce_tasks(pairs, lambda m, r: 0.01 * m), "pairs", markdown.EVIDENCE)
    assert "A reduce task reads one file per map task: at R=5" in section
