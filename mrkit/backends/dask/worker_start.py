"""What each worker process of a job's own LocalCluster does as it starts (its `distributed.worker.preload`).

A terminal's Ctrl-C reaches every process of the job's group, its Dask workers too: each then
printed a traceback (34 lines a worker) under the job's one line. They leave it to the job's
client, which closes the cluster, as `local`'s workers leave it to their parent.

A worker forked from a script's process inherits its heap, which the worker's full collections
would walk (and copy, page by page) at every task: it is frozen, as `local`'s workers freeze theirs.
"""

import gc
import signal


def dask_setup(worker):
    # Called in the worker process's main thread, where its event loop runs, before it registers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()
