"""Tests for mrkit.experiments.laws: Amdahl and Karp-Flatt on synthetic times with known serial fractions."""

import math

import numpy as np
import pandas as pd
import pytest

from mrkit.experiments import laws


def amdahl_time(n, f, t1=100.0):
    return t1 * (f + (1 - f) / np.asarray(n, dtype=float))


# ------------------------------------------------------------------ Amdahl


def test_fit_amdahl_recovers_f_from_noisy_repeats():
    workers = np.repeat(np.arange(1, 17), 3)
    noise = 1 + 0.01 * np.random.default_rng(42).standard_normal(workers.size)
    fit = laws.fit_amdahl(workers, amdahl_time(workers, 0.2) * noise)
    assert fit.serial_fraction == pytest.approx(0.2, abs=0.01)
    lo, hi = fit.ci95
    assert lo < 0.2 < hi and hi - lo < 0.05
    assert fit.t1 == pytest.approx(100, rel=0.02)
    assert fit.r2 > 0.99 and fit.n_points == 48
    # S(n) = 1 / (f + (1 - f) / n)
    assert fit.predict(10).speedup == pytest.approx(1 / 0.28, rel=0.03)
    assert fit.predict(100).speedup == pytest.approx(1 / 0.208, rel=0.05)
    assert fit.predict(10).time_s == pytest.approx(28, rel=0.03)
    assert fit.max_speedup == pytest.approx(5, rel=0.05)
    both = fit.predict([1, 10])
    assert isinstance(both.speedup, np.ndarray) and both.speedup[0] == pytest.approx(1)


def test_fit_amdahl_is_deterministic():
    workers = np.repeat([1, 2, 4, 8], 2)
    t = amdahl_time(workers, 0.3) * np.tile([0.98, 1.03], 4)
    assert laws.fit_amdahl(workers, t).ci95 == laws.fit_amdahl(workers, t).ci95


def test_fit_amdahl_perfectly_parallel():
    workers = np.arange(1, 9)
    fit = laws.fit_amdahl(workers, amdahl_time(workers, 0.0))
    assert fit.serial_fraction == pytest.approx(0, abs=1e-9)
    assert fit.predict(8).speedup == pytest.approx(8)
    assert math.isinf(fit.max_speedup)


def test_fit_amdahl_fully_serial():
    workers = np.arange(1, 9)
    fit = laws.fit_amdahl(workers, np.full(8, 100.0))
    assert fit.serial_fraction == pytest.approx(1)
    assert fit.predict(8).speedup == pytest.approx(1)
    assert math.isnan(fit.r2)  # constant times: nothing to explain


def test_fit_amdahl_clips_f_into_unit_interval():
    workers = np.array([1, 2, 4, 8])
    slower = laws.fit_amdahl(workers, 100 + 5 * workers)  # worse with more workers
    assert slower.serial_fraction == 1.0
    superlinear = laws.fit_amdahl(workers, 110 / workers - 10)
    assert superlinear.serial_fraction == 0.0
    for fit in (slower, superlinear):
        assert 0 <= fit.ci95[0] <= fit.ci95[1] <= 1


@pytest.mark.parametrize("x", [[4, 4, 4], [2], []])
def test_fit_amdahl_needs_two_distinct_worker_counts(x):
    with pytest.raises(ValueError, match="2 distinct"):
        laws.fit_amdahl(x, [10.0] * len(x))


@pytest.mark.parametrize("f", [0.2, 0.05])
def test_karp_flatt_returns_f_on_exact_amdahl(f):
    n = np.arange(1, 17)
    e = laws.karp_flatt(1 / (f + (1 - f) / n), n)
    assert np.isnan(e[0])
    np.testing.assert_allclose(e[1:], f, rtol=1e-12)


def test_karp_flatt_is_undefined_at_one_worker():
    # Measured S(1) is rarely exactly 1; the formula would divide by zero.
    e = laws.karp_flatt(pd.Series([1.05, 1.6]), pd.Series([1, 2]))
    assert np.isnan(e[0]) and e[1] == pytest.approx(1 / 1.6 * 2 - 1)


# -------------------------------------------------------------- cores
