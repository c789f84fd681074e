"""A discrete-event simulation of mrkit's own scheduling, for the cost model.

It replays what mrkit.runtime.master and mrkit.backends.local do, with CPU
demands instead of code:

- the launcher forks W workers one after the other, each fork costing it
  `fork_cpu` and sharing the cores with the workers already forked, which
  start meanwhile; the master serves no one before the last fork (ECS:
  every worker task instead becomes ready `start_latency_s` after launch).
  A fork's wall time thus depends on the cores: on 7 December, with the
  workers' own start about 10 ms of CPU, a fork took 13.7 ms of wall time
  on 1 CPU and 7.4 ms on 2, about 5 ms of the launcher's CPU on either;
- a worker asks for a task; the master serves requests one at a time (one
  process, one GIL), each costing master CPU; an idle worker waits in a long
  poll and gets a task the moment one is queued;
- map tasks all finish (are committed) before any reduce task is queued (the
  map barrier); retried tasks go to the front of the queue;
- an attempt that outlives `task_timeout` is revoked for scheduling and the
  task is handed out again, but it keeps running: the first attempt to finish
  wins, later ones are superseded (and still use CPU until they end);
- every process that has CPU work (workers running an attempt, the master
  serving a request) shares `cores` CPUs equally: processor sharing, each
  progressing at min(1, cores / runnable) CPU-seconds per second (`cores`
  may be fractional: what other programs leave of them). With `dedicated`,
  each process has its own CPU (ECS tasks);
- attempts running at once slow each other beyond sharing the cores (caches,
  memory bandwidth, context switches): with n attempts running, each needs
  `1 + contention * log2(n)` times its CPU demand, with a contention per
  phase (the model fits them from the attempts' measured CPU against how
  many ran beside them; 0 leaves pure processor sharing). Logarithmic up to
  the most attempts the calibration saw at once, on more cores the most per
  core (`contention_cap`, Calibration.contention_cap), flat past it: from
  calibration runs of W <= 24 the curve went on growing to W = 100 and
  over-predicted those runs by up to 100% (7 December, job files in
  memory), where their CPU per byte had stopped growing at a few;
- a worker's first attempt needs more CPU than its later ones (a freshly
  forked process), by the phase's first-attempt cost;
- a forked worker has CPU work of its own before it first asks for a task
  (`worker_cpu`: its start, and the loop between tasks, charged up front):
  it competes for the cores like any process, so at W = 100 on 2 cores the
  workers' own 1 CPU-second delays the tasks; every attempt costs its
  worker `attempt_overhead_cpu` beyond the attempt's own CPU (asking,
  reporting).

Pure Python, deterministic, no I/O: `simulate(SimJob(...))` -> SimResult.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

from mrkit.job import TASK_TIMEOUT_S

_EPS = 1e-12


def inflation(contention, n, cap=math.inf):
    """How many times its CPU demand an attempt needs with n attempts running at once: 1 + contention * log2(n).

    n is held at `cap`, the most attempts at once the calibration saw on as many cores: past it the
    curve is not extrapolated (Calibration.concurrency_per_core).
    """
    return 1.0 + contention * math.log2(min(max(n, 1.0), max(cap, 1.0)))


@dataclass(frozen=True)
class SimJob:
    """One job for the simulator; every cost is in CPU seconds."""

    map_cpu: tuple  # CPU demand of each map task
    reduce_cpu: tuple  # CPU demand of each reduce task
    workers: int
    cores: float
    first_map_cpu: float = 0.0  # extra CPU of a worker's first attempt when it is a map (a freshly started process)
    first_reduce_cpu: float = 0.0  # the same when a worker's first attempt is a reduce (W > M)
    master_map_cpu: float = 0.0  # master CPU to hand out, receive and commit one map attempt
    master_reduce_cpu: float = 0.0
    master_register_cpu: float = 0.0  # master CPU for a worker's first contact
    worker_cpu: float = 0.0  # a worker's own CPU outside its attempts, spent before it first asks
    attempt_overhead_cpu: float = 0.0  # a worker's CPU per attempt outside the attempt's own
    fork_cpu: float = 0.0  # the launcher's CPU to fork one worker, sharing the cores; the master serves after all W
    start_latency_s: float = 0.0  # each worker is ready this long after launch (ECS task start)
    task_timeout: float = TASK_TIMEOUT_S
    dedicated: bool = False  # every process has a CPU of its own
    contention: float = 0.0  # CPU inflation of a map attempt with n running at once: inflation(contention, n)
    reduce_contention: float | None = None  # the same in the reduce phase; None: as in the map phase
    contention_cap: float = math.inf  # attempts at once past which contention adds no more (inflation's cap)


@dataclass
class SimAttempt:
    phase: str
    task: int
    attempt: int
    worker: int
    start: float
    end: float = math.nan
    status: str = "running"  # ok | superseded | (running while simulating)


@dataclass
class SimResult:
    """Times from the simulation's origin (launch + the fixed launch cost)."""

    end_s: float  # the last reduce committed: the job is done
    serve_s: float  # the master starts serving (all workers forked)
    first_task_s: float
    map_wall_s: float  # last winning map end - first map start (as timing.summarize)
    reduce_wall_s: float
    timeouts: int
    attempts: list = field(default_factory=list)
    maps_done_s: float = 0.0  # the last map committed: the barrier opens

    def timeline(self) -> dict:
        """The simulated job's time in consecutive stretches that add up to end_s: start-up (forks, the
        master's first answers), handing out the map tasks (first task to the last map attempt's start),
        the barrier wait (to the last map committed: no task left to give a free worker) and the reduce
        stage (the reduces are queued at once, so to the last commit)."""
        last_map = max(
            (a.start for a in self.attempts if a.phase == "map" and a.start <= self.maps_done_s), default=self.first_task_s
        )
        return {
            "start-up": self.first_task_s,
            "map hand-out": last_map - self.first_task_s,
            "barrier wait": self.maps_done_s - last_map,
            "reduce stage": self.end_s - self.maps_done_s,
        }


class _Sim:
    def __init__(self, job: SimJob):
        if job.workers < 1 or job.cores <= 0:
            raise ValueError("simulate: workers must be >= 1 and cores > 0")
        self.job = job
        self.t = 0.0
        self.timers = []  # (time, seq, kind, payload)
        self.seq = 0
        self.running = {}  # worker -> [remaining CPU, SimAttempt]
        self.booting = {}  # worker -> CPU of its own left to run before it first asks
        self.fresh = set(range(job.workers))  # workers that have not run an attempt yet
        self.master_queue = deque()  # (kind, worker, attempt or None)
        self.master_left = None  # CPU left of the request being served (the head of the queue), None: idle
        self.serving = False
        self.launcher_left = None  # CPU left of the fork under way, None: every worker forked
        self.forked = 0
        self.serve_s = 0.0
        self.idle = deque()  # workers in a long poll
        self.queue = deque()  # tasks to hand out: (phase, index)
        self.done = {"map": set(), "reduce": set()}
        self.live = {}  # (phase, index) -> attempts running in time (not yet past their deadline)
        self.attempts = []
        self.n_attempts = {}
        self.timeouts = 0
        self.finished = None
        self.maps_done_s = 0.0
        self.queue.extend(("map", m) for m in range(len(job.map_cpu)))

    # ---- timers and requests --------------------------------------------

    def _at(self, when, kind, payload=None):
        self.seq += 1
        heapq.heappush(self.timers, (when, self.seq, kind, payload))

    def _request(self, kind, worker, attempt=None):
        self.master_queue.append((kind, worker, attempt))
        self._next_request()

    def _next_request(self):
        if not self.serving or self.master_left is not None or not self.master_queue:
            return
        kind, _, attempt = self.master_queue[0]
        job = self.job
        cost = {
            "register": job.master_register_cpu,
            "done": job.master_map_cpu if attempt and attempt.phase == "map" else job.master_reduce_cpu,
        }[kind]
        self.master_left = cost

    def _served(self):
        kind, worker, attempt = self.master_queue.popleft()
        self.master_left = None
        if kind == "done":
            self._complete(attempt)
        if self.finished is None:
            self._assign(worker)
        self._next_request()

    # ---- the task table ---------------------------------------------------

    def _assign(self, worker):
        while self.queue:
            phase, index = self.queue.popleft()
            if index in self.done[phase] or self.live.get((phase, index)):
                continue  # done, or handed out again since it was queued
            self._start(worker, phase, index)
            return
        self.idle.append(worker)

    def _start(self, worker, phase, index):
        job = self.job
        number = self.n_attempts.get((phase, index), 0) + 1
        self.n_attempts[(phase, index)] = number
        attempt = SimAttempt(phase, index, number, worker, self.t)
        self.attempts.append(attempt)
        demand = (job.map_cpu if phase == "map" else job.reduce_cpu)[index] + job.attempt_overhead_cpu
        if worker in self.fresh:
            demand += job.first_map_cpu if phase == "map" else job.first_reduce_cpu
            self.fresh.discard(worker)
        self.running[worker] = [max(demand, _EPS), attempt]
        self.live.setdefault((phase, index), set()).add(number)
        self._at(self.t + job.task_timeout, "deadline", attempt)

    def _enqueue(self, tasks, front=False):
        if front:
            self.queue.extendleft(reversed(tasks))
        else:
            self.queue.extend(tasks)
        while self.idle and self.queue:
            self._assign(self.idle.popleft())

    def _complete(self, attempt):
        self.live.get((attempt.phase, attempt.task), set()).discard(attempt.attempt)
        if attempt.task in self.done[attempt.phase]:
            attempt.status = "superseded"
            return
        attempt.status = "ok"
        self.done[attempt.phase].add(attempt.task)
        if attempt.phase == "map":
            if len(self.done["map"]) == len(self.job.map_cpu):
                self.maps_done_s = self.t
                self._enqueue([("reduce", r) for r in range(len(self.job.reduce_cpu))])
        elif len(self.done["reduce"]) == len(self.job.reduce_cpu):
            self.finished = self.t

    def _deadline(self, attempt):
        key = (attempt.phase, attempt.task)
        if attempt.status != "running" or attempt.task in self.done[attempt.phase]:
            return
        live = self.live.get(key, set())
        if attempt.attempt not in live:
            return
        live.discard(attempt.attempt)
        self.timeouts += 1
        if not live:  # no attempt runs in time any more: hand the task out again, first in line
            self._enqueue([key], front=True)

    # ---- the clock ----------------------------------------------------------

    def _rate(self, runnable):
        if self.job.dedicated:
            return min(1.0, self.job.cores)  # cores: each task's own vCPUs (a quarter vCPU runs at 0.25)
        return min(1.0, self.job.cores / runnable) if runnable else 0.0

    def _worker_rate(self, rate):
        """An attempt's progress in its own CPU demand per second: the core share, less the phase's contention."""
        n = len(self.running)
        job = self.job
        reducing = len(self.done["map"]) == len(job.map_cpu) and job.reduce_contention is not None
        contention = job.reduce_contention if reducing else job.contention
        return rate / inflation(contention, n, job.contention_cap) if n else rate

    def _cpu_left(self):
        """The CPU still to run of the processes that share the cores at the full rate: booting workers, the
        master's request, the launcher's fork."""
        return (*self.booting.values(), *(x for x in (self.master_left, self.launcher_left) if x is not None))

    def _forked_one(self):
        # Forked workers ask at once; they are answered once the master serves, after the last fork.
        self._timer("ready", self.forked)
        self.forked += 1
        if self.forked < self.job.workers:
            self.launcher_left = self.job.fork_cpu
        else:
            self.launcher_left = None
            self.serve_s = self.t
            self._timer("serve", None)

    def run(self) -> SimResult:
        job = self.job
        if job.fork_cpu > 0:
            self.launcher_left = job.fork_cpu
        else:  # no launcher's work (ECS: each task is ready after its start latency)
            self._timer("serve", None)
            for w in range(job.workers):
                self._at(job.start_latency_s, "ready", w)
        while self.finished is None:
            runnable = len(self.running) + len(self._cpu_left())
            rate = self._rate(runnable)
            worker_rate = self._worker_rate(rate)
            least = min((r[0] for r in self.running.values()), default=math.inf)
            dt_cpu = least / worker_rate if worker_rate > 0 and least < math.inf else math.inf
            if rate > 0:
                for left in self._cpu_left():
                    dt_cpu = min(dt_cpu, left / rate)
            t_timer = self.timers[0][0] if self.timers else math.inf
            if dt_cpu == math.inf and t_timer == math.inf:
                raise RuntimeError("simulate: nothing left to happen before the job finished (a bug)")
            if t_timer <= self.t + dt_cpu:
                self._advance(t_timer - self.t, rate, worker_rate)
                _, _, kind, payload = heapq.heappop(self.timers)
                self._timer(kind, payload)
            else:
                self._advance(dt_cpu, rate, worker_rate)
                self._finish_cpu()
        return self._result(self.serve_s)

    def _advance(self, dt, rate, worker_rate):
        if dt > 0:
            for entry in self.running.values():
                entry[0] -= worker_rate * dt
            for worker in self.booting:
                self.booting[worker] -= rate * dt
            if self.master_left is not None:
                self.master_left -= rate * dt
            if self.launcher_left is not None:
                self.launcher_left -= rate * dt
        self.t += max(dt, 0.0)

    def _timer(self, kind, payload):
        if kind == "serve":
            self.serving = True
            self._next_request()
        elif kind == "ready":
            if self.job.worker_cpu > 0:
                self.booting[payload] = self.job.worker_cpu
            else:
                self._request("register", payload)
        elif kind == "deadline":
            self._deadline(payload)

    def _finish_cpu(self):
        for worker in [w for w, (left, _) in self.running.items() if left <= _EPS * 10]:
            _, attempt = self.running.pop(worker)
            attempt.end = self.t
            self._request("done", worker, attempt)
        for worker in [w for w, left in self.booting.items() if left <= _EPS * 10]:
            del self.booting[worker]
            self._request("register", worker)
        if self.master_left is not None and self.master_left <= _EPS * 10:
            self._served()
        if self.launcher_left is not None and self.launcher_left <= _EPS * 10:
            self._forked_one()

    def _result(self, serve_at):
        def wall(phase):
            rows = [a for a in self.attempts if a.phase == phase]
            ok = [a for a in rows if a.status == "ok"]
            return max(a.end for a in ok) - min(a.start for a in rows) if ok else 0.0

        starts = [a.start for a in self.attempts]
        return SimResult(
            end_s=self.finished,
            serve_s=serve_at,
            first_task_s=min(starts) if starts else 0.0,
            map_wall_s=wall("map"),
            reduce_wall_s=wall("reduce"),
            timeouts=self.timeouts,
            attempts=self.attempts,
            maps_done_s=self.maps_done_s,
        )


def simulate(job: SimJob) -> SimResult:
    """Run one job through the simulated scheduler; see the module docstring."""
    return _Sim(job).run()
