"""The interactive lab: its logic without a browser, then notebooks/interactive.ipynb in a real JupyterLab.

The browser test starts JupyterLab on 127.0.0.1 (a free port, a token, fresh
config/settings/workspaces directories, the news toast switched off), opens
the notebook with small inputs injected by papermill, runs all cells, moves
the M slider with the keyboard, presses Run job, and waits for the timings
table and the plots. It skips, saying why, without /usr/bin/chromium or
playwright; the server is stopped in a finally.
"""

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pandas as pd
import pytest
from conftest import CHROMIUM

from mrkit.corpus import synth
from mrkit.errors import InputError
from mrkit.experiments.report import widgets
from mrkit.experiments.sweeps.sweep_config import REPO_ROOT

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
NOTEBOOK = REPO_ROOT / "notebooks" / "interactive.ipynb"


# ---- the lab's logic, no browser


def test_a_run_goes_in_the_background_then_shows_timings_timeline_and_speedup(corpus, tmp_path):
    lab = widgets.InteractiveLab(inputs=corpus[:4], results_dir=tmp_path)
    lab.n_map.value, lab.n_reduce.value, lab.workers.value = 4, 2, 1
    lab.button.click()
    assert lab.button.disabled and lab.progress.max == 6  # start() returned while the job runs
    assert lab.wait(60) and lab.error is None
    assert not lab.button.disabled and lab.progress.value == lab.progress.max == 6
    assert lab.status.value.startswith("done: wc M=4 R=2 W=1 in ")
    assert "end_to_end_s" in lab.timings.outputs[0]["data"]["text/html"]
    assert "image/png" in lab.gantt.outputs[0]["data"] and "image/png" in lab.speedup.outputs[0]["data"]

    lab.workers.value = 2
    lab.start()
    assert lab.wait(60) and lab.error is None
    assert list(lab.runs["workers"]) == [1, 2] and set(lab.tasks["run_id"]) == set(lab.runs["run_id"])
    assert len(lab.speedup.outputs) == 1  # replaced, not appended


def test_the_runs_are_recorded_under_results_dir_and_the_runs_table_is_live(corpus, tmp_path):
    import pandas as pd

    lab = widgets.InteractiveLab(inputs=corpus[:2], results_dir=tmp_path, n_map=2, n_reduce=1, workers=1)
    shown = lab.runs_table  # what the notebook's last cell displays, once, before any run
    assert "no run yet" in shown.outputs[0]["data"]["text/plain"]
    # A notebook shows at most 20 columns of a DataFrame and elides the middle of a wider one.
    with pd.option_context("display.max_columns", 20):
        for workers in (1, 2):
            lab.workers.value = workers
            lab.start()
            assert lab.wait(60) and lab.error is None
            html = shown.outputs[0]["data"]["text/html"]
            assert all(run_id in html for run_id in lab.runs["run_id"]), "the displayed table follows every run"
            assert all(f">{column}<" in html for column in widgets.TIMING_COLUMNS), "no timing column elided"
    records = tmp_path / "interactive"
    runs, tasks = pd.read_csv(records / "runs.csv"), pd.read_csv(records / "tasks.csv")
    assert list(runs["run_id"]) == list(lab.runs["run_id"]) and list(runs["workers"]) == [1, 2]
    assert list(runs["config_id"]) == ["wc-m2-r1-w1", "wc-m2-r1-w2"] and set(runs["sweep"]) == {"interactive"}
    assert set(tasks["run_id"]) == set(runs["run_id"])
    for run_id in runs["run_id"]:
        assert sorted(p.name for p in (records / run_id).glob("mr-out-*")) == ["mr-out-0"], "each run's outputs kept"
    assert not list(records.glob(".running-*")), "no scratch directory left behind"


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="runs pinned to 1 CPU are told from the machine only with 2 or more")
def test_the_speedup_ceiling_is_the_cores_the_runs_recorded_not_this_machines():
    # Runs pinned to one CPU (mrkit sweep --cpus 0) record cores = 1 on a machine with more.
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b"],
            "app": "wc",
            "n_map": 4,
            "n_reduce": 2,
            "workers": [1, 2],
            "end_to_end_s": [2.0, 1.9],
            "cores": 1,
            "cpu_count": os.cpu_count(),
        }
    )
    labels = widgets.speedup_figure(runs).axes[0].get_legend_handles_labels()[1]
    assert "CPU ceiling (1 cores)" in labels and f"CPU ceiling ({os.cpu_count()} cores)" not in labels


def test_the_status_line_reads_the_masters_counts():
    status = {
        "phase": "map",
        "map": {"total": 8, "idle": 3, "in_progress": 2, "done": 3},
        "reduce": {"total": 4, "idle": 4, "in_progress": 0, "done": 0},
        "workers": 2,
        "elapsed_s": 1.234,
    }
    assert widgets.status_text(status) == ("map: map 3/8 done, 2 running; reduce 0/4 done, 0 running; 2 workers; 1.2 s")


def test_a_failed_run_is_shown_and_the_button_comes_back(tmp_path):
    lab = widgets.InteractiveLab(inputs=[str(tmp_path / "missing.txt")], results_dir=tmp_path / "results")
    lab.start()
    assert lab.wait(30)
    assert isinstance(lab.error, InputError) and "missing.txt" in lab.status.value
    assert lab.progress.bar_style == "danger" and not lab.button.disabled and lab.runs.empty
    assert list((tmp_path / "results" / "interactive").iterdir()) == [], "a failed run leaves nothing recorded"


# ---- the notebook in JupyterLab


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=2):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    with opener.open(url, timeout=timeout) as response:
        return response.status


@contextlib.contextmanager
def jupyterlab(root, scratch, timeout=60):
    """A JupyterLab server on 127.0.0.1 serving `root`; yields (base URL, token); stopped on exit."""
    port, token = _free_port(), secrets.token_hex(16)
    settings = scratch / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))  # no news toast
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(scratch / "config"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
        "IPYTHONDIR": str(scratch / "ipython"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    log = open(scratch / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                log = (scratch / "jupyterlab.log").read_text()[-2000:]
                raise AssertionError(f"jupyter lab exited {server.returncode}: {log}")
            with contextlib.suppress(OSError):
                if _get(f"{base}/api/status?token={token}") == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"jupyter lab not ready after {timeout} s")
            time.sleep(0.3)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()


def _injected_notebook(root, inputs, results_dir):
    """interactive.ipynb with its parameters set the way papermill sets them (an injected cell)."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(NOTEBOOK))
    nb = parameterize_notebook(nb, {"inputs": inputs, "results_dir": str(results_dir)})
    nbformat.write(nb, root / "interactive.ipynb")


@pytest.mark.browser
@pytest.mark.timeout(150)
def test_the_interactive_notebook_in_jupyterlab(tmp_path, sync_api):
    expect = sync_api.expect
    root = tmp_path / "lab"
    root.mkdir()
    # 4 MiB: a run lasts a second or more, long enough to see the kernel idle while it runs.
    inputs = [str(p) for p in synth(tmp_path / "corpus", 4, 2**20, seed=3)]
    _injected_notebook(root, inputs, tmp_path / "results")

    with jupyterlab(root, tmp_path) as (base, token), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/interactive.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            idle = page.locator(".jp-StatusBar-Widget").filter(has_text=re.compile(r"\| Idle"))
            expect(idle).to_be_visible()
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

            run = page.get_by_role("button", name="Run job")
            expect(run).to_be_visible()
            expect(page.locator(".widget-slider")).to_have_count(3)
            handle = page.locator(".noUi-handle").first  # M, 8 to start with
            handle.focus()
            for _ in range(2):
                handle.press("ArrowRight")
            expect(page.locator(".widget-readout").first).to_have_text("10")

            run.click()
            # The kernel is idle (free for other cells) while the job runs in its thread, the button disabled.
            page.wait_for_function(
                """() => {
                const b = [...document.querySelectorAll('button')].find(e => e.textContent.includes('Run job'));
                const idle = [...document.querySelectorAll('.jp-StatusBar-Widget')].some(e => /\\| Idle/.test(e.textContent));
                return b && b.disabled && idle && !document.body.textContent.includes('done: wc');
            }""",
                timeout=20_000,
            )
            expect(page.get_by_text(re.compile(r"done: wc M=10 R=4 W=2 in [0-9.]+ s"))).to_be_visible()
            outputs = page.locator(".widget-output")
            # the run's timings, and the last cell's table of every run, redrawn without running that cell again
            expect(outputs.filter(has_text="end_to_end_s")).to_have_count(2)
            expect(outputs.locator("img")).to_have_count(2)
            assert page.evaluate(
                "() => Array.from(document.querySelectorAll('.widget-output img')).every(i => i.naturalWidth > 0)"
            )
            expect(run).to_be_enabled()
            page.screenshot(path=str(tmp_path / "interactive.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "interactive.png").stat().st_size > 20_000
