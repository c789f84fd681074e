"""The worker's start-up stays light: heavy libraries load only where they are used."""

import subprocess
import sys


def test_worker_and_local_backend_do_not_import_heavy_libraries():
    code = ("import sys, mrkit.cli, mrkit.runtime.worker, mrkit.backends.local, mrkit.apps.wc; "
            "print(sorted(m for m in ('pandas', 'numpy', 'boto3', 'botocore', 'seaborn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
