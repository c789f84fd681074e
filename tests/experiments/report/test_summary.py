"""The report's first screen and its provenance, rendered from recorded runs (runs.csv, tasks.csv, meta.json on disk).

Each sweep is written the way a sweep records it and reloaded through `run_sweeps(reload=...)`, so
no job runs: the sections are pure functions of what was recorded.
"""

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mrkit.experiments.report import display, provenance, summary
from mrkit.experiments.report import notebook_report as nr
from mrkit.experiments.sweeps import ecs_fault
from mrkit.experiments.sweeps.sweep_config import load_sweep


def record(directory, name, configs, *, backend="local", stand_in=None, times=None, repeats=3):
    """A recorded sweep of `configs` (M, R, W): time = 1 + 2/min(W, 2) + 0.01 M (or `times[(M, R, W)]`)."""
    rng = np.random.default_rng(0)
    runs, tasks = [], []
    for m, r, w in configs:
        for rep in range(repeats):
            noise = 1 + 0.01 * rng.standard_normal()
            e2e = (times[(m, r, w)] if times else 1 + 2 / min(w, 2) + 0.01 * m) * noise
            run_id = f"{name}-{m}-{r}-{w}-{rep}"
            runs.append(
                dict(
                    run_id=run_id,
                    app="wc",
                    backend=backend,
                    n_map=m,
                    n_reduce=r,
                    workers=w,
                    cpu_count=2,
                    cores=2,
                    input_bytes=1000,
                    split_s=0.01,
                    map_serial_sum_s=0.5 * m,
                    map_wall_s=0.6 * e2e,
                    map_speedup=1.0,
                    reduce_serial_sum_s=0.1,
                    reduce_wall_s=0.1,
                    startup_s=0.1,
                    end_to_end_s=e2e,
                    est_serial_s=1.0,
                    est_parallel_s=0.8 * e2e,
                    retries=0,
                    repeat=rep,
                    sweep=name,
                    config_id=f"m{m}-r{r}-w{w}",
                    others_cpu_s=0.0,
                    probe_cpu_s=0.05,
                )
            )
            for k in range(m):
                tasks.append(
                    dict(
                        run_id=run_id,
                        phase="map",
                        task=k,
                        attempt=1,
                        worker=f"w{k}",
                        pid=k,
                        host="h",
                        start=0.0,
                        end=0.5,
                        duration_s=0.5,
                        status="ok",
                        cpu_s=0.4,
                        bytes_in=1000 // m,
                    )
                )
    path = directory / name / "20260101-000000"
    path.mkdir(parents=True)
    pd.DataFrame(runs).to_csv(path / "runs.csv", index=False)
    pd.DataFrame(tasks).to_csv(path / "tasks.csv", index=False)
    options = {"settings": "params/ecs.yaml", **({"stand_in": stand_in} if stand_in is not None else {})}
    meta = {
        "sweep": name,
        "parameters": {"name": name, "backend": backend, "backend_options": options if backend == "ecs" else {}},
        "cpu_count": 2,
        "host": "h",
        "warmup": "none",
        "input_bytes": 1000,
    }
    (path / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    overrides = {"backend": "ecs", "backend_options": options} if backend == "ecs" else {}
    cfg = load_sweep(name, quick=True, results_dir=str(directory), **overrides)
    return nr.run_sweeps([cfg], reload=[str(path)])[0]


ECS = [(1, 1, 1), (2, 1, 2)]
MAP = [(5, 5, 5), (10, 5, 10), (20, 5, 20)]


def texts_and_titles(parts):
    texts = [p for p in parts if isinstance(p, str)]
    titles = [ax.get_title() for p in parts if isinstance(p, Figure) for ax in p.axes if ax.get_title()]
    return "\n".join(texts), titles


def test_a_stand_in_ecs_section_says_stand_in_in_its_heading_sentences_and_figure_titles(tmp_path):
    # issue 25: "mappers on Fargate", figures "on ECS Fargate", while meta.json said stand_in: true
    result = record(tmp_path, "mappers_ecs", ECS, backend="ecs", stand_in=True, repeats=1)
    text, titles = texts_and_titles(display.question_parts(result, [result]))
    heading = text.splitlines()[0]
    assert heading.startswith("## ") and "stand-in" in heading and "Fargate" not in heading
    assert "Where these ran: the local ECS stand-in, not Fargate" in text
    assert "on ECS Fargate" not in text and "on Fargate" not in text
    assert titles and all("stand-in" in t for t in titles)


def test_a_real_fargate_section_names_fargate_with_region_and_image(tmp_path):
    result = record(tmp_path, "mappers_ecs", ECS, backend="ecs", stand_in=False, repeats=1)
    text, titles = texts_and_titles(display.question_parts(result, [result]))
    assert "Fargate" in text.splitlines()[0] and "stand-in" not in text
    assert "Where these ran: AWS ECS Fargate (region " in text and ", image " in text
    assert all("ECS Fargate" in t for t in titles)


def test_relabel_rewrites_fargate_only_for_stand_in_runs():
    stand_in = {"parameters": {"backend": "ecs", "backend_options": {"stand_in": True}}}
    assert provenance.relabel("mappers on ECS Fargate (M = W)", stand_in) == "mappers on the local ECS stand-in (M = W)"
    assert provenance.relabel("The ECS assignment: mappers on Fargate", stand_in).endswith("on the local ECS stand-in")
    assert provenance.relabel("mappers on Fargate", {"parameters": {"backend": "ecs"}}) == "mappers on Fargate"


def test_the_summary_comes_first_with_each_answer_the_ecs_checklist_and_contents(tmp_path):
    q1 = record(tmp_path, "map_sweep", MAP, times={(5, 5, 5): 2.0, (10, 5, 10): 1.5, (20, 5, 20): 3.0})
    ecs = record(tmp_path, "mappers_ecs", ECS, backend="ecs", stand_in=True, repeats=1)
    text = summary.summary_markdown([q1, ecs], ("How the runs were measured",), summary.CHECK_HEADINGS)
    assert text.index("## Summary") < text.index("Question 1") < text.index("## Contents")
    line = next(ln for ln in text.splitlines() if "Question 1" in ln)
    assert "fastest measured: M=10 R=5 W=10 at 1.5" in line and "95% interval" in line and "why: the slowest" in line
    assert "☐ Failure recovery: not measured (no fault-injected run is stored)" in text  # not claimed
    assert "☑ Ran on the local ECS stand-in" in text
    contents = text[text.index("## Contents") :]
    assert "(#Question-1:-how-does-the-number-of-map-tasks-M-change-the-time?-(R-=-5))" in contents
    assert "(#The-ECS-assignment:-mappers-on-the-local-ECS-stand-in)" in contents
    assert "(#Fault-tolerance)" in contents


def test_the_checklist_ticks_failure_recovery_only_when_an_attempt_was_lost(tmp_path):
    ecs = record(tmp_path, "mappers_ecs", ECS, backend="ecs", stand_in=True, repeats=1)
    fault_dir = ecs.path / ecs_fault.FAULT_DIR
    fault_dir.mkdir()
    (fault_dir / "fault.json").write_text(
        json.dumps({"n_map": 2, "stopped_task": "arn", "stopped_after_s": 3.0, "launcher_said": []}), encoding="utf-8"
    )
    lost = pd.DataFrame(
        [
            dict(run_id="f", phase="map", task=0, attempt=1, status="failed", start=1.0, end=2.0, duration_s=1.0, cpu_s=np.nan),
            dict(run_id="f", phase="map", task=0, attempt=2, status="ok", start=2.5, end=3.0, duration_s=0.5, cpu_s=0.4),
        ]
    )
    lost.to_csv(fault_dir / "tasks.csv", index=False)
    assert any(item.startswith("☑ Failure recovery") for item in summary.ecs_checklist(ecs))
    lost[lost["status"] == "ok"].to_csv(fault_dir / "tasks.csv", index=False)
    assert "☐ Failure recovery: not measured (the stopped worker held no task: no attempt was lost)" in summary.ecs_checklist(ecs)
    # The full report's fault run at M = W = 16 in containers: the first map ended before the 16th worker registered.
    (fault_dir / "fault.json").write_text(json.dumps({"n_map": 16, "stopped_task": None, "launcher_said": []}))
    assert "☐ Failure recovery: not measured (no worker task was stopped)" in summary.ecs_checklist(ecs)


@pytest.mark.parametrize("others, cause", [(30.0, "other programs took 30 CPU-s"), (0.0, "slowest run 39 s, fastest")])
def test_a_question_whose_interval_reaches_zero_is_flagged_with_its_cause_in_the_summary(tmp_path, others, cause):
    # issue 25: Q3's "0-31.9 s" interval (one run at 39 s while other programs took 38.8 CPU-s) made "9.51x the fastest"
    pairs = record(tmp_path, "pairs_wc", [(5, 5, 5), (20, 5, 20)])
    runs = pairs.runs
    slow = runs.index[runs["n_map"] == 20][0]
    runs.loc[slow, ["end_to_end_s", "others_cpu_s"]] = [39.0, others]
    text = summary.question_line(pairs)
    assert "1 broken measurement flagged" in text
    from mrkit.experiments.report import markdown

    flagged = markdown.broken_text(runs)
    assert "a 95% interval reaching zero" in flagged and "M=20 R=5 W=20 (" in flagged and cause in flagged
    assert "The slowest pair (leaving out the broken measurement flagged below) is (M, R) = (5, 5)" in markdown.pairs_overview(
        runs
    )


def test_the_header_states_the_load_the_probe_and_how_many_loaded_runs_were_run_again(tmp_path):
    q1 = record(tmp_path, "map_sweep", MAP)
    q1.runs["others_cpu_s"] = 0.5 * q1.runs["end_to_end_s"]  # half a CPU of 2 taken by other programs
    q1.meta["parameters"].update(max_others_share=0.5, loaded_reruns=2)
    q1.meta["loaded_reruns"] = [{"config_id": "m5-r5-w5", "repeat": 0, "others_share": 0.7}] * 3
    q1.runs["scratch_fs"] = "tmpfs"
    text = summary.load_text([q1])
    assert "their job files were on tmpfs (in memory)" in text
    assert "Other programs took 0.5 of the runs' 2 CPUs on average" in text
    assert "the speed probe (a fixed piece of work) took 0.05–0.05 s" in text
    assert "3 runs were run again because other programs took more than 50% of its CPUs (at most 2 times each)" in text


def test_the_checklist_says_the_stand_in_ran_containers_when_its_meta_says_so(tmp_path):
    ecs = record(tmp_path, "mappers_ecs", ECS, backend="ecs", stand_in=True, repeats=1)
    ecs.meta["parameters"]["backend_options"]["containers"] = "podman"  # as `mrkit report --stand-in` records it
    [ran] = [item for item in summary.ecs_checklist(ecs) if "Ran on" in item]
    assert "podman containers" in ran and "processes" not in ran
