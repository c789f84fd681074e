"""The scaling laws the report fits to measured times: Amdahl's law (with a bootstrap interval) and Karp-Flatt.

Pure functions of arrays, like analysis.py whose least squares (`nnls`) and
R² they use; the report decides where a law may be fitted at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mrkit.experiments.analysis import nnls, r2


@dataclass(frozen=True)
class Prediction:
    """Model output at n workers: time in seconds and speedup over T1."""

    n: float | np.ndarray
    time_s: float | np.ndarray
    speedup: float | np.ndarray


def _out(v: np.ndarray) -> float | np.ndarray:
    return float(v) if np.ndim(v) == 0 else v


@dataclass(frozen=True)
class AmdahlFit:
    """T(n) = t1 * (f + (1 - f) / n), f = ``serial_fraction`` with a bootstrap ci95."""

    serial_fraction: float
    ci95: tuple[float, float]
    t1: float
    r2: float
    n_points: int

    @property
    def max_speedup(self) -> float:
        """Limit of speedup as n -> infinity: 1 / f."""
        return 1.0 / self.serial_fraction if self.serial_fraction > 0 else float("inf")

    def predict(self, n) -> Prediction:
        """Fitted time and speedup (relative to fitted t1) at n workers."""
        n = np.asarray(n, dtype=float)
        f = self.serial_fraction
        time = self.t1 * (f + (1 - f) / n)
        return Prediction(_out(n), _out(time), _out(self.t1 / time))


def _amdahl_ab(n: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    a, b = nnls(np.column_stack([np.ones_like(n), 1.0 / n]), t)
    return a, b


def fit_amdahl(x, t, *, n_boot: int = 1000, seed: int = 0) -> AmdahlFit:
    """Fit Amdahl's law to worker counts ``x`` and times ``t`` (repeats as separate points).

    T(n) = a + b/n is linear in 1/n, with t1 = a + b and f = a / (a + b). The
    fit constrains a, b >= 0, which is what keeps f in [0, 1]: data slower
    with more workers gives f = 1, superlinear data gives f = 0 (clipping the
    ratio afterwards would leave t1 inconsistent). ci95 is a percentile
    bootstrap over points with a fixed ``seed``, so reports are reproducible.
    """
    x, t = np.asarray(x, dtype=float), np.asarray(t, dtype=float)
    if x.shape != t.shape:
        raise ValueError(f"fit_amdahl: x and t differ in length ({x.size} vs {t.size})")
    keep = np.isfinite(x) & np.isfinite(t)
    x, t = x[keep], t[keep]
    if (x < 1).any():
        raise ValueError("fit_amdahl: worker counts must be >= 1")
    if np.unique(x).size < 2:
        raise ValueError(
            f"fit_amdahl: need >= 2 distinct worker counts, got {np.unique(x).tolist()}; f and T1 cannot be separated"
        )
    a, b = _amdahl_ab(x, t)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        idx = rng.integers(0, x.size, x.size)
        if x[idx].min() < x[idx].max():  # a resample with one x is unidentifiable
            ba, bb = _amdahl_ab(x[idx], t[idx])
            boot.append(ba / (ba + bb))
    lo, hi = np.percentile(boot, [2.5, 97.5]) if boot else (np.nan, np.nan)
    return AmdahlFit(
        serial_fraction=a / (a + b), ci95=(float(lo), float(hi)), t1=a + b, r2=r2(t, a + b / x), n_points=int(x.size)
    )


def karp_flatt(speedup, n) -> np.ndarray:
    """Experimentally determined serial fraction e = (1/S - 1/n) / (1 - 1/n) per point.

    NaN at n = 1, where it is undefined. A rising e with n points to growing
    overhead (e.g. coordination) rather than a fixed serial part. Returns a
    plain array so ``df.assign(e=karp_flatt(df.speedup, df.workers))`` works
    positionally whatever the index.
    """
    s, n = np.asarray(speedup, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (1.0 / s - 1.0 / n) / (1.0 - 1.0 / n)
    return np.where(n == 1, np.nan, e)
