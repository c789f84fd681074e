"""`mrkit predict`: calibrate the cost model on results directories, then predict and compare.

    mrkit predict CALIBRATION_DIR... [--against RESULTS_DIR | --sweep NAME|FILE] [--cores K[,K...]] [--json]

With --against, the directory's configurations are predicted at the cores
its runs recorded (or --cores) and compared with their median end-to-end
time; with --sweep, a sweep's configurations are predicted without running
it (at this process's cores, or --cores); with neither, the calibration runs
themselves are compared (how well the model fits what it was fitted on).
--json prints the contract of design.md; otherwise a table.
"""

from __future__ import annotations

import json
import math

from mrkit import timing
from mrkit.errors import UsageError
from mrkit.experiments.model import calibration, prediction, whatif
from mrkit.experiments.sweeps.sweep_config import load_sweep


def parse_cores(text):
    """ "2" or "1,2,8" -> [2, 1, 8]... as numbers; UsageError otherwise."""
    if text is None:
        return None
    try:  # every part a count: "2,,8" is a typo to name, not [2, 8]
        cores = [float(part) for part in str(text).split(",")]
    except ValueError:
        cores = []
    if not cores or not all(0 < k < math.inf for k in cores):
        raise UsageError(f"--cores takes core counts such as 2 or 1,2,8, got {text!r}")
    return [int(k) if float(k).is_integer() else k for k in cores]


def run(calibration_dirs, against=None, sweep=None, cores=None, as_json=False, out=print):
    """The command; returns the JSON-able result (also printed)."""
    if against and sweep:
        raise UsageError("give --against or --sweep, not both")
    cores = parse_cores(cores)
    cfg = load_sweep(sweep, what_if=True) if sweep else None  # an unknown sweep fails before the calibration is read
    cal = calibration.calibrate(*calibration.load_calibration(calibration_dirs))
    extra = None
    if cfg is not None:
        frame = prediction.predict_sweep(cal, cfg, cores or [timing.cores()])
        points = [
            prediction.comparison_point(r.app, r.n_map, r.n_reduce, r.workers, r.cores, r.predicted_end_to_end_s, None)
            for r in frame.itertuples()
        ]
        result = prediction.summary(points)
        if "usd" in frame:
            extra = frame
            for point, row in zip(result["points"], frame.itertuples()):
                point.update(
                    fargate_usd=round(row.usd, 5), fargate_task_s=round(row.task_s, 1), launcher_s=round(row.launcher_s, 2)
                )
    else:
        targets = [against] if against else calibration_dirs
        points, repeats = [], []
        for directory in targets:
            more, times = prediction.compared_points(cal, directory, cores)
            points += more
            repeats += times
        result = prediction.summary(points, repeats)
    out(json.dumps(result) if as_json else table(result, cal, extra))
    return result


def _ceiling_text(ceiling):
    """The rank correlation a model exact to the true times would have, beside the model's."""
    if ceiling is None:
        return ""
    return f"; a model exact to the true times: about {ceiling:.2f} (these repeats' noise, by bootstrap)"


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def size_effect(app, costs):
    """One line per app: its map cost per byte and reduce cost per record at the smallest and largest task
    calibrated, e.g. "wc: map 83 -> 131 ns per byte (0.17 -> 3.4 MB tasks); reduce 1.1 us per record, flat",
    and the map's costs per key where it has them ("map 50 ns per byte, flat, 0.44 us per key of each input
    piece, 0.56 us per key a task joins from its later pieces; ...")."""

    def side(name, per, unit, scale, size_range, size_unit, size_scale, slope):
        lo, hi = size_range
        if slope == 0.0:
            return f"{name} {per(lo) * scale:.3g} {unit}, flat"
        return (
            f"{name} {per(lo) * scale:.3g} -> {per(hi) * scale:.3g} {unit} "
            f"({lo / size_scale:.3g} -> {hi / size_scale:.3g} {size_unit})"
        )

    per_key = [
        f"{1e6 * getattr(costs, cost):.2g} us per key {calibration.MAP_KEYS_COUNTED[count]}"
        for count, cost in calibration.MAP_KEY_COSTS.items()
        if getattr(costs, cost) >= 1e-9  # under a nanosecond per key, a fit's rounding: a key is bytes, and a byte costs tens
    ]
    return (
        f"{app}: "
        + ", ".join(
            [side("map", costs.map_per_byte, "ns per byte", 1e9, costs.map_size_range, "MB tasks", 1e6, costs.map_size_slope_s)]
            + per_key
        )
        + "; "
        + side(
            "reduce",
            costs.reduce_per_record,
            "us per record",
            1e6,
            costs.reduce_size_range,
            "map tasks merged",
            1,
            costs.reduce_size_slope_s,
        )
    )


def table(result, cal, ecs=None):
    """A readable table of the points and the error summary."""
    head = ["app", "M", "R", "W", "cores", "predicted_s", "measured_s", "error", "measured_95%", "in_noise"]
    if ecs is not None:
        head += ["launcher_s", "fargate_usd"]
    rows = []
    for p in result["points"]:
        row = [
            p["app"],
            str(p["n_map"]),
            str(p["n_reduce"]),
            str(p["workers"]),
            str(p["cores"]),
            _fmt(p["predicted_end_to_end_s"], ".2f"),
            _fmt(p["measured_end_to_end_s"], ".2f"),
            "-" if p["error_pct"] is None else f"{p['error_pct']:+.1f}%",
            "-" if p["measured_interval"] is None else "{:.2f}-{:.2f}".format(*p["measured_interval"]),
            {None: "-", True: "yes", False: "no"}[p["within_noise"]],
        ]
        if ecs is not None:
            row += [_fmt(p.get("launcher_s"), ".1f"), _fmt(p.get("fargate_usd"), ".4f")]
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    if result["median_abs_error_pct"] is not None:
        lines.append(
            f"median |error| {result['median_abs_error_pct']:.1f}%, worst {result['max_abs_error_pct']:.1f}% "
            f"over {sum(p['error_pct'] is not None for p in result['points'])} measured points"
        )
    if result["spearman"] is not None:
        lines.append(
            f"rank correlation of predicted and measured (Spearman) {result['spearman']:.2f}"
            + _ceiling_text(result.get("spearman_ceiling"))
        )
    judged = [p["within_noise"] for p in result["points"] if p["within_noise"] is not None]
    if judged:
        lines.append(
            f"within noise (inside the measured 95% interval): {sum(judged)} of {len(judged)} points "
            f"({100 * result['within_noise_share']:.0f}%)"
        )
    lines.append(
        f"calibration: {cal.n_runs} runs on {', '.join(map(str, cal.cores_seen)) or '?'} cores; "
        f"other programs took {cal.background:.2f} cores on average while it ran"
        + (f"; costs at its median speed probe, {1000 * cal.probe_ref_s:.1f} ms" if cal.probe_ref_s else "")
    )
    lines += [size_effect(app, costs) for app, costs in sorted(cal.apps.items())]
    if ecs is not None:
        lines.append(
            f"ECS: task start latency {cal.task_start_latency_s or whatif.FARGATE_START_LATENCY_S:.0f} s "
            f"({'measured' if cal.task_start_latency_s else 'default, see mrkit/experiments/model/whatif.py'}); "
            f"prices {whatif.PRICES_SOURCE}"
        )
    return "\n".join(lines)
