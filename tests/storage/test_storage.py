"""One contract, two implementations: every test here runs on LocalStorage and S3Storage.

The runtime (tasks, split, master) only relies on what these tests pin
down, so a job behaves the same on a local directory and on S3.
"""

import os
import pickle
import signal
import time

import pytest
from conftest import app_path, mrkit, mrkit_popen

from mrkit.storage import open_storage
from mrkit.storage.base import Storage

TEXT = "héllo wörld € 𝄞 end"  # 1-, 2-, 3- and 4-byte UTF-8 characters
DATA = TEXT.encode("utf-8")


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        from mrkit.storage.local import LocalStorage

        return LocalStorage(tmp_path / "store")
    return request.getfixturevalue("s3_storage")  # starts moto only when an s3 case runs


def _reopen(storage):
    """The storage rebuilt from its URL, as a worker in another process would."""
    options = {"endpoint_url": storage.endpoint_url} if hasattr(storage, "endpoint_url") else {}
    return open_storage(storage.url, **options)


def test_implements_the_interface(storage):
    assert isinstance(storage, Storage)


def test_write_and_read_back_bytes(storage):
    storage.write_bytes("mr-0-0", DATA)
    assert storage.exists("mr-0-0")
    assert storage.size("mr-0-0") == len(DATA)
    assert storage.read_range("mr-0-0", 0, len(DATA)) == DATA


def test_read_bytes_reads_it_all_and_a_missing_name_is_file_not_found(storage):
    storage.write_bytes("mr-status.json", DATA)
    assert storage.read_bytes("mr-status.json") == DATA
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("mr-nothing")


def test_read_url_reads_one_file_by_its_url(storage, monkeypatch):
    from mrkit.storage import read_url

    if getattr(storage, "endpoint_url", None):  # a URL carries no endpoint: a process finds it in its environment
        monkeypatch.setenv("AWS_ENDPOINT_URL", storage.endpoint_url)
    storage.write_bytes("secret/mr-token", b"t0ken\n")
    assert read_url(storage.path("secret/mr-token")) == b"t0ken\n"


def test_write_bytes_replaces_the_whole_object(storage):
    storage.write_bytes("a", b"a much longer first version\n")
    storage.write_bytes("a", b"short\n")
    assert storage.read_range("a", 0, 100) == b"short\n"
    assert storage.size("a") == 6


def test_empty_object(storage):
    storage.write_bytes("empty", b"")
    assert storage.exists("empty") and storage.size("empty") == 0
    assert storage.read_range("empty", 0, 0) == b""
    with storage.open_lines("empty") as f:
        assert list(f) == []


@pytest.mark.parametrize("start,end", [(0, 1), (1, 3), (6, 8), (13, 16), (16, 20), (5, len(DATA))])
def test_read_range_is_start_inclusive_end_exclusive(storage, start, end):
    storage.write_bytes("utf8", DATA)
    assert storage.read_range("utf8", start, end) == DATA[start:end]


def test_read_range_can_cut_a_multibyte_character(storage):
    storage.write_bytes("utf8", DATA)
    euro = DATA.index("€".encode())
    assert storage.read_range("utf8", euro, euro + 2) == "€".encode()[:2]
    joined = storage.read_range("utf8", 0, euro + 1) + storage.read_range("utf8", euro + 1, len(DATA))
    assert joined.decode("utf-8") == TEXT


def test_read_range_edges(storage):
    storage.write_bytes("obj", b"0123456789")
    assert storage.read_range("obj", 3, 3) == b""  # empty range
    assert storage.read_range("obj", 5, 2) == b""  # reversed range
    assert storage.read_range("obj", 7, 10) == b"789"  # up to the end
    assert storage.read_range("obj", 7, 50) == b"789"  # past the end: what is there
    assert storage.read_range("obj", 10, 20) == b""  # starting at the end
    assert storage.read_range("obj", 15, 20) == b""  # starting past the end


def test_empty_range_does_not_need_the_object(storage):
    assert storage.read_range("missing", 4, 4) == b""


def test_missing_names_raise_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage.size("missing")
    with pytest.raises(FileNotFoundError):
        storage.read_range("missing", 0, 10)
    with pytest.raises(FileNotFoundError):
        storage.open_lines("missing")
    assert not storage.exists("missing")


def test_open_lines_splits_on_newline_only(storage):
    text = "key\rwith cr\tv1\nsecond\r\n€ ünïcödé 𝄞\tv\n\nno newline at end"
    storage.write_bytes("mr-1-2", text.encode("utf-8"))
    f = storage.open_lines("mr-1-2")
    try:
        lines = list(f)
    finally:
        f.close()
    assert lines == ["key\rwith cr\tv1\n", "second\r\n", "€ ünïcödé 𝄞\tv\n", "\n", "no newline at end"]


def test_open_lines_is_a_context_manager_and_closable_early(storage):
    storage.write_bytes("lines", b"a\nb\nc\n")
    with storage.open_lines("lines") as f:
        assert next(iter(f)) == "a\n"
    assert f.closed


def test_open_lines_streams_a_large_object(storage):
    # ~4 MiB with 3-byte characters, so decoder chunk borders fall inside characters.
    lines = [f"{i:07d} żółć € naïve\r{'x' * (i % 50)}\n" for i in range(80_000)]
    storage.write_bytes("big", "".join(lines).encode("utf-8"))
    assert storage.size("big") > 4_000_000
    count = 0
    with storage.open_lines("big") as f:
        for expected, line in zip(lines, f, strict=True):
            assert line == expected
            count += 1
    assert count == len(lines)


def test_many_line_streams_open_at_once(storage):
    # A reduce task merges one stream per map task, all open together.
    for m in range(12):
        storage.write_bytes(f"mr-{m}-0", "".join(f"k{i}\t{m}\n" for i in range(300)).encode())
    files = [storage.open_lines(f"mr-{m}-0") for m in range(12)]
    try:
        for i in range(300):
            assert [next(f) for f in files] == [f"k{i}\t{m}\n" for m in range(12)]
        assert all(next(f, None) is None for f in files)
    finally:
        for f in files:
            f.close()


def test_atomic_writer_writes_on_success(storage):
    with storage.atomic_writer("mr-out-0") as out:
        out.write(b"apple 3\n")
        out.write("pêche 1\n".encode())
        assert not storage.exists("mr-out-0")  # nothing visible while the block runs
        assert storage.list("") == []  # not even a temporary file
    assert storage.read_range("mr-out-0", 0, 100) == "apple 3\npêche 1\n".encode()


def test_atomic_writer_leaves_nothing_when_the_block_raises(storage):
    with pytest.raises(RuntimeError):
        with storage.atomic_writer("mr-out-1") as out:
            out.write(b"partial output\n")
            raise RuntimeError("worker died mid-write")
    assert not storage.exists("mr-out-1")
    assert storage.list("") == []


def test_atomic_writer_failure_keeps_the_previous_object(storage):
    storage.write_bytes("mr-out-2", b"old complete output\n")
    with pytest.raises(RuntimeError):
        with storage.atomic_writer("mr-out-2") as out:
            out.write(b"new")
            raise RuntimeError("boom")
    assert storage.read_range("mr-out-2", 0, 100) == b"old complete output\n"


def test_atomic_writer_replaces_an_existing_object_whole(storage):
    storage.write_bytes("mr-out-3", b"x" * 1000)
    with storage.atomic_writer("mr-out-3") as out:
        out.write(b"retry\n")
    assert storage.size("mr-out-3") == 6
    assert storage.read_range("mr-out-3", 0, 1000) == b"retry\n"


def test_atomic_writer_handles_objects_bigger_than_one_part(storage):
    # 9 MiB: past S3Storage's spool size and boto3's multipart threshold.
    block = bytes(range(256)) * 4096
    with storage.atomic_writer("large") as out:
        for _ in range(9):
            out.write(block)
    assert storage.size("large") == 9 * len(block)
    assert storage.read_range("large", 8 * len(block) - 3, 8 * len(block) + 3) == block[-3:] + block[:3]


def test_list_is_sorted_and_filtered_by_prefix(storage):
    names = ["mr-out-1", "mr-0-1", "other.txt", "mr-out-0", "mr-0-0", "inputs/b/c.txt", "inputs/a.txt", "mr-1-0"]
    for name in names:
        storage.write_bytes(name, name.encode())
    assert storage.list() == sorted(names)
    assert storage.list("") == sorted(names)
    assert storage.list("mr-") == ["mr-0-0", "mr-0-1", "mr-1-0", "mr-out-0", "mr-out-1"]
    assert storage.list("mr-out-") == ["mr-out-0", "mr-out-1"]
    assert storage.list("inputs/") == ["inputs/a.txt", "inputs/b/c.txt"]
    assert storage.list("inp") == ["inputs/a.txt", "inputs/b/c.txt"]
    assert storage.list("nothing") == []
    assert storage.read_range("inputs/b/c.txt", 0, 100) == b"inputs/b/c.txt"


def test_temporary_names_are_readable_but_never_listed(storage):
    # A reduce's merge runs (.mr-run-...tmp) live in the storage like any file, hidden from list().
    storage.write_bytes(".mr-run-0-ab12-0-0.tmp", b"k\tv\n")
    storage.write_bytes("inputs/.x.tmp", b"")
    storage.write_bytes("mr-0-0", b"k\tv\n")
    assert storage.list("") == ["mr-0-0"]
    assert storage.list(".mr-") == []
    assert storage.read_bytes(".mr-run-0-ab12-0-0.tmp") == b"k\tv\n"
    storage.remove(".mr-run-0-ab12-0-0.tmp")
    assert not storage.exists(".mr-run-0-ab12-0-0.tmp")


def test_exists_and_remove(storage):
    storage.write_bytes("mr-0-0", b"k\tv\n")
    assert storage.exists("mr-0-0")
    storage.remove("mr-0-0")
    assert not storage.exists("mr-0-0")
    assert storage.list("") == []
    storage.remove("mr-0-0")  # removing a missing name is fine
    storage.remove("never-written")


def test_path_names_the_object(storage):
    assert storage.path("mr-out-0").endswith("mr-out-0")
    assert storage.path("inputs/a.txt").endswith("inputs/a.txt")


def test_url_reopens_the_same_storage(storage):
    storage.write_bytes("mr-out-0", b"same\n")
    again = _reopen(storage)
    assert type(again) is type(storage)
    assert again.url == storage.url
    assert again.read_range("mr-out-0", 0, 10) == b"same\n"


def test_storage_survives_pickling(storage):
    # Local workers may receive the storage through multiprocess (spawn, dill).
    storage.write_bytes("mr-0-0", b"k\tv\n")
    copy = pickle.loads(pickle.dumps(storage))
    assert copy.read_range("mr-0-0", 0, 10) == b"k\tv\n"
    copy.write_bytes("mr-0-1", b"x")
    assert storage.list("mr-") == ["mr-0-0", "mr-0-1"]


def test_check_accepts_a_usable_storage(storage):
    storage.write_bytes("x", b"x")
    storage.check()


# ---- leftovers: what a killed writer leaves is found by the sweeps (real processes) ----------------


def _hidden(directory):
    return sorted(n for n in os.listdir(directory) if n.startswith(".") and n != ".mr-master.lock")


def _wait_for_output_being_written(directory, process):
    deadline = time.monotonic() + 60
    while not [n for n in os.listdir(directory) if n.startswith("..mr-out-0.") and n.endswith(".tmp")]:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the reduce never opened its output"
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_a_reduce_output_killed_mid_write_is_swept_by_the_next_job(corpus, tmp_path):
    """SIGKILL of everything while a reduce writes mr-out-0 leaves `..mr-out-0.<run>.a1.tmp.<hex>.tmp`."""
    run = mrkit_popen("run", app_path("stallreduce"), "-r", "1", "-w", "1", *corpus[:2], cwd=tmp_path)
    _wait_for_output_being_written(tmp_path, run)
    os.kill(run.pid, signal.SIGKILL)  # its worker dies with it (PDEATHSIG)
    run.communicate(timeout=30)
    assert _hidden(tmp_path), "the killed writer's file is there to sweep"
    mrkit("run", "wc", "-r", "1", *corpus[:2], cwd=tmp_path, check=True)
    assert _hidden(tmp_path) == []


@pytest.mark.timeout(120)
def test_a_master_stopped_sweeps_the_file_its_killed_worker_was_writing(corpus, tmp_path):
    master = mrkit_popen("master", "-r", "1", *corpus[:2], cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / "mr-master.json").exists():
        assert master.poll() is None and time.monotonic() < deadline, master.communicate()
        time.sleep(0.05)
    worker = mrkit_popen("worker", app_path("stallreduce"), cwd=tmp_path)
    _wait_for_output_being_written(tmp_path, worker)
    worker.kill()
    worker.communicate(timeout=30)
    master.send_signal(signal.SIGTERM)
    master.communicate(timeout=30)
    assert _hidden(tmp_path) == []
