"""The `make bench` harness (bench/): one --quick run on a tiny generated corpus, and its parts.

No timing thresholds: what is checked is that the harness writes its files,
that every implementation it ran produced the reference's counts, that ratios
are taken against the same run's baseline, that a missing peer is skipped with
a note, and that a wrong count is caught.
"""

import math
import os
import pathlib
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from mrbench import cli, corpus, impls, measure, report  # noqa: E402

pytestmark = pytest.mark.slow  # the harness's quick run, shared by the module, takes about 15 s

# Everything that needs no optional framework; the broken peer is registered by the fixture.
CORE = "sequential_cw,mp_pool,mp_pool_cw,mrkit_run,mrkit_run_study,mrkit_sequential,gnu_pipeline"


def _broken_peer():
    """A peer whose framework is not installed: it must be skipped with a note, not fail the run."""
    return impls.Impl(
        "broken_peer",
        impls._peer("plain_count.py", python="peer"),
        impls.parse_counts_file,
        requires_modules=("mrkit_bench_no_such_module",),
        interpreter="peer",
        optional=True,
    )


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One --quick run (corpus, same_function, scale, fixed) into a fresh results dir: (results, exit code, log lines)."""
    results = tmp_path_factory.mktemp("bench")
    lines = []
    impls.register(_broken_peer())
    try:
        code = cli.main(
            ["--quick", "--source", "synth", "--results", str(results), "--only", CORE + ",broken_peer"], log=lines.append
        )
    finally:
        del impls.REGISTRY["broken_peer"]
    return results, code, lines


def test_writes_csv_summary_chart_and_markdown(quick):
    results, code, _ = quick
    assert code == 0
    for name in ("bench.csv", "summary.csv", "bench.png", "bench.md"):
        assert (results / name).stat().st_size > 0, name
    runs = pd.read_csv(results / "bench.csv")
    for column in (
        "case",
        "impl",
        "repeat",
        "wall_s",
        "peak_rss_tree_mb",
        "peak_rss_max_proc_mb",
        "ok",
        "cpu_s",
        "busy_before",
        "mrkit_src",
    ):
        assert column in runs.columns
    assert set(runs["case"]) == {"corpus", "same_function", "scale", "fixed"}
    assert (runs["wall_s"] > 0).all()
    # Memory is sampled: a process the sampler never saw alive (over within milliseconds, or a loaded machine
    # kept the sampler from running until it had ended) is unmeasured (NaN), never 0 MB.
    for column in ("peak_rss_tree_mb", "peak_rss_max_proc_mb"):
        assert ((runs[column] > 0) | runs[column].isna()).all()
        assert (runs[runs["wall_s"] > 0.2][column] > 0).mean() >= 0.5  # most runs that last are seen


def test_every_implementation_produced_the_reference_counts(quick):
    results, _, _ = quick
    runs = pd.read_csv(results / "bench.csv")
    ran = set(runs[runs["case"] == "corpus"]["impl"])
    assert ran == {impls.BASELINE, *CORE.split(",")}
    assert runs["ok"].all(), runs[~runs["ok"]][["case", "impl", "note"]]
    comparable = runs[runs["impl"] != "gnu_pipeline"]
    assert (comparable["match"] == "yes").all()
    corpus_runs = runs[runs["case"] == "corpus"]
    assert corpus_runs["distinct_words"].nunique() == 1 or "gnu_pipeline" in set(corpus_runs["impl"])
    assert (runs[runs["case"] == "fixed"]["distinct_words"] == 0).all()
    assert (runs[runs["case"] == "scale"]["distinct_words"] == len(corpus.tiny_counts())).all()


def test_same_function_suite_alternates_mrkit_pool_and_sequential(quick):
    results, _, _ = quick
    runs = pd.read_csv(results / "bench.csv")
    same = runs[runs["case"] == "same_function"]
    assert set(same["impl"]) == {"mrkit_run", "mp_pool_cw", "sequential_cw"}
    assert sorted(same["repeat"].unique()) == [0, 1]  # --quick: 2 pairs
    assert (same["function"] == "count_words").all()
    first = same[same["repeat"] == 0]["impl"].tolist()
    assert same[same["repeat"] == 1]["impl"].tolist() == first[1:] + first[:1]  # rotated: A B C, B C A


def test_scale_suite_runs_the_asked_number_of_map_tasks(quick):
    results, _, _ = quick
    runs = pd.read_csv(results / "bench.csv")
    scale = runs[runs["case"] == "scale"]
    assert sorted(scale["mr_n_map"]) == [50, 200] and (scale["mr_n_reduce"] == 10).all()
    assert (scale["master_cpu_s"] > 0).all()
    md = (results / "bench.md").read_text()
    for heading in ("Runtime overhead, same map function", "Tokenizer speed", "**Scale**", "**Fixed cost**"):
        assert heading in md, heading


def test_peer_map_function_is_chosen_by_the_environment(tmp_path):
    script = "import counting; print(counting.count_text.__module__, counting.FUNCTIONS[counting.NAME].__name__)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(impls.PEERS), str(ROOT)])}
    for name, fn in (("plain", "count_text"), ("count_words", "mrkit_text")):
        out = subprocess.run(
            [sys.executable, "-c", script], env={**env, "MRBENCH_COUNT": name}, capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == ["counting", fn]
    bad = subprocess.run([sys.executable, "-c", script], env={**env, "MRBENCH_COUNT": "nope"}, capture_output=True, text=True)
    assert bad.returncode != 0 and "MRBENCH_COUNT='nope'" in bad.stderr
    # and the two functions agree on the isalpha definition, so either peer variant checks against one reference
    sample = tmp_path / "s.txt"
    sample.write_bytes("x²y café don't Ⅻabc snake_case \xff".encode() + b"\xffbad")
    outs = []
    for name in ("plain", "count_words"):
        out = tmp_path / f"{name}.txt"
        subprocess.run(
            [sys.executable, str(impls.PEERS / "plain_count.py"), str(out), str(sample)],
            env={**env, "MRBENCH_COUNT": name},
            check=True,
        )
        outs.append(out.read_text())
    assert outs[0] == outs[1] and "café 1" in outs[0]


def test_ratios_are_against_the_same_runs_baseline(quick):
    results, _, _ = quick
    runs = pd.read_csv(results / "bench.csv")
    summary = pd.read_csv(results / "summary.csv")
    done = summary[summary["runs"] > 0]
    for row in done[done["case"].isin(runs[runs["impl"] == impls.BASELINE]["case"])].itertuples():
        case_runs = runs[runs["case"] == row.case]
        base = case_runs[case_runs["impl"] == impls.BASELINE]["wall_s"].median()
        mine = case_runs[case_runs["impl"] == row.impl]["wall_s"].median()
        assert row.wall_ratio == pytest.approx(mine / base)
    assert (done[done["impl"] == impls.BASELINE]["wall_ratio"] == 1.0).all()


def test_missing_peer_is_skipped_with_a_note(quick):
    results, _, lines = quick
    summary = pd.read_csv(results / "summary.csv")
    row = summary[(summary["impl"] == "broken_peer") & (summary["case"] == "corpus")].iloc[0]
    assert row["runs"] == 0 and "skipped" in row["note"] and "mrkit_bench_no_such_module" in row["note"]
    assert any("broken_peer: skipped" in line for line in lines)
    assert "broken_peer" not in set(pd.read_csv(results / "bench.csv")["impl"])
    assert "skipped" in (results / "bench.md").read_text()


def test_targets_are_reported(quick):
    _, _, lines = quick
    text = "\n".join(lines)
    assert "targets:" in text and "study config" in text
    for name in ("same function: mrkit run vs Pool(W)", "scale: master CPU per task flat", "fixed cost"):
        assert name in text, name


def test_a_wrong_count_is_caught_and_fails_the_run(tmp_path, monkeypatch):
    def lying_parse(outdir):
        counts = impls.parse_counts_file(outdir)
        counts["the"] = counts.get("the", 0) + 1
        return counts

    monkeypatch.setitem(impls.REGISTRY, "liar", impls.Impl("liar", impls._peer("plain_count.py"), lying_parse))
    lines = []
    code = cli.main(
        [
            "--quick",
            "--source",
            "synth",
            "--results",
            str(tmp_path),
            "--suites",
            "corpus",
            "--only",
            "liar",
            "--no-chart",
            "--corpus-cache",
            str(tmp_path / "c"),
        ],
        log=lines.append,
    )
    assert code == 1
    runs = pd.read_csv(tmp_path / "bench.csv")
    liar = runs[runs["impl"] == "liar"].iloc[0]
    assert not liar["ok"] and liar["match"] == "no" and "'the'" in liar["note"]
    assert any("COUNTS DIFFER" in line for line in lines)


def test_measure_sees_the_whole_process_tree(tmp_path):
    # A parent that starts a child holding ~80 MB: the tree peak and the largest process both see it.
    script = textwrap.dedent("""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(80 * 2**20); time.sleep(0.5)"])
        child.wait()
    """)
    m = measure.run([sys.executable, "-c", script], cwd=tmp_path, stdout_path=tmp_path / "out", stderr_path=tmp_path / "err")
    assert m.returncode == 0
    assert m.peak_rss_max_proc_mb > 80
    assert m.peak_rss_tree_mb > 80
    assert m.max_procs >= 2


def test_measure_kills_the_tree_on_timeout(tmp_path):
    m = measure.run(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        cwd=tmp_path,
        stdout_path=tmp_path / "out",
        stderr_path=tmp_path / "err",
        timeout=0.5,
    )
    assert m.timed_out and m.returncode != 0


def test_repeated_books_corpus_is_cached_and_cut_at_line_breaks(tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    (books / "a.txt").write_text("alpha beta\ngamma\n" * 50)
    (books / "b.txt").write_text("delta épsilon\n" * 40)
    files = corpus.repeated_books(tmp_path / "cache", 3, 5000, books=books)
    assert len(files) == 3
    for path in files:
        data = pathlib.Path(path).read_bytes()
        assert 4000 < len(data) <= 5000 and data.endswith(b"\n")
    assert pathlib.Path(files[0]).read_bytes() != pathlib.Path(files[1]).read_bytes()  # rotated starts
    mtimes = [os.path.getmtime(f) for f in files]
    assert corpus.repeated_books(tmp_path / "cache", 3, 5000, books=books) == files
    assert [os.path.getmtime(f) for f in files] == mtimes


def test_plain_count_matches_the_isalpha_definition(tmp_path):
    sample = tmp_path / "s.txt"
    sample.write_bytes("x²y café don't 1990s Ⅻabc snake_case \xff".encode() + b"\xffbad")
    out = tmp_path / "counts.txt"
    subprocess.run([sys.executable, str(impls.PEERS / "plain_count.py"), str(out), str(sample)], check=True)
    counts = impls.parse_counts_file(tmp_path)
    text = sample.read_bytes().decode("utf-8", "replace")
    expected = {}
    word = ""
    for ch in text + " ":
        if ch.isalpha():
            word += ch
        elif word:
            expected[word] = expected.get(word, 0) + 1
            word = ""
    assert counts == expected


def _row(case, impl, wall, proc=30, repeat=0, **extra):
    return {
        "case": case,
        "impl": impl,
        "repeat": repeat,
        "wall_s": wall,
        "peak_rss_tree_mb": proc * 2,
        "peak_rss_max_proc_mb": proc,
        "ok": True,
        "match": "yes",
        "returncode": 0,
        "max_fds": 9,
        "input_mb": 1.0,
        "settings": "",
        "note": "",
        "cpu_s": wall,
        "busy_before": 0.0,
        "load1": 1.0,
        **extra,
    }


def test_targets_pass_and_fail_on_a_made_up_summary():
    rows = [
        _row("corpus", "python_sequential", 10.0, 100),
        _row("corpus", "mrkit_run", 5.0, 150),
        _row("corpus", "mrkit_run_study", 8.0, 150),
        _row("books", "python_sequential", 1.0, 20),
        _row("books", "mrkit_run", 1.5),
    ]
    for k, (mrkit, pool, seq) in enumerate([(5.0, 5.0, 10.0), (5.2, 5.0, 10.0), (4.8, 5.0, 10.0)]):
        rows += [
            _row("same_function", "mrkit_run", mrkit, repeat=k, mr_end_to_end_s=mrkit - 0.2),
            _row("same_function", "mp_pool_cw", pool, repeat=k),
            _row("same_function", "sequential_cw", seq, repeat=k),
        ]
    # the jobs themselves 1.02x local's; the rest of the dask processes' time is outside them (imports, exit)
    rows += [
        _row("same_function", "mrkit_run_dask", w, repeat=k, mr_end_to_end_s=(local - 0.2) * 1.02)
        for k, (w, local) in enumerate(((5.4, 5.0), (5.5, 5.2), (5.0, 4.8)))
    ]
    # master CPU: 0.2 s fixed + 100 µs per task up to 10k, then 300 µs per task (not flat)
    for n, wall, master in [(1000, 1.0, 0.301), (10000, 5.0, 1.201), (100000, 60.0, 28.201)]:
        rows.append(_row("scale", f"mrkit_run_m{n}", wall, mr_n_map=n, mr_n_reduce=10, master_cpu_s=master))
    rows += [_row("fixed", "mrkit_run", w, repeat=k) for k, w in enumerate((0.15, 0.18, 0.25))]
    runs = report.runs_frame(rows)
    for column in ("mr_n_map", "mr_n_reduce", "master_cpu_s", "mr_end_to_end_s"):
        runs[column] = [r.get(column) for r in rows]
    goals = {t.name.split(",")[0].split(" (")[0]: t for t in report.targets(report.summarize(runs), runs)}
    status = {name: t.status for name, t in goals.items()}
    assert status == {
        "same function: mrkit run vs Pool(W) running count_words": "PASS",  # pairs 1.00, 1.04, 0.96: median 1.00
        "same function: mrkit run vs count_words run sequentially": "PASS",  # 0.50
        "same function: mrkit run --backend dask vs local": "PASS",  # 1.08, 1.06, 1.04: median 1.06
        "mrkit run wall vs sequential count": "FAIL",  # books 1.5x
        "scale: 10": "PASS",
        "scale: 100": "FAIL",  # 5 s; 60 / 5 = 12x
        "scale: master CPU per task flat": "FAIL",  # marginal 100 -> 300 µs
        "fixed cost: mrkit run wc on one empty file": "PASS",  # median 0.18 s
        "peak RSS of any one mrkit process": "PASS",
        "peak RSS of one process": "N/A",
        "study config": "PASS",
    }, status
    assert "1.00× (range 0.96–1.04, 3 pairs)" in goals["same function: mrkit run vs Pool(W) running count_words"].measured
    dask = goals["same function: mrkit run --backend dask vs local"].measured
    assert dask.startswith("1.06× (range 1.04–1.08, 3 pairs); the jobs' own end to end 1.02× (range 1.02–1.02, 3 pairs)")
    assert "100 → 300 µs/task" in goals["scale: master CPU per task flat"].measured


def test_paired_ratios_are_taken_within_a_round():
    rows = [_row("c", "a", wa, repeat=k) for k, wa in enumerate((2.0, 4.0, 3.0))]
    rows += [_row("c", "b", wb, repeat=k) for k, wb in enumerate((1.0, 4.0, 1.0))]
    rows.append(_row("c", "a", 9.0, repeat=3))  # no partner in round 3: left out
    ratio = report.paired(report.runs_frame(rows), "c", "a", "b")
    assert (ratio.median, ratio.low, ratio.high, ratio.pairs) == (2.0, 1.0, 3.0, 3)
    assert report.paired(report.runs_frame(rows), "c", "a", "missing") is None


def test_a_change_of_mrkit_source_mid_run_is_flagged():
    runs = report.runs_frame([{"case": "corpus", "impl": "mrkit_run", "mrkit_src": v} for v in ("aaa", "aaa")])
    assert report.source_warning(runs) == ""
    runs.loc[1, "mrkit_src"] = "bbb"
    assert "2 versions" in report.source_warning(runs)


def test_rebuild_makes_the_same_tables_from_bench_csv(quick, tmp_path):
    results, _, _ = quick
    (tmp_path / "bench.csv").write_bytes((results / "bench.csv").read_bytes())
    lines = []
    assert cli.main(["--rebuild", "--results", str(tmp_path), "--no-chart"], log=lines.append) == 0
    rebuilt, original = (tmp_path / "bench.md").read_text(), (results / "bench.md").read_text()
    for heading in ("Runtime overhead, same map function", "**Scale**", "**Fixed cost**", "same function: mrkit run"):
        assert heading in rebuilt
    assert rebuilt.split("**Runtime overhead")[1] == original.split("**Runtime overhead")[1]


@pytest.mark.timeout(600)
def test_same_function_runs_dask_and_dask_tasks_beside_local(tmp_path):
    """`make bench` puts both dask backends (a LocalCluster each) beside local, as ratios of one alternating run."""
    pytest.importorskip("distributed", reason="the dask extra is not installed (make setup installs it)")
    lines = []
    code = cli.main(
        [
            "--quick",
            "--source",
            "synth",
            "--results",
            str(tmp_path),
            "--suites",
            "same_function",
            "--only",
            "mrkit_run,mrkit_run_dask,mrkit_run_dask_tasks,mp_pool_cw,sequential_cw",
        ],
        log=lines.append,
    )
    assert code == 0, "\n".join(lines)
    runs = pd.read_csv(tmp_path / "bench.csv")
    same = runs[runs["case"] == "same_function"]
    assert {"mrkit_run", "mrkit_run_dask", "mrkit_run_dask_tasks"} <= set(same["impl"])
    assert same["ok"].all(), same[~same["ok"]][["impl", "note"]]
    md = (tmp_path / "bench.md").read_text()
    assert "× mrkit run (local)" in md and "mrkit run --backend dask vs local" in md


def test_a_process_never_seen_alive_has_unmeasured_memory_not_zero(tmp_path):
    m = measure.run(["true"], cwd=tmp_path, stdout_path=tmp_path / "out", stderr_path=tmp_path / "err", interval=0.001)
    # `true` may be seen (a positive figure) or be over before the first look (NaN): never 0 MB
    assert m.returncode == 0 and (m.peak_rss_tree_mb > 0 or math.isnan(m.peak_rss_tree_mb))
    assert m.peak_rss_max_proc_mb > 0 or math.isnan(m.peak_rss_max_proc_mb)
