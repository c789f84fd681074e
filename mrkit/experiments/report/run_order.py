"""The header's account of when the runs were made: the interleaved order, the runs two sweeps share, the drift.

A pure function of the sweeps' recorded runs and meta.json (what sweeps/interleave.py
records): which sweeps ran in one randomized order and with which seed (so a rerun
plans the same order), which configurations were measured once for two sweeps, and
how the speed probe moved from the first third of that order to the last.
"""

from __future__ import annotations

import pandas as pd

from mrkit.experiments.formatting import config_text, num, plural
from mrkit.experiments.report.notebook_report import recorded_seconds


def interleaved(results) -> list:
    """The results whose runs were made in one interleaved order (meta.json's `order`)."""
    return [r for r in results if r.meta.get("order")]


def order_text(results) -> str:
    """The header's sentences on the interleaved order ('' when no sweep ran interleaved)."""
    mixed = interleaved(results)
    if not mixed:
        return ""
    order = mixed[0].meta["order"]
    runs = pd.concat([r.runs for r in mixed], ignore_index=True).drop_duplicates("run_id")
    seconds = recorded_seconds(mixed[0].meta)
    took = f", {num(seconds)} s in all" if seconds is not None else ""
    text = (
        f"The {plural(len(runs), 'run')} of {', '.join(order['interleaved'])} were made in one randomized, "
        f"interleaved order (seed {order['seed']}: `mrkit report --seed {order['seed']}` plans the same order{took}; "
        "each run's place in it is its position in runs.csv): a drifting machine's slowing spreads over them all."
    )
    shared = _shared(mixed)
    if shared:
        # a long list is a table's job: each sweep's meta.json names them
        which = f": {'; '.join(shared)}" if len(shared) <= 2 else " (each sweep's meta.json lists them)"
        text += (
            f" {plural(len(shared), 'configuration')} in more than one sweep {'was' if len(shared) == 1 else 'were'} "
            f"measured once and used by each{which}."
        )
    return text + _drift_text(runs)


def _shared(mixed) -> list[str]:
    """'wc M=10 R=5 W=10 (map_sweep, reduce_sweep)' per configuration measured once for several sweeps."""
    seen = {}
    for r in mixed:
        for config_id, others in (r.meta.get("shared") or {}).items():
            rows = r.runs[r.runs["config_id"].astype(str) == config_id]
            if len(rows):
                key = frozenset(rows["run_id"].astype(str))
                seen.setdefault(key, (f"{rows.iloc[0]['app']} {config_text(rows.iloc[0])}", [r.config.name, *others]))
    return [f"{shown} ({', '.join(sweeps)})" for shown, sweeps in seen.values()]


def _drift_text(runs) -> str:
    """How the speed probe moved over the order: its median in the first third of the runs and in the last."""
    if "position" not in runs or "probe_cpu_s" not in runs:
        return ""
    timed = runs.dropna(subset=["position", "probe_cpu_s"]).sort_values("position")
    third = len(timed) // 3
    if third < 1:
        return ""
    first, last = timed["probe_cpu_s"].iloc[:third].median(), timed["probe_cpu_s"].iloc[-third:].median()
    return (
        f" The speed probe's median was {num(first)} s over the first third of the order and {num(last)} s over "
        f"the last ({_change(first, last)})."
    )


def _change(first, last) -> str:
    """'the machine slowed by 30%' / 'sped up by 5%' / 'steady' for a probe's move from `first` to `last`."""
    change = last / first - 1
    if abs(change) < 0.005:
        return "steady"
    return f"the machine {'slowed' if change > 0 else 'sped up'} by {abs(change):.0%}"
