"""python_sequential: the baseline every ratio is against.

    python plain_count.py OUT INPUT...

One process, one file at a time: read, decode, re.findall, Counter.update.
"""

import sys
from collections import Counter

from wordcount import count_file, write_counts


def main(out, inputs):
    total = Counter()
    for path in inputs:
        total.update(count_file(path))
    write_counts(total, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
