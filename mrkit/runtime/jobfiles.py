"""The job's files in its storage, as the master handles them.

An earlier job's outputs are cleared before a new one starts (never one of
its inputs); a finished attempt's hidden files are either published under
their `mr-*` names (the winner) or removed (any later attempt); what attempts
of this run left behind is swept when the job ends, and so is what they
published if it failed. The attempt names themselves are the protocol's
(protocol.attempt_files), since workers write them.
"""

import errno
import os
import re

from mrkit.errors import InputError, MrkitError, directory_in_the_way, disk_problem
from mrkit.runtime import protocol
from mrkit.runtime.discovery import MASTER_FILE
from mrkit.storage.base import leftovers

JOB_FILE = re.compile(r"^mr-(out-\d+|\d+-\d+|run\.json|status\.json)$")  # files a new job replaces
DATA_FILE = re.compile(r"^mr-(out-\d+|\d+-\d+)$")  # its outputs and intermediate files, not its records


def clear_stale(storage, inputs=(), n_reduce=0):
    """Remove an earlier job's files and any attempt's leftovers (`.mr-*.tmp`).

    InputError, before anything is removed, when one of `inputs` (mrkit.job.Input) is such a file (an
    earlier job's `mr-out-0` given as this one's input, or the job directory given as its input directory);
    CannotWrite when a directory stands where a job of `n_reduce` reduce tasks writes a file.
    """
    # A directory named as an output or intermediate file failed the job only at its commit, after the map.
    in_the_way = [name for name in storage.directories("mr-") if _written_by_the_job(name, n_reduce)]
    if in_the_way:
        raise directory_in_the_way(storage.path(in_the_way[0]))
    listed = storage.list("mr-")
    stale = [name for name in listed if JOB_FILE.match(name)]
    hidden = leftovers(storage)
    # An input among the job's own files is refused, removed now or not: mr-master.json would hand the
    # master's token to the map. (mr-smith.txt is nobody's job file: it may be an input.)
    own = [*stale, *(name for name in listed if name == MASTER_FILE), *hidden]
    given, real_dirs = _input_paths(inputs), {}
    found = next((path for path in map(storage.path, own) if _is_given(path, given, real_dirs)), None)
    if found is not None:
        raise InputError(
            f"input {found} is named as this job's own files are (mr-*, .mr-*.tmp), which a job clears or "
            "writes: copy it out of the job's directory, or give the job another one (--workdir, --storage)"
        )
    for name in (*stale, *hidden):
        storage.remove(name)


def _written_by_the_job(name, n_reduce):
    """Whether a job of `n_reduce` reduce tasks writes `name`: mr-out-R or mr-M-R with R below n_reduce."""
    return DATA_FILE.match(name) is not None and int(name.rpartition("-")[2]) < n_reduce


def _input_paths(inputs):
    """Each input's location as given and as resolved (a link given as input leads to its target)."""
    locations = [i.location for i in inputs]
    local = [os.path.abspath(path) for path in locations if "://" not in path]
    return {*locations, *local, *map(os.path.realpath, local)}


def _is_given(path, given, real_dirs):
    """Whether the job file at `path` is one of the `given` input paths: by its name, or (unless it is a
    symbolic link itself, whose removal leaves its target) by where it really is. `real_dirs` caches each
    directory's resolved path: one lookup per directory, not per file."""
    if path in given or "://" in path:
        return path in given
    directory, name = os.path.split(path)
    real = real_dirs.get(directory) or real_dirs.setdefault(directory, os.path.realpath(directory))
    return os.path.join(real, name) in given and not os.path.islink(path)


def commit(storage, report, run_id, winner):
    """Publish the winning attempt's files, or remove a losing one's.

    None, or (the error's line, fatal) when storage refuses: `fatal` when no retry can help (a directory
    where the file goes, a full disk, a directory it may not write), which fails the job at once.
    """
    name = None
    try:
        for temporary, name in protocol.attempt_files(report, run_id):
            if winner:
                storage.publish(temporary, name)
            else:
                storage.remove(temporary)
    except OSError as exc:
        if exc.errno in (errno.EISDIR, errno.ENOTDIR):
            return str(directory_in_the_way(storage.path(name))), True
        problem = disk_problem(exc, os.path.dirname(storage.path(name)) if name else None)
        return f"its files could not be committed: {problem or exc}", problem is not None
    except MrkitError as exc:  # a storage service's refusal: another attempt may get through
        return f"its files could not be committed: {exc}", False
    return None


def remove_data(storage):
    """Remove the job's outputs and intermediate files: a failed or stopped job leaves none that look final
    (OSError or MrkitError when storage refuses). Called once no attempt can publish any more."""
    for name in storage.list("mr-"):
        if DATA_FILE.match(name):
            storage.remove(name)


def sweep_attempts(storage, run_id):
    """Remove what this run's attempts left behind (OSError or MrkitError when storage refuses)."""
    for name in leftovers(storage):
        if protocol.is_attempt_file(name, run_id):
            storage.remove(name)
