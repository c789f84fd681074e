"""The words of a report's prose, on a report rendered again from its recorded runs (no sweep runs).

    .venv/bin/python bench/report_words.py results [--out /tmp/report-again.html]

Reads the papermill parameters of `<results>/report.ipynb` (what `make report`
wrote), copies the sweeps' directories it reloads into a temporary directory
(the recorded runs stay untouched; the corpus is linked), renders the sweep
notebook of this checkout on the copy and counts the words outside tables,
figures, styles and scripts, as tests/experiments/report/test_report_html.py
does (issue 25: the full report's prose stays under 3,000 words). The crash
check of the Fault tolerance section runs again (a few seconds); nothing else does.
"""

import argparse
import json
import pathlib
import shutil
import sys
import tempfile

from bs4 import BeautifulSoup

from mrkit.experiments.report.export import REPO_ROOT, SWEEP_NOTEBOOK, execute_notebook, export_html


def prose_words(html):
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["table", "style", "script", "img", "svg"]):
        tag.decompose()
    return len(soup.get_text(" ").split())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=pathlib.Path, help="a results directory holding report.ipynb and its sweeps")
    parser.add_argument("--out", type=pathlib.Path, help="where to keep the HTML rendered again (default: not kept)")
    args = parser.parse_args(argv)
    results = args.results.resolve()
    executed = results / "report.ipynb"
    if not executed.is_file():
        parser.error(f"{executed} is not there: give the directory `make report` wrote (results/ by default)")
    params = json.loads(executed.read_text(encoding="utf-8"))["metadata"]["papermill"]["parameters"]
    with tempfile.TemporaryDirectory(prefix="mrkit-words-") as tmp:
        copy = pathlib.Path(tmp)
        for entry in results.iterdir():
            if entry.name == "corpus":
                (copy / "corpus").symlink_to(entry)
            elif entry.is_dir():
                shutil.copytree(entry, copy / entry.name, symlinks=True)
        params = json.loads(json.dumps(params).replace(str(results), str(copy)))
        params["results_dir"] = str(copy)
        notebook = copy / "again.ipynb"
        execute_notebook(SWEEP_NOTEBOOK, notebook, params, cwd=REPO_ROOT or copy)
        html = export_html(notebook, title=params.get("title", "report"))
    if args.out:
        args.out.write_text(html, encoding="utf-8")
    print(f"{prose_words(html)} words of prose outside tables ({results.name}, rendered by this checkout)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
