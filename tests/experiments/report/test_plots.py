"""Figures on synthetic runs/tasks frames: labels, the lines each must show, and PNGs on disk."""

import itertools

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mrkit.experiments import analysis, laws
from mrkit.experiments.report import plots


def make_runs(configs, repeats=3, seed=0, cpu_count=2):
    """runs.csv-shaped rows: time = 1 + 4/min(W, cores) + 0.01*M, stages adding up below it."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, (m, r, w) in enumerate(configs):
        for rep in range(repeats):
            noise = 1 + 0.02 * rng.standard_normal()
            map_wall = 4 / min(w, cpu_count) * noise
            e2e = (1 + map_wall + 0.01 * m) * noise
            rows.append(
                dict(
                    run_id=f"run{i}-{rep}",
                    app="wc",
                    backend="local",
                    n_map=m,
                    n_reduce=r,
                    workers=w,
                    cpu_count=cpu_count,
                    input_bytes=1000,
                    split_s=0.01,
                    map_serial_sum_s=4 * noise,
                    map_wall_s=map_wall,
                    reduce_serial_sum_s=0.4,
                    reduce_wall_s=0.2,
                    startup_s=0.3,
                    end_to_end_s=e2e,
                    est_serial_s=4.41,
                    est_parallel_s=0.21 + map_wall,
                    retries=0,
                    repeat=rep,
                )
            )
    return pd.DataFrame(rows)


def make_tasks(run_id="run0-0"):
    # One record per attempt, as the master writes them, at a 1.4 s task timeout: map 1's first attempt
    # outlives it and loses to the second (superseded); map 2's first is still running when the job
    # ends at 3.1 s (timed_out); reduce 0's first fails. A worker runs one attempt at a time.
    rows = [
        ("split", 0, 1, "master", 0.0, 0.01, "ok"),
        ("map", 0, 1, "w0", 0.02, 1.0, "ok"),
        ("map", 1, 1, "w1", 0.02, 3.0, "superseded"),
        ("map", 2, 1, "w2", 0.02, 3.1, "timed_out"),
        ("map", 1, 2, "w0", 1.5, 2.4, "ok"),
        ("map", 2, 2, "w3", 1.5, 2.3, "ok"),
        ("reduce", 0, 1, "w10", 2.5, 2.8, "failed"),
        ("reduce", 0, 2, "w0", 2.8, 3.1, "ok"),
    ]
    return pd.DataFrame(
        [
            dict(
                run_id=run_id,
                phase=p,
                task=t,
                attempt=a,
                worker=w,
                pid=1,
                host="h",
                start=100 + s,
                end=100 + e,
                duration_s=e - s,
                status=st,
            )
            for p, t, a, w, s, e, st in rows
        ]
    )


MAP_SWEEP = [(m, 5, m) for m in (5, 10, 20, 50)]
MAPPERS = [(m, 1, m) for m in (1, 2, 3, 4)]
PAIRS = [(1, 1, 1), (5, 1, 5), (1, 5, 5), (5, 5, 5), (20, 5, 20)]


def legend_labels(ax):
    return [t.get_text().replace("\n", " ") for t in ax.get_legend().get_texts()]


def test_time_vs_m_and_r_have_labelled_axes_and_error_bars():
    fig = plots.time_vs(make_runs(MAP_SWEEP), "n_map")
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and ax.get_title()
    assert ax.get_xlabel() == "map tasks M" and ax.get_ylabel() == "end-to-end time (s)"
    assert len(ax.containers) == 1  # one errorbar series
    line = ax.lines[0]
    assert list(line.get_xdata()) == [5, 10, 20, 50]
    means = make_runs(MAP_SWEEP).groupby("n_map")["end_to_end_s"].mean()
    assert np.allclose(line.get_ydata(), means.to_numpy())

    fig = plots.time_vs(make_runs(PAIRS), "n_reduce")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "reduce tasks R"
    assert legend_labels(ax) == ["M=1", "M=5", "M=20"]  # hue: the other variable varies


def test_speedup_plot_has_ideal_amdahl_and_cpu_ceiling():
    runs = make_runs([(m, 1, m) for m in (1, 2, 3, 4, 6)], cpu_count=4)
    ax = plots.speedup_plot(runs).axes[0]
    labels = legend_labels(ax)
    assert "ideal (linear in W)" in labels and "CPU ceiling (4 cores)" in labels
    base = runs.loc[runs["workers"] == 1, "end_to_end_s"].mean()
    assert f"measured (base case W=1: {base:.3g} s)" in labels  # the absolute base case of the speedup
    within = runs[runs["workers"] <= 4]  # Amdahl is fitted only where workers have cores of their own
    fit = laws.fit_amdahl(within["workers"], within["end_to_end_s"])
    assert f"Amdahl fit on W ≤ 4 (f = {fit.serial_fraction:.2f}" in next(lbl for lbl in labels if lbl.startswith("Amdahl"))
    by_label = {line.get_label(): line for line in ax.lines}
    ideal = by_label["ideal (linear in W)"]
    assert np.allclose(ideal.get_ydata(), ideal.get_xdata())  # baseline W=1
    ceiling = by_label["CPU ceiling (4 cores)"]
    assert np.allclose(ceiling.get_ydata(), np.minimum(ceiling.get_xdata(), 4))  # min(W, cores) / 1
    assert ax.get_ylim()[0] == 0
    assert "speedup" in ax.get_ylabel() and ax.get_xlabel() == "workers W"


def test_speedup_plot_fits_no_law_through_two_points_and_draws_no_ceiling_under_them():
    # issue 25: W in {1, 2} on 2 cores gave "f = 0.78 (CI 0.78-0.78)" and a projection; a base case already
    # past the cores drew the "CPU ceiling" at 1 under points measured at 1.3
    ax = plots.speedup_plot(make_runs(MAPPERS[:2])).axes[0]
    assert not any(lbl.startswith("Amdahl") for lbl in legend_labels(ax))
    assert any("no Amdahl fit: 2 distinct W" in label for label in legend_labels(ax))
    past = plots.speedup_plot(make_runs([(5, 5, 5), (10, 5, 10), (20, 5, 20)])).axes[0]
    assert not any(lbl.startswith("CPU ceiling") for lbl in legend_labels(past))
    assert any("no CPU ceiling drawn" in label for label in legend_labels(past))


def test_speedup_plot_without_distinct_workers_says_why():
    ax = plots.speedup_plot(make_runs([(4, 1, 2), (8, 1, 2)])).axes[0]
    assert any("no Amdahl fit" in label for label in legend_labels(ax))


def test_legends_sit_beside_the_axes_and_lines_of_a_second_parameter_differ_in_colour():
    # issue 25: legends over data; four R series in near-identical blues
    pairs = make_runs([(m, r, max(m, r)) for m in (1, 5) for r in (1, 2, 5, 10)])
    figures = [
        plots.time_vs(pairs, "n_map"),
        plots.speedup_plot(make_runs(MAPPERS)),
        plots.map_speedup_plot(make_runs(MAPPERS)),
        plots.estimated_time_plot(make_runs(MAPPERS)),
        plots.stage_plot(make_runs(MAPPERS)),
    ]
    for fig in figures:
        fig.canvas.draw()
        ax = fig.axes[0]
        legend, axes = ax.get_legend().get_window_extent(), ax.get_window_extent()
        assert legend.x0 >= axes.x1, ax.get_title()
    colours = [c.lines[0].get_color() for c in figures[0].axes[0].containers]
    assert len(colours) == 4 and len({tuple(np.round(matplotlib.colors.to_rgb(c), 2)) for c in colours}) == 4
    for a, b in itertools.combinations(colours, 2):  # far apart, not shades of one hue
        assert np.abs(np.subtract(matplotlib.colors.to_rgb(a), matplotlib.colors.to_rgb(b))).sum() > 0.3


def test_a_time_axis_is_logarithmic_where_times_span_more_than_ten_times():
    # issue 25: Q3's linear axis squashed by one 39 s error bar
    runs = make_runs([(5, 5, 5), (10, 5, 10), (20, 5, 20)])
    assert plots.time_vs(runs, "n_map").axes[0].get_yscale() == "linear"
    runs.loc[runs["n_map"] == 20, "end_to_end_s"] *= [1, 1, 30]
    assert plots.time_vs(runs, "n_map").axes[0].get_yscale() == "log"


def test_map_speedup_and_estimated_time_plots():
    runs = make_runs(MAPPERS)
    ax = plots.map_speedup_plot(runs).axes[0]
    assert "map-stage speedup" in ax.get_ylabel() and ax.get_xlabel() == "map tasks M"
    assert {"measured", "ideal (= mappers)", "CPU ceiling (2 cores)"} <= set(legend_labels(ax))
    ax = plots.estimated_time_plot(runs).axes[0]
    assert ax.get_ylabel() == "time (s)" and len(ax.containers) == 3
    assert [lbl.split(" (")[0] for lbl in legend_labels(ax)] == ["measured end-to-end", "estimated parallel", "estimated serial"]


def test_heatmap_shows_mean_time_per_pair():
    runs = make_runs(PAIRS)
    fig = plots.heatmap(runs)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "reduce tasks R" and ax.get_ylabel() == "map tasks M"
    annotations = sorted(float(t.get_text()) for t in ax.texts)
    means = sorted(runs.groupby(["n_map", "n_reduce"])["end_to_end_s"].mean())
    assert np.allclose(annotations, means, rtol=5e-3)
    assert "end-to-end time (s)" in fig.axes[1].get_ylabel()  # the colour bar


def test_stage_plot_stacks_the_stage_breakdown():
    runs = make_runs(MAP_SWEEP)
    ax = plots.stage_plot(runs).axes[0]
    assert legend_labels(ax) == list(analysis.STAGES)
    assert ax.get_ylabel() == "mean time (s)"
    assert len(ax.patches) == 4 * len(MAP_SWEEP)
    expected = analysis.stage_breakdown(runs, by=["n_map", "n_reduce", "workers"])
    heights = [p.get_height() for p in ax.patches]  # stage by stage, configurations in order
    assert np.allclose(heights, expected.sort_values(["stage", "n_map"])["seconds"])


def test_timeline_has_a_row_per_worker_and_hatches_lost_attempts():
    tasks = make_tasks()
    assert not tasks.duplicated(["phase", "task", "attempt"]).any(), "the runtime records each attempt once"
    ax = plots.timeline_plot(tasks, "run0-0").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["master", "w0", "w1", "w2", "w3", "w10"]
    bars = [p for p in ax.patches if p.get_width() > 0]
    assert len(bars) == len(tasks)
    assert sum(1 for p in bars if p.get_hatch()) == 3  # timed_out, superseded, failed
    labels = legend_labels(ax)
    assert {"split", "map", "reduce", "timed_out", "superseded", "failed"} <= set(labels)
    assert "(s)" in ax.get_xlabel() and ax.get_ylabel() == "worker"


def test_save_all_writes_the_figures_that_apply(tmp_path):
    runs = make_runs(PAIRS)
    written = plots.save_all(runs, make_tasks(plots.typical_run(runs)), tmp_path)
    assert set(written) == set(plots.FIGURES)
    for path in written.values():
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    # a map sweep (R fixed) has no heatmap and no time-vs-R figure
    sweep_runs = make_runs(MAP_SWEEP)
    written = plots.save_all(sweep_runs, make_tasks(), tmp_path / "map", run_id="run0-0")
    assert "heatmap" not in written and "time_vs_reduce" not in written and "time_vs_map" in written


def test_typical_run_is_the_median_run_of_the_best_configuration():
    runs = make_runs(MAPPERS)
    runs.loc[runs["n_map"] == 3, "end_to_end_s"] -= 1.0  # make M=3 the clear winner
    best = runs[runs["n_map"] == 3]
    chosen = plots.typical_run(runs)
    assert chosen in set(best["run_id"])
    assert runs.set_index("run_id").loc[chosen, "end_to_end_s"] == pytest.approx(best["end_to_end_s"].median())
