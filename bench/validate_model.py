"""Validate `mrkit predict` on this machine: out-of-sample, with repeats, across core counts.

    .venv/bin/python bench/validate_model.py [--cpus-sets 0,1 0] [--repeats 3] [--quick]
                                             [--measure-only | --predict-only] [--out DIR] [--seed N]
    make validate-model

For each CPU set (default: two CPUs, then one) it runs, pinned to that set,
the calibration sweep (params/calibrate.yaml), the lab's four sweeps
(map_sweep, reduce_sweep, pairs_wc, pairs_indexer) and the mappers sweep in
one randomized, interleaved order (the report's; `--seed` plans it again)
into results/validate-model/cpus-<set>/<sweep>/ (resumed when there:
rerunning measures only what is missing). Then, for every (calibration set, measured
set) pair, e.g. 1 CPU -> 2 CPUs, it calibrates on the `calibrate` runs only and
predicts every point of the sweeps at the measured set's cores, and prints per
sweep the rank correlation (Spearman) of predicted and measured times, the
share of points predicted within the measured 95% interval, the median and
worst |error|, and whether the targets (prediction.TARGETS: >= 0.9, >= 80%,
<= 10%, <= 25%) are met; then the machine and the load while it measured.
`validation.md` and `validation.json` in the output directory keep the tables.
--quick measures the sweeps' quick variants (tiny corpora, one repeat):
only to check the script runs, its figures mean nothing.
"""

import argparse
import json
import os
import pathlib
import platform
import socket
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mrkit.errors import MrkitError  # noqa: E402
from mrkit.experiments.sweeps import interleave  # noqa: E402
from mrkit.experiments.sweeps.sweep_config import load_sweep  # noqa: E402
from mrkit.pinning import available, format_cpus, parse_cpus  # noqa: E402

LAB_SWEEPS = ("map_sweep", "reduce_sweep", "pairs_wc", "pairs_indexer", "mappers")


def _default_sets():
    cpus = sorted(available() or {0})
    return [format_cpus(set(cpus[:2])), format_cpus({cpus[0]})] if len(cpus) > 1 else [format_cpus({cpus[0]})]


def _dir(out, cpus, name):
    return out / f"cpus-{cpus.replace(',', '_')}" / name


def _load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(out, cpu_sets, repeats, names, quick=False, seed=None):
    """Run (or resume) the sweeps pinned to each CPU set, as one interleaved experiment per set; a log line per set.

    Calibration runs fall among the measured ones in one randomized order (the report's,
    `interleave.run_interleaved`): a machine that drifts while it measures (the speed probe of
    6 December read 0.047 s in the first sweep and 0.052-0.068 s later) then drifts under the
    calibration and the points it predicts alike, instead of between them.
    """
    log = out / "measure.log"
    for cpus in cpu_sets:
        configs = []
        for name in names:
            overrides = {"cpus": cpus, "results_dir": str(out / "scratch")}
            if repeats is not None and name != "calibrate":
                overrides["repeats"] = repeats
            configs.append(load_sweep(name, quick=quick, **overrides))
        dirs = [_dir(out, cpus, name) for name in names]
        began = time.time()
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%F %T')} start {' '.join(names)} cpus={cpus}, interleaved, load {_load()}\n")
        interleave.run_interleaved(configs, dirs, seed=seed, progress=sys.stderr.isatty())
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%F %T')} end   cpus={cpus} load {_load()} ({time.time() - began:.0f} s)\n")


def _cpus(cpus):
    n = len(parse_cpus(cpus))
    return f"{n} CPU{'s' if n > 1 else ''}"


def predict_all(out, cpu_sets, names, loaded=True):
    """Calibrate on each set's calibrate runs, predict each set's sweeps; one row per (set -> set, sweep).

    loaded: predict each measured point for the machine as its runs recorded it, the other programs'
    load (others_cpu_s) and its speed (probe_cpu_s); else with the calibration runs' median load
    at their usual speed (the machine "as usual").
    """
    from mrkit.experiments.model import calibration, prediction

    rows = []
    for calib in cpu_sets:
        calib_dirs = [_dir(out, calib, "calibrate")]
        if not (calib_dirs[0] / "runs.csv").exists():
            continue
        fitted = calibration.calibrate(*calibration.load_calibration(calib_dirs))
        for measured in cpu_sets:
            for name in names:
                if name == "calibrate" or not (_dir(out, measured, name) / "runs.csv").exists():
                    continue
                result = prediction.compare(fitted, _dir(out, measured, name), loaded=loaded)
                rows.append(
                    {
                        "direction": f"{_cpus(calib)} -> {_cpus(measured)}",
                        "calibrated_on": calib,
                        "measured_on": measured,
                        "sweep": name,
                        "points": len(result["points"]),
                        **{k: result[k] for k in prediction.TARGETS},
                        "spearman_ceiling": result["spearman_ceiling"],
                        "targets_met": prediction.meets_targets(result),
                        "detail": result["points"],
                    }
                )
    return rows


def _num(value, spec, unit=""):
    return "-" if value is None else format(value, spec) + unit


def table(rows):
    """The targets' table in Markdown: per direction and sweep, each figure and whether all targets are met."""
    from mrkit.experiments.model.prediction import TARGETS

    lines = [
        f"| calibrated -> measured | sweep | points | Spearman (>= {TARGETS['spearman']:g}) | an exact model's "
        f"| within noise (>= {TARGETS['within_noise_share']:.0%}) | median abs error "
        f"(<= {TARGETS['median_abs_error_pct']:g}%) | worst abs error (<= {TARGETS['max_abs_error_pct']:g}%) "
        "| targets met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        share = None if r["within_noise_share"] is None else 100 * r["within_noise_share"]
        lines.append(
            f"| {r['direction']} | {r['sweep']} | {r['points']} | {_num(r['spearman'], '.2f')} | "
            f"{_num(r.get('spearman_ceiling'), '.2f')} | "
            f"{_num(share, '.0f', '%')} | {_num(r['median_abs_error_pct'], '.1f', '%')} | "
            f"{_num(r['max_abs_error_pct'], '.1f', '%')} | {'yes' if r['targets_met'] else 'no'} |"
        )
    met = sum(r["targets_met"] for r in rows)
    lines.append(f"\nTargets met on {met} of {len(rows)} rows.")
    ranked = [r for r in rows if r["spearman"] is not None and r["spearman"] < TARGETS["spearman"]]
    if ranked:
        noisy = sum(r.get("spearman_ceiling") is not None and r["spearman_ceiling"] < TARGETS["spearman"] for r in ranked)
        lines.append(
            f"Spearman under {TARGETS['spearman']:g} on {len(ranked)} rows; on {noisy} of them a model exact to the true "
            f"times would be under it too (an exact model's: analysis.spearman_ceiling, the repeats' noise by bootstrap)."
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cpus-sets",
        nargs="+",
        default=None,
        metavar="LIST",
        help="CPU sets to measure on, e.g. 0,1 0 (default: two CPUs, then one)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="repeats of the lab's sweeps (default: their files')")
    parser.add_argument("--out", default=str(ROOT / "results" / "validate-model"), metavar="DIR")
    parser.add_argument("--sweeps", nargs="+", default=list(LAB_SWEEPS), metavar="NAME")
    parser.add_argument("--quick", action="store_true", help="the sweeps' quick variants: checks the script only")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="the interleaved order's seed (default: a new one; a resumed set keeps its recorded one, and another is an error)",
    )
    stage = parser.add_mutually_exclusive_group()
    stage.add_argument("--measure-only", action="store_true")
    stage.add_argument("--predict-only", action="store_true")
    args = parser.parse_args(argv)
    cpu_sets = [format_cpus(parse_cpus(s)) for s in (args.cpus_sets or _default_sets())]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = ["calibrate", *args.sweeps]
    if not args.predict_only:
        try:
            measure(out, cpu_sets, args.repeats, names, quick=args.quick, seed=args.seed)
        except MrkitError as exc:  # a resumed set asked for another seed, a bad sweep name: one line, not a traceback
            print(f"validate_model: error: {exc}", file=sys.stderr)
            return 2
    if args.measure_only:
        return 0
    rows = predict_all(out, cpu_sets, names)
    quiet = predict_all(out, cpu_sets, names, loaded=False)
    machine = (
        f"{socket.gethostname()}: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}; load now {_load()}"
    )
    text = (
        f"Model validation on {machine}\n\nEach measured point predicted with the load other programs put on "
        f"its CPUs while it ran (others_cpu_s) and at the speed the machine ran at (probe_cpu_s):\n\n"
        f"{table(rows)}\n\nThe same points predicted with the calibration runs' median load at their usual "
        f"speed instead (no knowledge of the machine at measurement time):\n\n{table(quiet)}\n"
    )
    log = out / "measure.log"
    if log.exists():
        when = "load averages 1/5/15 min at the start and end of each CPU set's interleaved sweeps"
        text += f"\nMeasured ({when}):\n\n```\n" + log.read_text() + "```\n"
    print(text)
    (out / "validation.md").write_text(text, encoding="utf-8")
    (out / "validation.json").write_text(
        json.dumps({"machine": machine, "rows": rows, "rows_calibration_load": quiet}, indent=1), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
