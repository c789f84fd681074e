"""Output checked against the sequential reference: unique keys, missing, extra, different."""

from mrkit.app import load_app
from mrkit.job import resolve_inputs
from mrkit.storage.local import LocalStorage
from mrkit.verify import compare, output_pairs, read_outputs, verify


def test_compare_names_each_kind_of_difference():
    checked = compare({"alpha": "2", "beta": "1", "gamma": "5"}, {"alpha": "2", "gamma": "4", "gam": "1"})
    assert (checked.expected, checked.found) == (3, 3)
    assert (checked.missing, checked.extra, checked.different) == (["beta"], ["gam"], ["gamma"])
    assert not checked.ok
    assert "missing 1, extra 1, different 1: NOT equal" in checked.line() and "'beta'" in checked.line()


def test_a_job_cut_at_word_borders_equals_the_sequential_run(tmp_path):
    from mrkit.backends.local import run_job

    (tmp_path / "a.txt").write_text("the cat sat on the mat\n" * 200 + "unbroken words only\n")
    run_job("wc", [str(tmp_path / "a.txt")], n_map=7, n_reduce=3, workers=2, workdir=tmp_path / "job")
    checked = verify(load_app("wc"), resolve_inputs([str(tmp_path / "a.txt")]), LocalStorage(tmp_path / "job"))
    assert checked.ok and checked.expected == checked.found == 8
    assert checked.line().endswith("equal to the sequential run")


def test_a_lost_word_is_reported_as_missing(tmp_path):
    (tmp_path / "a.txt").write_text("one two three\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mr-out-0").write_text("one 1\nthr 1\ntwo 1\n")  # "three" cut in two, one half lost
    checked = verify(load_app("wc"), resolve_inputs([str(tmp_path / "a.txt")]), LocalStorage(tmp_path / "out"))
    assert (checked.missing, checked.extra) == (["three"], ["thr"])


def test_output_pairs_reads_every_mr_out_in_name_order_and_keeps_duplicates(tmp_path):
    (tmp_path / "mr-out-1").write_text("b 2\nc\n")
    (tmp_path / "mr-out-0").write_text("a 1 x\nb 3\n")
    (tmp_path / ".mr-out-2.abc.tmp").write_text("z 9\n")  # an attempt still writing: not an output
    (tmp_path / "mr-0-1").write_text("a\t1\n")  # an intermediate file: not an output
    assert list(output_pairs(tmp_path)) == [("a", "1 x"), ("b", "3"), ("b", "2"), ("c", "")]
    assert list(output_pairs(str(tmp_path))) == list(output_pairs(LocalStorage(tmp_path)))
    assert read_outputs(tmp_path) == {"a": "1 x", "b": "3", "c": ""}


def test_compare_counts_keys_written_twice_and_compares_as_text():
    checked = compare({"a": "1", "b": 2}, [("a", "1"), ("b", " 2"), ("b", "2")])
    assert (checked.missing, checked.extra, checked.different, checked.duplicate) == ([], [], [], 1)
    assert not checked.ok and "emitted twice 1" in checked.line()
    assert compare({"a": 1}, {"a": "1\n"}).ok
