"""job.py's one rule for the default number of workers."""

from mrkit.job import default_workers


def test_default_workers_is_max_m_r_capped_when_asked():
    assert default_workers(5, 20) == 20 and default_workers(50, 5) == 50  # the lab's W, uncapped
    assert default_workers(50, 5, cap=8) == 8 and default_workers(2, 1, cap=8) == 2
    assert default_workers(0, 0) == 1  # never zero workers
