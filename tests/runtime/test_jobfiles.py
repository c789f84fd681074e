"""The job's files as the master clears them: an earlier job's, never this job's inputs."""

import pytest
from conftest import mrkit


def _refused(result, name):
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and f"{name} is named as this job's own files are (mr-*, .mr-*.tmp)" in line, line


def test_an_earlier_job_s_output_given_as_input_is_refused_and_kept(tmp_path):
    """It used to be deleted as a stale output before the job read it: the input lost, then a traceback."""
    (tmp_path / "a.txt").write_text("one two two\n" * 50)
    mrkit("run", "wc", "a.txt", "-r", "2", "--workdir", "job", cwd=tmp_path, check=True)
    job = tmp_path / "job"
    before = {p.name: p.read_bytes() for p in job.glob("mr-out-*")}
    _refused(mrkit("run", "wc", "mr-out-0", "mr-out-1", "-r", "1", cwd=job), f"{job}/mr-out-0")
    assert {p.name: p.read_bytes() for p in job.glob("mr-out-*")} == before


def test_the_job_directory_as_its_own_input_directory_runs_once_then_is_refused(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "a.txt").write_text("one two two\n" * 50)
    mrkit("run", "wc", "d", "--workdir", "d", "-r", "2", cwd=tmp_path, check=True)
    outputs = {p.name: p.read_bytes() for p in data.glob("mr-*")}
    assert "mr-out-0" in outputs
    _refused(mrkit("run", "wc", "d", "--workdir", "d", "-r", "2", cwd=tmp_path), f"{data}/mr-0-0")
    assert {p.name: p.read_bytes() for p in data.glob("mr-*")} == outputs, "the first run's files are kept"


def test_a_failed_job_leaves_no_output_or_intermediate_file(tmp_path):
    """The reduce tasks that had finished left their mr-out-* behind a failed job, as if final."""
    (tmp_path / "app.py").write_text(
        "def map(filename, contents):\n    return [(w, '1') for w in contents.split()]\n\n\n"
        "def reduce(key, values):\n    if key == 'poison':\n        raise ValueError('poisoned')\n    return str(len(values))\n"
    )
    (tmp_path / "a.txt").write_text(" ".join(f"word{i}" for i in range(200)) + " poison\n")
    result = mrkit("run", "app.py", "a.txt", "-r", "4", "--max-attempts", "1", "--workdir", "job", cwd=tmp_path)
    assert result.returncode == 1 and "ValueError: poisoned" in result.stderr, result.stderr
    assert not [p.name for p in (tmp_path / "job").iterdir() if p.name.startswith("mr-")]
    assert not [p for p in (tmp_path / "job").iterdir() if p.name.endswith(".tmp")]


def _app_that_marks_its_maps(tmp_path):
    """An app whose every map call leaves a file in tmp_path/mapped: whether the job got as far as its map."""
    (tmp_path / "mapped").mkdir()
    (tmp_path / "marks.py").write_text(
        "import tempfile\n\n\n"
        f"def map(filename, contents):\n    tempfile.mkstemp(dir={str(tmp_path / 'mapped')!r})\n"
        "    return [(w, '1') for w in contents.split()]\n\n\n"
        "def reduce(key, values):\n    return str(len(values))\n"
    )
    return "marks.py"


@pytest.mark.parametrize("name", ["mr-out-1", "mr-0-1"])
def test_a_directory_where_an_output_goes_fails_the_job_before_its_map_in_one_line(tmp_path, name):
    """Each attempt's commit failed the same way: ten attempts, exit 1 and a line of 2,000 characters; then the
    first commit failed the job, after the whole map phase."""
    (tmp_path / "a.txt").write_text(" ".join(f"word{i}" for i in range(200)) + "\n")
    (tmp_path / "job" / name).mkdir(parents=True)
    app = _app_that_marks_its_maps(tmp_path)
    result = mrkit("run", app, "a.txt", "-r", "2", "--workdir", "job", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and line.count("is a directory") == 1, line
    assert line.endswith(
        f"{tmp_path}/job/{name} is a directory where the job writes a file: move it away, then run the job again"
    )
    assert sorted(p.name for p in (tmp_path / "job").iterdir() if p.name.startswith("mr-")) == [name]
    assert not list((tmp_path / "mapped").iterdir()), "no map ran"


def test_directories_named_as_files_a_job_of_fewer_reduces_does_not_write_are_left_alone(tmp_path):
    (tmp_path / "a.txt").write_text("one two two\n")
    for name in ("mr-out-2", "mr-0-2", "mr-out-notes"):
        (tmp_path / "job" / name).mkdir(parents=True)
    mrkit("run", "wc", "a.txt", "-r", "2", "--workdir", "job", cwd=tmp_path, check=True)
    assert sorted(p.name for p in (tmp_path / "job").iterdir() if p.is_dir()) == ["mr-0-2", "mr-out-2", "mr-out-notes"]


def test_a_hidden_leftover_name_given_as_input_is_refused_and_nothing_is_removed(tmp_path):
    """`.mr-notes.tmp` was removed as an attempt's leftover, with the earlier job's outputs, then a traceback."""
    (tmp_path / "a.txt").write_text("one two two\n" * 50)
    mrkit("run", "wc", "a.txt", "-r", "2", cwd=tmp_path, check=True)
    before = sorted(p.name for p in tmp_path.glob("mr-*"))
    (tmp_path / ".mr-notes.tmp").write_text("mine\n")
    _refused(mrkit("run", "wc", ".mr-notes.tmp", "-r", "2", cwd=tmp_path), f"{tmp_path}/.mr-notes.tmp")
    assert (tmp_path / ".mr-notes.tmp").read_text() == "mine\n" and sorted(p.name for p in tmp_path.glob("mr-*")) == before


def test_a_stale_master_file_in_the_job_directory_given_as_input_is_refused(tmp_path):
    """After a SIGKILLed master, the job directory as its own input directory mapped mr-master.json: its token
    became an output key."""
    (tmp_path / "a.txt").write_text("one two\n")
    (tmp_path / "mr-master.json").write_text('{"url": "http://127.0.0.1:1", "token": "secret", "pid": 1, "host": "x"}')
    _refused(mrkit("run", "wc", ".", "-r", "1", cwd=tmp_path), f"{tmp_path}/mr-master.json")


def test_inputs_that_only_look_like_job_files_run(tmp_path):
    """A link named like an output, to an input elsewhere (its removal leaves the input), and mr-smith.txt."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("one two two\n")
    job = tmp_path / "job"
    job.mkdir()
    (job / "mr-out-9").symlink_to(data / "a.txt")
    (job / "mr-smith.txt").write_text("three\n")
    mrkit("run", "wc", data / "a.txt", "mr-smith.txt", "-r", "1", cwd=job, check=True)
    assert (job / "mr-out-0").read_text() == "one 1\nthree 1\ntwo 2\n"
    assert (data / "a.txt").read_text() == "one two two\n" and not (job / "mr-out-9").exists()
