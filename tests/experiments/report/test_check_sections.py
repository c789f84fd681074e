"""The checks' sections on synthetic outputs and task records with known answers."""

import re

import pandas as pd

from mrkit.experiments import analysis
from mrkit.experiments.report import check_sections

NUM = r"([0-9.]+)"


def test_correctness_section_counts_missing_extra_and_different(tmp_path):
    expected = {"hello": "3", "world": "2", "border": "1", "same": "5"}
    actual = {"hello": "3", "world": "1", "bor": "1", "der": "1", "same": "5"}
    text = check_sections.correctness_section(expected, actual)
    assert "output has 5 unique keys; the sequential reference has 4" in text
    assert "Missing: 1, extra: 2, with a different value: 1" in text
    assert "not** exact" in text and "chunk borders" in text and "“border”" in text
    (tmp_path / "ref").mkdir()
    (tmp_path / "job").mkdir()
    (tmp_path / "ref" / "mr-out-0").write_text("a 1\nb 2 x,y\n")
    (tmp_path / "job" / "mr-out-0").write_text("b 2 x,y\n")
    (tmp_path / "job" / "mr-out-1").write_text("a 1\n")
    text = check_sections.correctness_section(tmp_path / "ref", tmp_path / "job")
    assert "The output is exact: the same 2 unique keys and values as the sequential reference." in text


def test_fault_tolerance_section_counts_attempts():
    # as the master records them: a late completion replaces its timed_out row with superseded
    rows = [
        ("map", 0, 1, "ok", 0.2, 11),
        ("map", 1, 1, "superseded", 12.0, 12),
        ("map", 1, 2, "ok", 0.3, 13),
        ("map", 2, 1, "timed_out", 10.0, 14),
        ("map", 2, 2, "failed", 0.1, 15),
        ("map", 2, 3, "ok", 0.2, 16),
        ("map", 3, 1, "timed_out", 10.0, 17),
        ("map", 3, 2, "ok", 0.2, 18),
        ("reduce", 0, 1, "ok", 0.5, 19),
    ]
    tasks = pd.DataFrame(
        [dict(run_id="r1", phase=p, task=t, attempt=a, status=s, duration_s=d, pid=pid) for p, t, a, s, d, pid in rows]
    )
    tasks = pd.concat(
        [tasks, pd.DataFrame([dict(run_id="r1", phase="split", task=0, attempt=1, status="ok", duration_s=0.0, pid=1)])],
        ignore_index=True,
    )
    good = analysis.correctness({"a": "1"}, {"a": "1"})
    text = check_sections.fault_tolerance_section(tasks, good)
    assert "Over 1 run, 4 map and 1 reduce tasks took 9 attempts" in text
    assert "5 ok, 1 failed" in text and "2 timed out" in text and "1 superseded" in text
    assert "3 of 5 tasks needed more than one attempt (4 reassignments, at most 3 attempts" in text
    assert re.search(rf"did not count took {NUM} s", text)[1] == "32.1"
    assert "9 worker processes" in text and "still exact" in text
    assert "does **not** match" in check_sections.fault_tolerance_section(tasks, False)


def test_failures_are_named_by_how_they_ended_in_the_task_records():
    # issue 25: "4 failed (the app raised)", though the crash app kills its worker: a died worker never
    # reports, so its attempt has no CPU seconds; an app that raised was reported, with them
    tasks = pd.DataFrame(
        [
            dict(run_id="r", phase="map", task=0, attempt=1, status="failed", duration_s=0.1, cpu_s=float("nan"), pid=1),
            dict(run_id="r", phase="map", task=0, attempt=2, status="failed", duration_s=0.1, cpu_s=0.05, pid=2),
            dict(run_id="r", phase="map", task=0, attempt=3, status="ok", duration_s=0.1, cpu_s=0.05, pid=2),
        ]
    )
    text = check_sections.fault_tolerance_section(tasks)
    assert "1 ok, 1 failed (the worker died), 1 failed (the app raised)" in text
