"""Several sweeps' runs in one seeded, randomized, interleaved order; a configuration they share is measured once.

Run one after another, each sweep takes its share of a shared machine's drift
whole (the speed probe of one report read 0.047 s in its first sweep and
0.052-0.068 s later), and a model calibrated in one block predicts runs made
at other times. `run_interleaved(configs, dirs, seed=...)` runs the sweeps
as one experiment instead:

- A *measurement* is what a run measures: app, input files, M, R, W, the
  run's options, backend (and its options), app options, task timeout and
  CPUs. Configurations of several sweeps that are one measurement (e.g.
  (M, R) = (10, 5) in map_sweep and reduce_sweep) are measured once; each
  run is recorded in every such sweep's results directory (the same run_id;
  meta.json's `shared` names, per config_id, the other sweeps it is shared with).
- The planned order (`planned_order`, a pure function of the sweeps and the
  seed): a measurement's k-th of n repeats falls at a random point of the
  k-th n-th of the report, so each configuration's repeats spread over the
  report, and a measurement of one run (a calibration run) falls anywhere in
  it, not all at the start (stratified randomization). Then points whose
  interval is wide (`sweep.noisy`, by each sweep's ci_target/max_repeats) get
  extra rounds, each shuffled. A loaded run is run again at once (`sweep.measure`).
- Each run's `position` in runs.csv is its place in the order the runs were
  made (a resume continues the count); meta.json's `order` records the seed
  and the sweeps interleaved, so a report can say the order and a rerun with
  the same seed plans the same one.
- Resume: runs in a directory are not measured again; a shared run recorded
  in one directory but not another (a report killed between the two writes)
  is copied into it, not measured again.

`sweep.run_sweep` still runs one sweep on its own, as before.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import secrets
from dataclasses import dataclass

from mrkit.backends import get_backend
from mrkit.experiments.sweeps import sweep
from mrkit.experiments.sweeps.results import (
    close_session,
    copy_run,
    done_and_clean,
    measured,
    new_results_dir,
    open_session,
    record_run,
    run_ids,
    write_meta,
)
from mrkit.experiments.sweeps.scratch import choose as choose_scratch
from mrkit.experiments.sweeps.scratch import local_bytes
from mrkit.experiments.sweeps.sweep_config import RunConfig, SweepConfig, SweepError

ORDER_RULE = (
    "one randomized order for the runs of all these sweeps: a configuration's k-th of n repeats at a random point of "
    "the k-th n-th of the order, extra repeats of wide intervals after; a configuration two sweeps share measured once"
)


@dataclass(frozen=True)
class Measurement:
    """One configuration to measure and the sweeps it belongs to: (sweep index, its RunConfig) per sweep."""

    members: tuple
    repeats: int  # the most repeats any of its sweeps asks for


def measurement_key(cfg: SweepConfig, rc: RunConfig, inputs) -> str:
    """What a run of `rc` in sweep `cfg` measures, as text: equal keys are the same measurement."""
    return json.dumps(
        {
            "app": rc.app or cfg.app,
            "inputs": [os.path.abspath(p) for p in inputs],
            "counts": [rc.n_map, rc.n_reduce, rc.workers],
            "options": rc.options(),
            "backend": rc.backend or cfg.backend,
            "backend_options": cfg.backend_options,
            "app_options": cfg.app_options,
            "task_timeout": rc.task_timeout or cfg.task_timeout,
            "cpus": cfg.cpus,
        },
        sort_keys=True,
        default=str,
    )


def measurements(configs, inputs=None) -> list[Measurement]:
    """The sweeps' configurations as measurements, a shared one once (in the order first met)."""
    inputs = inputs or [cfg.input_paths() for cfg in configs]
    found: dict[str, list] = {}
    for i, cfg in enumerate(configs):
        for rc in cfg.configurations():
            found.setdefault(measurement_key(cfg, rc, inputs[i]), []).append((i, rc))
    return [Measurement(tuple(members), max(configs[i].repeats for i, _ in members)) for members in found.values()]


def planned_order(units, seed) -> list[tuple[int, int]]:
    """(measurement index, repeat) for every planned run, in the seeded order (see the module docstring)."""
    rng = random.Random(f"mrkit-order:{seed}")
    keyed = [((k + rng.random()) / unit.repeats, u, k) for u, unit in enumerate(units) for k in range(unit.repeats)]
    return [(u, k) for _, u, k in sorted(keyed)]


def schedule(units, configs, seed, done, values):
    """Yield (measurement index, repeat) in the planned order, skipping `done` ones, then extra rounds.

    `done`: {(index, repeat)} already measured; `values`: {index: {repeat: end_to_end_s}}, which the
    caller updates as runs end: an extra round holds the measurements one of whose sweeps still finds
    them noisy (`sweep.noisy`), shuffled.
    """
    for item in planned_order(units, seed):
        if item not in done:
            yield item
    for extra in range(max((cfg.max_repeats or 0) for cfg in configs)):
        wanted = [u for u, unit in enumerate(units) if any(sweep.noisy(configs[i], values.get(u, {})) for i, _ in unit.members)]
        if not wanted:
            return
        random.Random(f"mrkit-order:{seed}:extra{extra}").shuffle(wanted)
        for u in wanted:
            yield u, max(values[u]) + 1


def order_seed(dirs, seed=None) -> int:
    """The seed to plan `dirs`' runs with (results directories, None for new ones): the one a resumed directory
    recorded, else `seed`, else a new random one.

    A resumed directory keeps its order: another seed would plan its missing runs in a different order and
    record itself over the seed its measured runs followed, so asking for one is a SweepError.
    """
    for d in dirs:
        path = pathlib.Path(d) / "meta.json" if d is not None else None
        recorded = (
            (json.loads(path.read_text(encoding="utf-8")).get("order") or {}).get("seed") if path and path.is_file() else None
        )
        if recorded is None:
            continue
        if seed is not None and int(seed) != int(recorded):
            raise SweepError(
                f"{d} was measured in the order of seed {recorded}, not {seed}: resume it with that seed (or none), "
                "or measure into a new directory"
            )
        return int(recorded)
    return secrets.randbelow(2**31) if seed is None else int(seed)


def planned_runs(configs) -> int:
    """How many runs the planned order of `configs` holds (before extra repeats): a shared configuration counts once."""
    return sum(unit.repeats for unit in measurements(configs))


def measured_runs(configs, dirs) -> int:
    """How many of the planned runs of `configs` the results directories `dirs` (None: none yet) already hold."""
    done_in = [done_and_clean(pathlib.Path(d)) if d is not None else set() for d in dirs]
    return sum(
        any((rc.config_id, k) in done_in[i] for i, rc in unit.members)
        for unit in measurements(configs)
        for k in range(unit.repeats)
    )


def run_interleaved(configs, dirs=None, *, seed=None, progress=True, scratch=None) -> list[pathlib.Path]:
    """Run (or resume) `configs` (SweepConfigs) as one interleaved experiment; their results directories.

    `dirs`: one per sweep, None for a new results/<sweep>/<stamp>; an existing one is resumed.
    `seed`: the order's (`order_seed`: a resumed directory keeps the one it recorded). `progress` as run_sweep's.
    """
    configs = list(configs)
    if len({cfg.name for cfg in configs}) != len(configs):
        raise SweepError(f"interleaved sweeps need distinct names, got {[cfg.name for cfg in configs]}")
    dirs = list(dirs or [None] * len(configs))
    seed = order_seed(dirs, seed)
    inputs = [cfg.input_paths() for cfg in configs]
    for cfg, paths in zip(configs, inputs):
        sweep.check_before_runs(cfg, paths)
    scratch = choose_scratch(scratch, max(map(local_bytes, inputs), default=0))
    units = measurements(configs, inputs)
    outs = [pathlib.Path(d) if d is not None else new_results_dir(cfg.results_dir, cfg.name) for cfg, d in zip(configs, dirs)]
    opened = []
    for cfg, out, paths in zip(configs, outs, inputs):
        out.mkdir(parents=True, exist_ok=True)
        opened.append(open_session(cfg, out, paths))
    names = [cfg.name for cfg in configs]
    for (meta, _), cfg, out in zip(opened, configs, outs):
        meta["order"] = {"seed": seed, "interleaved": names, "rule": ORDER_RULE}
        meta["shared"] = _shared(units, configs, cfg.name)
        write_meta(out, meta)  # now: a report killed outright still resumes in the same order
    done, values, position = _recorded(units, configs, outs)
    planned = {(u, k) for u, unit in enumerate(units) for k in range(unit.repeats)}
    own_bar = isinstance(progress, bool)
    bar = sweep.runs_bar(len(planned), len(planned & done), desc="interleaved", disable=not progress) if own_bar else progress
    warmed = set()
    try:
        for u, k in schedule(units, configs, seed, done, values):
            if (u, k) not in planned:
                bar.total += 1  # the bar grows by each extra repeat as it is decided
            values.setdefault(u, {})[k] = _measure(units[u], k, position, configs, inputs, outs, opened, bar, warmed, scratch)
            position += 1
    except BaseException:
        for out, (meta, session) in zip(outs, opened):
            close_session(out, meta, session, "interrupted")
        raise
    finally:
        if own_bar:
            bar.close()
    for out, (meta, session) in zip(outs, opened):
        close_session(out, meta, session, "complete")
    return outs


def _shared(units, configs, name) -> dict:
    """{config_id: [the other sweeps it is measured once for]} of sweep `name`'s shared configurations."""
    out = {}
    for unit in units:
        mine = [rc for i, rc in unit.members if configs[i].name == name]
        if mine and len(unit.members) > 1:
            out[mine[0].config_id] = [configs[i].name for i, _ in unit.members if configs[i].name != name]
    return out


def _recorded(units, configs, outs):
    """(done {(index, repeat)}, values {index: {repeat: end_to_end_s}}, the next position) of the directories.

    A run recorded for one sweep of a measurement and not another is copied into the other's directory.
    """
    done_in = [done_and_clean(out) for out in outs]
    ids = [run_ids(out) for out in outs]
    found = [measured(out) for out in outs]
    done, values = set(), {}
    for u, unit in enumerate(units):
        repeats = {k for i, rc in unit.members for (cid, k) in done_in[i] if cid == rc.config_id}
        for k in sorted(repeats):
            source, source_rc = next((i, rc) for i, rc in unit.members if (rc.config_id, k) in done_in[i])
            run_id = ids[source][(source_rc.config_id, k)]
            for i, rc in unit.members:
                if (rc.config_id, k) not in done_in[i]:
                    copy_run(outs[source], outs[i], run_id, configs[i].name, rc.config_id)
            done.add((u, k))
        for i, rc in unit.members:
            values.setdefault(u, {}).update(found[i].get(rc.config_id, {}))
    positions = [p for out in outs for runs in measured(out, "position").values() for p in runs.values()]
    return done, values, int(max(positions, default=-1)) + 1


def _measure(unit, repeat, position, configs, inputs, outs, opened, bar, warmed, scratch) -> float:
    """Measure one run of `unit` and record it in each of its sweeps' directories; its end-to-end seconds."""
    first, rc = unit.members[0]
    cfg = configs[first]
    shown = ", ".join(configs[i].name for i, _ in unit.members)
    bar.set_description_str(f"{shown}: {sweep.describe(rc)}", refresh=True)
    run_fn = get_backend(rc.backend or cfg.backend)
    if cfg.warmup and unit not in warmed:
        sweep.one_run(run_fn, cfg, rc, inputs[first], -1, scratch)  # discarded on purpose
        warmed.add(unit)
    again = lambda: bar.set_description_str(f"{shown}: {sweep.describe(rc)} (loaded: again)", refresh=True)  # noqa: E731
    summary, records, loaded = sweep.measure(run_fn, cfg, rc, inputs[first], repeat, scratch, again)
    summary = {**summary, "position": position}
    for i, member in unit.members:
        meta, session = opened[i]
        for share in loaded:
            meta.setdefault("loaded_reruns", []).append(
                {"config_id": member.config_id, "repeat": repeat, "others_share": share, "position": position}
            )
        record_run(outs[i], configs[i].name, member.config_id, repeat, summary, records)
        session["runs"] += 1
    bar.update(1)
    return summary["end_to_end_s"]
