"""`make bench`: word count as whole processes, mrkit against a plain Python count and peers.

    .venv/bin/python bench/bench.py [--quick] [--only mrkit_run,mp_pool] [--memory-2gb] ...

See bench/README.md. The harness lives in bench/mrbench/; this file only runs it.
"""

import sys

from mrbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
