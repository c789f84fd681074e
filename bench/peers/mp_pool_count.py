"""mp_pool: the obvious parallel version, multiprocessing.Pool with one file per task.

    python mp_pool_count.py OUT PROCESSES INPUT...

Each worker returns a Counter for its file (pickled back to the parent),
which merges them. chunksize=1 so two big files do not land on one worker.
"""

import multiprocessing
import sys
from collections import Counter

from wordcount import count_file, write_counts


def main(out, processes, inputs):
    total = Counter()
    with multiprocessing.Pool(processes) as pool:
        for counts in pool.imap_unordered(count_file, inputs, chunksize=1):
            total.update(counts)
    write_counts(total, out)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
