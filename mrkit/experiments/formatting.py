"""Numbers and configurations in prose ("1.23 s", "+12%", "3 runs", "M=5 R=10 W=10"): one style for every sentence.

The report's text, the answers, the straggler study and the ECS fault run all
write their numbers through these, so a number reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from mrkit.experiments.analysis import CONFIG_BY

LETTER = {"n_map": "M", "n_reduce": "R", "workers": "W"}


def num(x) -> str:
    """A number for prose: 3 significant digits (1.23, 12.3, 0.0353), whole above 1000."""
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def pct(change) -> str:
    """A relative change for prose: '+12%', '-3%', or 'under 1%' where rounding would print 0%."""
    return "a change under 1%" if abs(change) < 0.005 else f"{change:+.0%}"


def plural(n, word) -> str:
    """'1 run', '3 runs'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def config_text(cfg: Mapping) -> str:
    """'M=5 R=10 W=10' for a mapping with any of n_map, n_reduce, workers."""
    return " ".join(f"{LETTER[c]}={int(cfg[c])}" for c in CONFIG_BY if c in cfg)
