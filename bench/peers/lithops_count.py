"""lithops: word count with lithops' map_reduce on the localhost backend.

    python lithops_count.py OUT WORKERS INPUT...

Each map call counts one file (the localhost backend runs calls in local
processes that can read local paths); the reduce call merges the Counters.
Configuration is passed in code, so no ~/.lithops/config is needed.

The map function is counting.count_text / count_file: the plain count, or
mrkit's count_words when MRBENCH_COUNT=count_words (same-function comparisons).
"""

import sys

import lithops
from counting import count_file
from wordcount import merge_counts, write_counts


def main(out, workers, inputs):
    config = {
        "lithops": {"backend": "localhost", "storage": "localhost", "log_level": "WARNING"},
        "localhost": {"worker_processes": workers, "runtime": sys.executable},
    }
    executor = lithops.FunctionExecutor(config=config)
    executor.map_reduce(count_file, inputs, merge_counts)
    write_counts(executor.get_result(), out)
    executor.clean()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
