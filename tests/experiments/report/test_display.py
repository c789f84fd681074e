"""The report's header states what a plan cut, read from each sweep's configuration against its file."""

from types import SimpleNamespace

from mrkit.experiments.report import display, export
from mrkit.experiments.report import notebook_report as nr


def header_cuts(plan, quick=False):
    return display._smaller_text([SimpleNamespace(config=c) for c in nr.sweep_plan(plan=plan, quick=quick)])


def test_the_full_reports_cuts_are_named_with_what_ran_and_what_the_file_says():
    text = header_cuts(export.report_plan(stand_in=True))
    assert "stragglers (1 run per configuration, not 2; 8 files of 4 MiB, not 8 of 8 MiB)" in text
    assert "calibrate" not in text, "the calibration runs all its repeats"
    # The lab's questions run as their files say: they are never named as cut.
    assert not any(name in text for name in ("map_sweep", "reduce_sweep", "pairs_wc", "pairs_indexer"))


def test_a_sweep_as_its_file_says_is_not_named_and_a_quick_one_is_called_quick():
    assert header_cuts([{"sweep": "map_sweep"}]) == ""
    assert "A quick look: map_sweep ran its quick variant" in header_cuts([{"sweep": "map_sweep"}], quick=True)
