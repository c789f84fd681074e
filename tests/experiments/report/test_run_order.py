"""The header's account of the interleaved order, from real interleaved runs reloaded as the report reloads them."""

import pandas as pd
import pytest

from mrkit.experiments.formatting import num
from mrkit.experiments.report import notebook_report as nr
from mrkit.experiments.report import run_order, summary
from mrkit.experiments.sweeps import interleave, sweep, sweep_config

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def interleaved(tmp_path_factory):
    """map_sweep (M in {5, 10}, R = 5) and reduce_sweep (R in {5, 10}, M = 10), 2 repeats, made interleaved (seed 3)."""
    results_dir = str(tmp_path_factory.mktemp("report") / "results")
    configs = [
        sweep_config.load_sweep(name, quick=True, repeats=2, warmup=False, results_dir=results_dir)
        for name in ("map_sweep", "reduce_sweep")
    ]
    dirs = interleave.run_interleaved(configs, seed=3, progress=False)
    return configs, dirs


def reloaded(interleaved):
    configs, dirs = interleaved
    return nr.run_sweeps(configs, reload=dirs)


@pytest.mark.slow
def test_the_header_says_the_order_its_seed_and_the_configuration_measured_once_for_two_sweeps(interleaved):
    text = run_order.order_text(reloaded(interleaved))
    assert "The 6 runs of map_sweep, reduce_sweep were made in one randomized, interleaved order (seed 3: " in text
    assert "`mrkit report --seed 3` plans the same order" in text
    assert (
        "1 configuration in more than one sweep was measured once and used by each: wc M=10 R=5 W=10 (map_sweep, reduce_sweep)."
        in text
    )


@pytest.mark.slow
def test_the_header_says_how_the_speed_probe_moved_from_the_first_third_of_the_order_to_the_last(interleaved):
    results = reloaded(interleaved)
    ordered = pd.concat([r.runs for r in results]).drop_duplicates("run_id").sort_values("position")
    assert list(ordered["position"]) == list(range(6))
    first, last = ordered["probe_cpu_s"].iloc[:2].median(), ordered["probe_cpu_s"].iloc[-2:].median()
    text = run_order.order_text(results)
    assert f"The speed probe's median was {num(first)} s over the first third of the order and {num(last)} s" in text
    # a machine that slows by a half from the first run to the last: the header says so
    for r in results:
        r.runs["probe_cpu_s"] = 0.04 * (1 + 0.5 * r.runs["position"] / 5)
    assert "0.042 s over the first third of the order and 0.058 s over the last (the machine slowed by 38%)" in (
        run_order.order_text(results)
    )


@pytest.mark.slow
def test_a_shared_run_counts_once_in_the_load_and_in_the_loaded_re_runs(interleaved):
    results = reloaded(interleaved)
    for r in results:  # other programs took a whole CPU during the shared runs only
        shared = r.runs["config_id"] == "m10-r5-w10"
        r.runs["others_cpu_s"] = r.runs["end_to_end_s"].where(shared, 0.0)
        r.meta["parameters"].update(max_others_share=0.5, loaded_reruns=2)
        r.meta["loaded_reruns"] = [{"config_id": "m10-r5-w10", "repeat": 0, "others_share": 0.6, "position": 2}]
    unique = results[0].runs[results[0].runs["config_id"] == "m10-r5-w10"]["end_to_end_s"].sum()
    every = sum(r.runs.drop_duplicates("run_id")["end_to_end_s"].sum() for r in results) - unique
    text = summary.load_text(results)
    assert f"Other programs took {num(unique / every)} of the runs' " in text
    assert "1 run was run again because other programs took more than 50%" in text


def test_no_order_is_stated_for_sweeps_run_one_after_another(tmp_path):
    cfg = sweep_config.load_sweep("map_sweep", quick=True, warmup=False, results_dir=str(tmp_path))
    (result,) = nr.run_sweeps([cfg], reload=[sweep.run_sweep(cfg, progress=False)])
    assert run_order.order_text([result]) == ""
