"""The results store of a sweep: `runs.csv`, `tasks.csv` and `meta.json` in one directory.

Each run's rows are appended as soon as the run ends (tasks first: the
runs.csv row is what commits a run), with one write and an fsync, so an
interrupted sweep keeps what it measured and a resume skips it. `meta.json`
records the parameters, versions, host and git commit. `load_results` and
`latest` read a directory back.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import json
import os
import pathlib
import platform
import socket
import subprocess
import sys
from importlib import metadata
from typing import TYPE_CHECKING

import pandas as pd

from mrkit import timing
from mrkit.experiments.sweeps.sweep_config import REPO_ROOT, SweepError
from mrkit.storage.local import write_atomic
from mrkit.verify import VERIFY_COLUMNS

if TYPE_CHECKING:
    from mrkit.experiments.sweeps.sweep_config import SweepConfig

# others_cpu_s: CPU other programs took on the run's CPUs; verify_*: a verified run's output check (ECS sweeps);
# probe_cpu_s: CPU seconds of a fixed word count on the run's CPUs (pinning.speed_probe_cpu_s),
# the mean of one just before the run and one just after; position: the run's place in a report's interleaved
# order (interleave.py; blank for a sweep run on its own); scratch_fs: the type of the filesystem its job files were
# on (tmpfs, ext4: scratch.py)
EXTRA_RUN_COLUMNS = ["sweep", "config_id", "others_cpu_s", *VERIFY_COLUMNS, "probe_cpu_s", "position", "scratch_fs"]
EXTRA_TASK_COLUMNS = ["sweep", "config_id", "repeat"]
RUN_FILE_COLUMNS = timing.RUN_COLUMNS + EXTRA_RUN_COLUMNS
TASK_FILE_COLUMNS = timing.TASK_COLUMNS + EXTRA_TASK_COLUMNS
WARMUP_NOTE = "one unrecorded warm-up run per configuration before its repeats (again after a resume)"


# ----------------------------------------------------------------- files


def append_rows(path: pathlib.Path, columns, rows):
    """Append whole CSV lines with one write on an O_APPEND descriptor, then fsync.

    One write call per run means a reader (or a crash) never sees half of a
    run's rows mixed with a torn line; `_repair` trims a torn tail anyway.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    if not path.exists():
        replace_text(path, ",".join(columns) + "\n")
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def record_run(out_dir, sweep: str, config_id: str, repeat: int, summary: dict, records) -> None:
    """Append one finished run to a results directory: its task attempts to tasks.csv, then its runs.csv row.

    Tasks first: the runs.csv row is what marks the run as done (`done_and_clean`
    drops the tasks of a run that has none).
    """
    out = pathlib.Path(out_dir)
    extra = {"sweep": sweep, "config_id": config_id}
    append_rows(out / "tasks.csv", TASK_FILE_COLUMNS, [{**t, **extra, "repeat": repeat} for t in records])
    append_rows(out / "runs.csv", RUN_FILE_COLUMNS, [{**summary, **extra}])


def copy_run(source, target, run_id: str, sweep: str, config_id: str) -> None:
    """Record a run of `source`'s results directory in `target` too, as `sweep`'s `config_id` (a run two sweeps
    share, whose second write a killed report never made): its task rows, then its runs.csv row, as record_run does."""
    source, target = pathlib.Path(source), pathlib.Path(target)
    extra = {"sweep": sweep, "config_id": config_id}
    tasks = [t | extra for t in _read_rows(source / "tasks.csv", TASK_FILE_COLUMNS) if t["run_id"] == run_id]
    (run,) = [r | extra for r in _read_rows(source / "runs.csv", RUN_FILE_COLUMNS) if r["run_id"] == run_id]
    append_rows(target / "tasks.csv", TASK_FILE_COLUMNS, tasks)
    append_rows(target / "runs.csv", RUN_FILE_COLUMNS, [run])


def run_ids(out: pathlib.Path) -> dict:
    """{(config_id, repeat): run_id} of the committed runs of a results directory."""
    return {(r["config_id"], int(r["repeat"])): r["run_id"] for r in _read_rows(out / "runs.csv", RUN_FILE_COLUMNS)}


def replace_text(path: pathlib.Path, text: str):
    """Write a whole file atomically and durably (readable by others: results are shared)."""
    write_atomic(path, text, fsync=True)


def _read_rows(path: pathlib.Path, columns) -> list[dict]:
    """Rows of a results CSV (after trimming a torn last line); checks the header."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):  # a write cut short by power loss: drop the torn line
        text = text[: text.rfind("\n") + 1]
        replace_text(path, text)
    reader = csv.DictReader(io.StringIO(text))
    old = list(reader.fieldnames or [])
    if old and old != list(columns) and _only_appended(old, columns):
        # Written before timing columns were appended (the contract only appends): upgrade it, new columns blank.
        rows = list(reader)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        replace_text(path, buffer.getvalue())
        return rows
    if reader.fieldnames and list(reader.fieldnames) != list(columns):
        raise SweepError(
            f"{path} has columns {reader.fieldnames}, expected {columns}; it was written by a different mrkit version"
        )
    return _whole_rows(path, list(reader), len(columns))


def _whole_rows(path: pathlib.Path, rows: list[dict], width: int) -> list[dict]:
    """`rows` with a last row cut short (fewer or more fields than the header) dropped from the file, said in one line.

    Such a row is a write interrupted after its newline: the run it records was never whole, so it is redone. A
    malformed row before the last is not an interrupted write: one line names it and nothing is changed.
    """
    broken = [n for n, row in enumerate(rows) if None in row or None in row.values()]
    if not broken:
        return rows
    if broken != [len(rows) - 1]:
        raise SweepError(f"{path}: row {broken[0] + 2} does not have the header's {width} fields; fix or delete that line")
    text = path.read_text(encoding="utf-8")
    replace_text(path, text[: text.rstrip("\n").rfind("\n") + 1])
    print(f"mrkit: {path}: its last row was cut short; dropped it, so that run is done again", file=sys.stderr)
    return rows[:-1]


def _only_appended(old, columns) -> bool:
    """Whether `old` is `columns` without some columns appended since (at the end, or at the timing list's tail)."""
    columns = list(columns)
    if columns[: len(old)] == old:
        return True
    base = next((b for b in (timing.TASK_COLUMNS, timing.RUN_COLUMNS) if columns[: len(b)] == b), [])
    present = [c for c in base if c in old]
    return [c for c in columns if c in old] == old and present == base[: len(present)]


def done_and_clean(out: pathlib.Path) -> set:
    """(config_id, repeat) pairs already in runs.csv; drops tasks of runs never committed.

    A run's tasks are written before its runs.csv row, which commits it. Tasks
    whose run has no row (interrupted, or the row was deleted to redo it) go.
    """
    runs = _read_rows(out / "runs.csv", RUN_FILE_COLUMNS)
    tasks_path = out / "tasks.csv"
    tasks = _read_rows(tasks_path, TASK_FILE_COLUMNS)
    committed = {r["run_id"] for r in runs}
    kept = [t for t in tasks if t["run_id"] in committed]
    if len(kept) != len(tasks):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=TASK_FILE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
        replace_text(tasks_path, buffer.getvalue())
    return {(r["config_id"], int(r["repeat"])) for r in runs}


def measured(out: pathlib.Path, metric: str = "end_to_end_s") -> dict:
    """{config_id: {repeat: metric}} of the committed runs (what adaptive repeats judge a point by)."""
    found = {}
    for r in _read_rows(out / "runs.csv", RUN_FILE_COLUMNS):
        if r.get(metric) not in (None, ""):
            found.setdefault(r["config_id"], {})[int(r["repeat"])] = float(r[metric])
    return found


# -------------------------------------------------------------------- meta


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("mrkit", "pandas", "numpy", "multiprocess"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git(*args):
    if REPO_ROOT is None:  # an installed mrkit: no commit to record
        return None
    try:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def now_iso():
    """The local time with its UTC offset, to the second (meta.json's timestamps)."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def new_meta(cfg: SweepConfig, inputs) -> dict:
    """A new results directory's meta.json: parameters, inputs, versions, host and git commit."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "sweep": cfg.name,
        "parameters": cfg.to_dict(),
        "configurations": [rc.config_id for rc in cfg.configurations()],
        "inputs": list(inputs),
        "input_bytes": sum(os.path.getsize(p) for p in inputs),
        "warmup": WARMUP_NOTE if cfg.warmup else "none",
        "workers_rule": "W = max(M, R) unless `workers` fixes it; capped at `max_workers` when set",
        "versions": _versions(),
        "cpu_count": os.cpu_count(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "start": now_iso(),
        "end": None,
        "status": "running",
        "sessions": [],
    }


def check_resumable(meta: dict, cfg: SweepConfig, out):
    """Resuming with other parameters would mix two experiments in one table; refuse."""
    old, new = meta.get("parameters", {}), cfg.to_dict()
    # They do not change what a run measures (a re-run for load measures the same thing again).
    free = {"repeats", "max_repeats", "ci_target", "results_dir", "description", "max_others_share", "loaded_reruns"}
    differ = sorted(k for k in set(old) | set(new) if k not in free and old.get(k) != new.get(k))
    if differ:
        raise SweepError(f"cannot resume {out}: parameters differ from its meta.json: {', '.join(differ)}")


def open_session(cfg: SweepConfig, out: pathlib.Path, inputs) -> tuple[dict, dict]:
    """(meta, session) of a results directory opened for a session of runs: meta.json made, or checked for a
    resume (other parameters are refused), with a new session appended and the status "running" written."""
    meta_path = out / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        check_resumable(meta, cfg, out)
        meta["parameters"] = cfg.to_dict()  # repeats may have grown
    else:
        meta = new_meta(cfg, inputs)
    session = {"start": now_iso(), "end": None, "runs": 0}
    meta["sessions"].append(session)
    meta["status"] = "running"
    write_meta(out, meta)
    return meta, session


def close_session(out: pathlib.Path, meta: dict, session: dict, status: str) -> None:
    """End a session opened by open_session: its end, the sweep's end and status ("complete", "interrupted")."""
    meta["status"] = status
    session["end"] = meta["end"] = now_iso()
    write_meta(out, meta)


def write_meta(out: pathlib.Path, meta: dict) -> None:
    replace_text(pathlib.Path(out) / "meta.json", json.dumps(meta, indent=2) + "\n")


# ----------------------------------------------------------- directories


def new_results_dir(results_dir, sweep_name) -> pathlib.Path:
    """results/<sweep>/<YYYYmmdd-HHMMSS>[-NN], created, never an existing one."""
    base = pathlib.Path(results_dir) / sweep_name
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in itertools.count():
        path = base / (stamp if n == 0 else f"{stamp}-{n:02d}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue


# What every mrkit since the first round wrote, and must read as numbers, to analyse a results directory.
RUNS_NEED = ("run_id", "app", "n_map", "n_reduce", "workers", "end_to_end_s")
RUNS_NUMERIC = ("n_map", "n_reduce", "workers", "end_to_end_s", "startup_s", "map_wall_s", "reduce_wall_s", "cores")
TASKS_NEED = ("run_id", "phase", "task", "attempt", "start", "end", "status")
TASKS_NUMERIC = ("task", "attempt", "start", "end", "duration_s", "bytes_in", "cpu_s")


def _read(csv_path, columns, need, numeric):
    """A results CSV as a DataFrame (empty, with `columns`, where there is none); a one-line SweepError for one
    that is damaged: not CSV, a column of `need` missing, a value of a `numeric` column that is not a number."""
    if not csv_path.exists():
        return pd.DataFrame(columns=columns)
    fix = "re-run the sweep into a new directory, or restore the file"
    try:
        frame = pd.read_csv(csv_path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SweepError(f"{csv_path} is damaged ({str(exc).splitlines()[0]}): {fix}") from None
    missing = [c for c in need if c not in frame]
    if missing:
        raise SweepError(f"{csv_path} lacks the column(s) {', '.join(missing)}: {fix}")
    for column in (c for c in numeric if c in frame):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column][values.isna() & frame[column].notna()]
        if len(bad):
            raise SweepError(f"{csv_path}: {column} holds {bad.iloc[0]!r} (row {bad.index[0] + 2}), not a number: {fix}")
    return frame


def load_results(path):
    """(runs DataFrame, tasks DataFrame, meta dict) of a results directory.

    Tasks of runs without a runs.csv row (an interrupted run) are left out.
    """
    path = pathlib.Path(path)
    runs = _read(path / "runs.csv", RUN_FILE_COLUMNS, RUNS_NEED, RUNS_NUMERIC)
    tasks = _read(path / "tasks.csv", TASK_FILE_COLUMNS, TASKS_NEED, TASKS_NUMERIC)
    tasks = tasks[tasks["run_id"].astype(str).isin(runs["run_id"].astype(str))].reset_index(drop=True)
    meta_path = path / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    return runs, tasks, meta


def latest(results_dir, sweep) -> pathlib.Path:
    """The newest results directory of a sweep (results/<sweep>/<stamp> with a meta.json)."""
    base = pathlib.Path(results_dir) / sweep
    found = sorted(p for p in base.glob("*") if (p / "meta.json").exists()) if base.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no results for sweep {sweep!r} under {base}")
    return found[-1]
