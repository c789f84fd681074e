"""The worker's start-up stays light: heavy libraries load only where they are used."""

import subprocess
import sys

RUN_PATH = "mrkit.cli, mrkit.runtime.worker, mrkit.backends.local, mrkit.apps.wc"


def _imported(names):
    """Which of `names` importing the `mrkit run` path loads, in a fresh interpreter."""
    code = f"import sys, {RUN_PATH}; print(sorted(m for m in {names!r} if m in sys.modules))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_worker_and_local_backend_do_not_import_heavy_libraries():
    assert _imported(("pandas", "numpy", "boto3", "botocore", "seaborn", "matplotlib")) == "[]"
