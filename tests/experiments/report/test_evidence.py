"""The why figure from the task records (report/evidence.py): each panel's points computed from tasks.csv rows."""

import numpy as np
import pandas as pd
from test_plots import make_runs

from mrkit.experiments import analysis
from mrkit.experiments.report import evidence


def test_the_evidence_figure_reads_cpu_per_mib_start_up_and_barrier_wait_from_the_task_records():
    runs = make_runs([(m, 1, m) for m in (1, 2, 4)], repeats=1)
    rows = []
    for _, run in runs.iterrows():
        m = int(run["n_map"])
        for k in range(m):  # 8 MiB in all, 0.5 CPU s per MiB; map k ends at k seconds
            rows.append(
                dict(
                    run_id=run["run_id"],
                    phase="map",
                    task=k,
                    attempt=1,
                    status="ok",
                    start=0.0,
                    end=float(k),
                    bytes_in=8 * 2**20 / m,
                    cpu_s=4.0 / m,
                )
            )
    fig = evidence.evidence_plot(runs, pd.DataFrame(rows))
    cpu, start, wait, files = fig.axes
    assert np.allclose(cpu.lines[0].get_ydata(), 0.5) and list(cpu.lines[0].get_xdata()) == [8, 4, 2]
    assert np.allclose(start.lines[0].get_ydata(), 0.3 / np.array([1, 2, 4]))  # startup_s 0.3 over W workers
    assert list(wait.lines[0].get_ydata()) == [0, 1, 3]  # last map end - first map end
    assert not files.axison, "no reduce task records: no files-per-reduce panel"
    assert evidence.evidence_plot(runs, pd.DataFrame(rows).assign(cpu_s=np.nan)) is None


def _tasks(runs, reduce_s):
    """One ok map task per M and one ok reduce task per R in each run; a reduce task takes reduce_s(M, R)."""
    rows = []
    for _, run in runs.iterrows():
        m, r = int(run["n_map"]), int(run["n_reduce"])
        for phase, count in (("map", m), ("reduce", r)):
            for k in range(count):
                took = reduce_s(m, r) if phase == "reduce" else 0.5
                rows.append(
                    dict(
                        run_id=run["run_id"],
                        phase=phase,
                        task=k,
                        attempt=1,
                        status="ok",
                        start=0.0,
                        end=took,
                        duration_s=took,
                        bytes_in=2**20,
                        cpu_s=0.4,
                    )
                )
    # a failed reduce attempt is not the time of a reduce task: it must not count
    rows.append({**rows[-1], "attempt": 0, "status": "failed", "duration_s": 1000.0})
    return pd.DataFrame(rows)


def test_the_files_per_reduce_panel_draws_reduce_task_time_against_m_one_line_per_r():
    # issue 25 item 5: "files per reduce": a reduce task reads M intermediate files, its time against M
    runs = make_runs([(m, r, m) for m in (2, 8, 32) for r in (1, 4)], repeats=2)
    fig = evidence.evidence_plot(runs, _tasks(runs, lambda m, r: 0.01 * m))
    files = fig.axes[3]
    assert files.get_title() == "reduce task time vs files it reads (M)"
    assert files.get_xlabel() == "files each reduce task reads (M)"
    lines = {line.get_label(): line for line in files.lines}
    assert set(lines) == {"R=1", "R=4"}
    for line in lines.values():
        assert list(line.get_xdata()) == [2, 8, 32] and np.allclose(line.get_ydata(), [0.02, 0.08, 0.32])
    assert files.get_yscale() == "log", "16x from the shortest to the longest: a log axis"
    legend = files.get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > files.get_window_extent().x1 - 1, "legend off the data"


def test_where_m_is_fixed_the_panel_draws_reduce_task_time_against_r_on_a_linear_axis():
    runs = make_runs([(10, r, 10) for r in (1, 2, 4)], repeats=1)
    per = analysis.reduce_task_times(runs, _tasks(runs, lambda m, r: 0.4 / r + 0.1))
    assert np.allclose(per["reduce_s"], [0.5, 0.3, 0.2]) and list(per["tasks"]) == [1, 2, 4]
    files = evidence.evidence_plot(runs, _tasks(runs, lambda m, r: 0.4 / r + 0.1)).axes[3]
    assert files.get_title() == "reduce task time vs R (each reads M=10 files)"
    assert [line.get_label() for line in files.lines] == ["M=10"] and files.get_legend() is None
    assert files.get_yscale() == "linear" and files.get_ylim()[0] == 0
