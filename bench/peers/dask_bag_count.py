"""dask_bag: word count with dask.bag on the multiprocessing scheduler.

    python dask_bag_count.py OUT WORKERS INPUT...

One partition per file (read_text with blocksize=None, decoded UTF-8 with
errors=replace), a Counter per partition, Counters merged by the reduction's
aggregate: the usual way to count words with a bag without a Python step per word
crossing process boundaries.

The map function is counting.count_text / count_file: the plain count, or
mrkit's count_words when MRBENCH_COUNT=count_words (same-function comparisons).
"""

import sys

import dask
import dask.bag as db
from counting import count_text
from wordcount import merge_counts, write_counts


def count_lines(lines):
    return count_text("".join(lines))


def main(out, workers, inputs):
    bag = db.read_text(inputs, blocksize=None, encoding="utf-8", errors="replace")
    with dask.config.set(scheduler="processes", num_workers=workers):
        counts = bag.reduction(count_lines, merge_counts).compute()
    write_counts(counts, out)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
