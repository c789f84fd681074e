"""`mrkit sequential`, the reference: an app that fails it, or a directory in its output's way, is one line."""

import pytest
from conftest import mrkit

APPS = {
    "raises": "def map(filename, contents):\n    raise ValueError('cannot digest')\n\n\n"
    "def reduce(key, values):\n    return ''\n",
    "returns_none": "def map(filename, contents):\n    pass\n\n\ndef reduce(key, values):\n    return ''\n",
    "triples": "def map(filename, contents):\n    return [('a', 'b', 'c')]\n\n\ndef reduce(key, values):\n    return ''\n",
    "yields_none": "def map(filename, contents):\n    yield ('a', '1')\n    yield None\n\n\n"
    "def reduce(key, values):\n    return ''\n",
    "reduce_raises": "def map(filename, contents):\n    return [(w, '1') for w in contents.split()]\n\n\n"
    "def reduce(key, values):\n    raise KeyError(key)\n",
}


@pytest.mark.parametrize(
    "app, code, message",
    [
        ("raises", 1, "mrkit sequential: job failed: map of a.txt: ValueError: cannot digest at raises.py:2 in map"),
        ("returns_none", 2, "mrkit sequential: error: map returned None (NoneType) for a.txt: it must return (key, value) pairs"),
        (
            "triples",
            2,
            "mrkit sequential: error: map returned ('a', 'b', 'c') (tuple) among its pairs for input a.txt: "
            "each must be a (key, value) pair",
        ),
        (
            "yields_none",
            2,
            "mrkit sequential: error: map returned None (NoneType) among its pairs for input a.txt: "
            "each must be a (key, value) pair",
        ),
        (
            "reduce_raises",
            1,
            "mrkit sequential: job failed: reduce of key 'one': KeyError: 'one' at reduce_raises.py:6 in reduce",
        ),
    ],
)
def test_an_app_that_fails_the_reference_is_one_line(tmp_path, app, code, message):
    """Each was a traceback; `mrkit run` already said the same in one line."""
    (tmp_path / f"{app}.py").write_text(APPS[app])
    (tmp_path / "a.txt").write_text("one two\n")
    result = mrkit("sequential", f"{app}.py", "a.txt", cwd=tmp_path)
    assert result.returncode == code and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip() == message
    assert not (tmp_path / "mr-out-0").exists()


def test_a_directory_where_its_output_goes_is_one_line_before_the_map(tmp_path):
    """It was found only when the output was written, after the whole map and reduce."""
    (tmp_path / "a.txt").write_text("one two\n")
    (tmp_path / "mr-out-0").mkdir()
    (tmp_path / "loud.py").write_text(
        "import sys\n\n\ndef map(filename, contents):\n    print('mapped', file=sys.stderr)\n    return []\n\n\n"
        "def reduce(key, values):\n    return ''\n"
    )
    result = mrkit("sequential", "loud.py", "a.txt", cwd=tmp_path)
    assert result.returncode == 2 and "mapped" not in result.stderr, result.stderr
    assert result.stderr.strip().endswith(
        f"{tmp_path}/mr-out-0 is a directory where the job writes a file: move it away, then run the job again"
    )
    assert not list((tmp_path / "mr-out-0").iterdir()) and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_it_does_not_write_beside_a_job_running_in_its_directory(tmp_path):
    """It wrote mr-out-0 into the directory of a running master's job, and exited 0."""
    from conftest import mrkit_popen, wait_until

    (tmp_path / "a.txt").write_text("one two\n")
    master = mrkit_popen("master", "a.txt", "--no-workers-timeout", "60", cwd=tmp_path)
    try:
        wait_until(lambda: (tmp_path / "mr-master.json").exists(), "the master to be ready")
        result = mrkit("sequential", "wc", "a.txt", cwd=tmp_path)
    finally:
        master.terminate()
        master.communicate(timeout=60)
    assert result.returncode == 2 and "is running a job in" in result.stderr, result.stderr
    assert not (tmp_path / "mr-out-0").exists()
    mrkit("sequential", "wc", "a.txt", cwd=tmp_path, check=True)  # once it has gone
    assert (tmp_path / "mr-out-0").read_text() == "one 1\ntwo 1\n"


def test_its_own_output_as_input_is_refused_and_kept(tmp_path):
    """It read mr-out-0, then replaced it with the result, and exited 0 (mrkit run refuses the same input)."""
    (tmp_path / "mr-out-0").write_text("one 1\n")
    for given in ("mr-out-0", "."):
        result = mrkit("sequential", "wc", given, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.strip().endswith(
            "is the reference's own output: copy it elsewhere, or run in another directory"
        )
    assert (tmp_path / "mr-out-0").read_text() == "one 1\n"
