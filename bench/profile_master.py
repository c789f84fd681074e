"""Profile the master of one `mrkit run`, every thread of it, in this process.

    .venv/bin/python bench/profile_master.py [--top 25] -- wc TINY -m 10000 -r 10 -w 2

Runs `mrkit run ARGS...` through mrkit.cli.main with cProfile enabled in the
main thread and in every thread started after (the RPC server serves each
worker connection from its own thread, where pyinstrument's default main-thread
view sees nothing). The clock is each thread's own CPU time (time.thread_time),
so a thread blocked in a long poll, a lock or a recv counts nothing, and a
builtin that waits for the GIL counts nothing either: the shares are of the CPU
the master spends. `--clock wall` counts waiting too. Forked workers inherit
the hooks but never write them out, so only the master's own work is counted.
Prints the functions with the most own time (tottime) and their share.
Deterministic profiling adds its own per-call overhead: read shares, not
absolute times.
"""

import argparse
import cProfile
import io
import pathlib
import pstats
import sys
import threading
import time

_profiles = []
_lock = threading.Lock()


CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}
_clock = [time.thread_time]


def _profiled_run(run):
    def wrapper(self):
        profile = cProfile.Profile(_clock[0])
        with _lock:
            _profiles.append(profile)
        profile.enable()
        try:
            run(self)
        finally:
            profile.disable()

    return wrapper


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    p.add_argument("--clock", default="cpu", choices=tuple(CLOCKS), help="per-thread CPU time (default) or wall")
    p.add_argument("args", nargs="+", help="arguments of `mrkit run` (after --)")
    args = p.parse_args(argv)
    from mrkit import cli

    _clock[0] = CLOCKS[args.clock]
    threading.Thread.run = _profiled_run(threading.Thread.run)
    main_profile = cProfile.Profile(_clock[0])
    _profiles.append(main_profile)
    cpu, wall = time.process_time(), time.perf_counter()
    main_profile.enable()
    try:
        code = cli.main(["run", *args.args])
    finally:
        main_profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stream = io.StringIO()
    stats = pstats.Stats(main_profile, stream=stream)
    for profile in _profiles[1:]:
        try:
            stats.add(profile)
        except TypeError:  # a thread whose profile never collected anything
            pass
    total = stats.total_tt
    print(
        f"\nmrkit run {' '.join(args.args)}: exit {code}, wall {wall:.2f} s, this process's CPU {cpu:.2f} s "
        f"(with profiling overhead), {len(_profiles)} profiled threads, {total:.2f} s profiled in all threads "
        f"({args.clock} clock)"
    )
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2 if args.sort == "tottime" else 3], reverse=True)
    print(f"{'own s':>8} {'share':>6} {'cum s':>8} {'calls':>9}  function")
    for (path, line, name), (_, nc, tt, ct, _callers) in rows[: args.top]:
        print(f"{tt:8.3f} {tt / total:6.1%} {ct:8.3f} {nc:9d}  {name}  {pathlib.Path(path).name}:{line}")
    return code


if __name__ == "__main__":
    sys.exit(main())
