"""The HTML report: the quick report built through papermill, read as a file and rendered in Chromium.

One quick report is built per module (the sweep notebook with the report's
plan and quick sweeps: about half a minute, most of it the crash app's run).
The browser test drives Debian's chromium through Playwright; it skips, saying
why, where either is missing.
"""

import base64
import re
import shutil
from html import unescape

import nbformat
import pytest
from conftest import CHROMIUM
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mrkit.experiments.report import export

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# A 1x1 PNG.
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


# The first test to ask for the report also waits for its build: minutes on a loaded machine (its sweeps
# beside another test's processes on two cores), past the suite's default timeout of 120 s.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    path = export.build_report(out, quick=True, progress=False, log=None)
    return path, path.read_text(encoding="utf-8")


@pytest.mark.notebook
def test_the_report_and_its_executed_notebook_are_written(report):
    path, html = report
    assert path.exists() and html.startswith("<!DOCTYPE html>")
    executed = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
    assert executed.metadata.papermill.parameters["quick"] is True
    assert list(path.parent.glob("map_sweep/*/runs.csv")) and list(path.parent.glob("pairs_indexer/*/runs.csv"))


@pytest.mark.notebook
def test_the_report_has_no_code(report):
    _, html = report
    assert not re.search(r'class="[^"]*\b(jp-InputArea|jp-CodeMirrorEditor|jp-InputPrompt)\b', html)
    for source in ("notebook_report", "display.show_sweep", "import ", "sweep_plan("):
        assert source not in html
    assert "notebook-only" not in html and "Run it from the repo root" not in html  # usage notes are left out


@pytest.mark.notebook
def test_the_report_embeds_its_figures_and_loads_nothing_from_outside(report):
    _, html = report
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= 8 and len(images) == html.count("<img ")
    assert 'alt="wc, R=5: end-to-end time vs map tasks M"' in html  # figure titles (with the configuration) as alt text
    assert all(base64.b64decode(i[:24])[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert not re.search(r"<script[^>]*\bsrc=", html), "no script file at all: the page must open offline"
    assert not re.search(r"<link[^>]*href=[\"']?(https?:)?//", html)


@pytest.mark.notebook
def test_the_report_answers_with_numbers(report):
    _, html = report
    for heading in (
        "Summary",
        "Question 1",
        "Question 2",
        "Question 3",
        "Question 4",
        "Mappers",
        "Stragglers",
        "The cost model",
        "Correctness",
        "wc at",
        "indexer at",
        "Fault tolerance",
    ):
        assert re.search(rf"<h[123][^>]*>{re.escape(heading)}", html), heading
    assert re.search(r"Fastest measured:</strong> M=\d+, R=\d+, W=\d+ at [0-9.]+ s", html)
    assert re.search(r"Amdahl's law", html) and "The output is exact: the same " in html
    assert re.search(r"\d+ map and \d+ reduce tasks took \d+ attempts", html)


PROSE_WORDS = 3000  # issue 25: the full report had 4,577 words of prose outside tables; a reader wants under 3,000


def prose_words(html):
    """The words a reader reads outside tables, figures, styles and scripts."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["table", "style", "script", "img", "svg"]):
        tag.decompose()
    return len(soup.get_text(" ").split())


@pytest.mark.notebook
def test_the_report_opens_with_a_summary_and_contents_whose_links_reach_their_sections(report):
    _, html = report
    assert html.index(">Summary") < html.index(">Contents") < html.index('<h2 id="Question-1')
    from urllib.parse import unquote

    links = [unquote(link) for link in re.findall(r'<a href="#([^"]+)"', html)]  # a browser decodes them too
    ids = {unescape(i) for i in re.findall(r'<h[1-4] id="([^"]+)"', html)}
    assert len(links) >= 10 and not [link for link in links if link not in ids]


@pytest.mark.notebook
def test_the_report_prose_outside_tables_stays_under_3000_words(report):
    _, html = report
    assert prose_words(html) < PROSE_WORDS


def test_export_drops_notebook_only_cells_widgets_and_cdn_scripts():
    nb = new_notebook(
        cells=[
            new_markdown_cell("usage notes", metadata={"tags": ["notebook-only"]}),
            new_code_cell("secret_source_line()", outputs=[new_output("display_data", data={"image/png": PIXEL})]),
            new_code_cell("x", outputs=[new_output("display_data", data={"text/markdown": "# Result 42"})]),
        ]
    )
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    html = export.export_html(nb, title="t")
    assert "usage notes" not in html and "secret_source_line" not in html
    assert f'src="data:image/png;base64,{PIXEL}' in html and "Result 42" in html
    assert not re.search(r"<script[^>]*\bsrc=", html) and "widget-state" not in html


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_the_report_renders_in_headless_chromium(report, tmp_path, sync_api):
    path, _ = report
    outside = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            page.goto(path.as_uri(), wait_until="load")
            sync_api.expect(page.get_by_role("heading", name=re.compile("MapReduce scaling report"))).to_be_visible()
            sync_api.expect(page.get_by_role("heading", name=re.compile("^Fault tolerance"))).to_be_visible()
            widths = page.evaluate("() => Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
            assert len(widths) >= 8 and min(widths) > 0, widths
            first = page.locator("img").first
            first.scroll_into_view_if_needed()
            assert first.bounding_box()["width"] > 200  # shown at a readable size, not collapsed
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 50_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert outside == [], f"the report fetched {outside}"
    shutil.copy(shot, path.parent / "report.png")  # next to the report, for a look when a run fails


# Each lab question's section: its heading, the sweep whose quick grid its table must hold.
QUESTION_GRIDS = {
    "Question 1": "map_sweep",
    "Question 2": "reduce_sweep",
    "Question 3": "pairs_wc",
    "Question 4": "pairs_indexer",
    "Mappers": "mappers",
}
# What prose must never show: code, internal names, column names, comparisons written as code.
INTERNALS = re.compile(
    r"\b(fit_cost_model|n_map|n_reduce|end_to_end_s|map_serial_sum_s|map_wall_s|cpu_count|"
    r"config_id|run_id|[a-z]+_[a-z_]+\(|import\s)|>=|<=|=="
)

SECTIONS_JS = """() => {
  const out = []; let cur = null;
  for (const el of document.querySelectorAll('h2, h3, p, li, table')) {
    if (el.tagName === 'H2') { cur = {title: el.innerText, tables: [], prose: [], last: null}; out.push(cur); continue; }
    if (!cur) continue;
    if (el.tagName === 'TABLE') {
      const head = Array.from(el.querySelectorAll('thead th')).map(th => th.innerText.trim());
      const rows = Array.from(el.querySelectorAll('tbody tr')).map(
        tr => Array.from(tr.querySelectorAll('td, th')).map(td => td.innerText.trim()));
      cur.tables.push({head, rows});
    } else {
      if (el.closest('table')) continue;
      cur.prose.push(el.innerText);
      cur.code = (cur.code || []).concat(Array.from(el.querySelectorAll('code')).map(c => c.innerText));
      cur.last = el.tagName === 'H3' ? el.innerText : (cur.last && cur.last.startsWith('Answer') ? cur.last : el.tagName);
    }
  }
  return out;
}"""


def _grid(name):
    from mrkit.experiments.sweeps.sweep_config import load_sweep

    return {(rc.n_map, rc.n_reduce) for rc in load_sweep(name, quick=True).configurations()}


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_the_rendered_report_has_every_question_its_grid_an_answer_and_no_code(report, sync_api):
    path, _ = report
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(path.as_uri(), wait_until="load")
            sections = page.evaluate(SECTIONS_JS)
        finally:
            browser.close()
    by_title = {next((q for q in QUESTION_GRIDS if s["title"].startswith(q)), s["title"]): s for s in sections}
    for question, sweep_name in QUESTION_GRIDS.items():
        section = by_title.get(question)
        assert section is not None, f"no section for {question}: {[s['title'] for s in sections]}"
        table = next(t for t in section["tables"] if t["head"][:2] == ["M", "R"])
        assert {(int(r[0]), int(r[1])) for r in table["rows"]} == _grid(sweep_name), question
        assert section["last"] and section["last"].startswith("Answer"), f"{question} has no answer"
        assert section["prose"][0].startswith("Answer"), f"{question} does not open with its answer"
        answer = "\n".join(section["prose"][section["prose"].index(section["last"]) :])
        assert re.search(r"Fastest measured: M=\d+, R=\d+, W=\d+ at [0-9.]+ s", answer)
        assert "What the runs hit" in answer
        # the model speaks only within the measurements' noise, and then as model output; else it says it misses
        assert "model output, not measured" in answer or "its terms are not shown" in answer
    assert any(s["title"].startswith("Stragglers") for s in sections)
    for s in sections:
        for text in s["prose"]:
            assert not INTERNALS.search(text), f"{s['title']}: {INTERNALS.search(text)[0]!r} in {text[:200]!r}"
        # Code spans in prose only for a command the reader can run, never for a name (e.g. a policy's).
        assert all(c.startswith("mrkit ") for c in s.get("code") or []), f"{s['title']}: code in prose {s['code']}"
        assert "s to " not in "".join(s["prose"]) or not re.search(r"from ([0-9.]+) s\S* to \1 s", " ".join(s["prose"]))
