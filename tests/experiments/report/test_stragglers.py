"""The straggler study's table and text, from hand-made runs and tasks frames."""

import pandas as pd

from mrkit.experiments.report import stragglers


def _frames():
    runs = pd.DataFrame(
        [
            {"run_id": "a", "workers": 4, "slowdown": 10.0, "backup_tasks": "none", "end_to_end_s": 10.0},
            {"run_id": "b", "workers": 4, "slowdown": 10.0, "backup_tasks": "spark", "end_to_end_s": 4.0},
            {"run_id": "c", "workers": 4, "slowdown": 10.0, "backup_tasks": "paper", "end_to_end_s": 5.0},
        ]
    )

    def t(run, task, attempt, status, cpu, backup=False):
        return {"run_id": run, "phase": "map", "task": task, "attempt": attempt, "status": status, "cpu_s": cpu, "backup": backup}

    tasks = pd.DataFrame(
        [
            t("a", 0, 1, "ok", 1.0),
            t("a", 1, 1, "ok", 1.0),
            t("b", 0, 1, "ok", 1.0),
            t("b", 1, 1, "superseded", None),
            t("b", 1, 2, "ok", 1.0, True),
            t("c", 0, 1, "ok", 1.0),
            t("c", 0, 2, "superseded", 0.5, True),
            t("c", 1, 1, "superseded", None),
            t("c", 1, 2, "ok", 1.0, True),
        ]
    )
    return runs, tasks


def test_the_table_has_the_saving_and_the_work_that_did_not_count():
    table = stragglers.study_table(*_frames()).set_index("backup_tasks")
    assert list(table.index) == ["none", "paper", "spark"], "policies in a fixed order"
    assert table.loc["spark", "saved_pct"] == 60.0 and table.loc["paper", "saved_pct"] == 50.0
    assert table.loc["paper", "lost_attempts"] == 2 and table.loc["paper", "lost_cpu_s"] == 0.5
    assert table.loc["paper", "unmeasured"] == 1 and table.loc["spark", "backups"] == 1
    assert table.loc["none", "lost_attempts"] == 0


def test_the_text_states_the_same_numbers_as_the_table():
    table = stragglers.study_table(*_frames())
    text = stragglers.study_text(table)
    assert "| 10 | Spark's speculation | 4 | 60% saved | 0* |" in text
    assert text.endswith("\\* An attempt was still running at the end: its CPU is not measured.")
    assert "the paper's backup policy" not in text, "each policy's numbers are stated once: in the table"
