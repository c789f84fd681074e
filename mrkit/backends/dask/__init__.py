"""mrkit on a Dask cluster: two backends, registered lazily in `mrkit.backends`.

- `dask` (workers.py): mrkit's master schedules as with `local`; its W
  workers are long-running Dask tasks, placed by Dask on the cluster's
  workers, the way a MapReduce application master gets containers from YARN.
- `dask-tasks` (scheduled.py): Dask's scheduler runs each map and reduce
  attempt as one Dask task; mrkit's master, driven in this process, keeps
  the split, the map barrier, the commit rule, attempt limits and records.

Shared by both: cluster.py (which cluster: an address, a Client, a Cluster,
or a LocalCluster of our own on 127.0.0.1), checks.py (versions, storage
and master reachability, before anything starts), job.py (the job around a
master), remote.py (what runs on the Dask workers), worker_start.py (what a
worker of our own LocalCluster does as it starts).
"""
