"""A one-line progress display for `mrkit run` on a terminal: tasks done per phase.

It redraws one line (carriage return) from the master's status and writes
nothing at all when the stream is not a terminal, so logs and pipes stay
clean. Stdlib only: it sits on the run path, where importing tqdm would cost
more than the small jobs it reports on.
"""

import sys


class TaskProgress:
    """Call with each master status; `close()` ends the line."""

    def __init__(self, prefix, stream=None):
        self.prefix = prefix
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._width = 0

    def __call__(self, status):
        if not self.live:
            return
        maps, reduces = status["map"], status["reduce"]
        line = (
            f"{self.prefix}: map {maps['done']}/{maps['total']}, reduce {reduces['done']}/{reduces['total']}, "
            f"{status['workers']} workers, {status['elapsed_s']:.1f} s"
        )
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def close(self):
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()
