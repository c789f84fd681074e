"""Where a sweep's runs keep their job files: a RAM-backed directory with room, unless told otherwise, and recorded."""

import csv
import os

import pytest

from mrkit.backends import BACKENDS, get_backend
from mrkit.experiments.sweeps import scratch, sweep, sweep_config

pytestmark = pytest.mark.timeout(60)

SHM_IS_TMPFS = scratch.filesystem("/dev/shm") == "tmpfs"
needs_shm = pytest.mark.skipif(not SHM_IS_TMPFS, reason="this machine has no tmpfs at /dev/shm (macOS, some containers)")


def test_the_filesystem_of_a_path_is_its_longest_mount_point_s():
    if not scratch._mounts():
        pytest.skip("no /proc/self/mounts here: the filesystem is not told")
    assert scratch.filesystem("/proc/self") == "proc"  # below /, which has another type
    assert scratch.filesystem("/") not in (None, "proc")


def test_a_mount_point_with_a_space_is_read_as_the_kernel_escapes_it():
    assert scratch._OCTAL.sub(scratch._unescape, r"/mnt/my\040disk") == "/mnt/my disk"


@needs_shm
def test_a_ram_backed_directory_with_room_is_chosen(monkeypatch):
    monkeypatch.delenv("TMPDIR", raising=False)
    assert scratch.choose(None, 16 << 20) == "/dev/shm"


@needs_shm
def test_a_ram_backed_directory_without_room_for_the_runs_is_passed_over(monkeypatch):
    monkeypatch.delenv("TMPDIR", raising=False)
    free = os.statvfs("/dev/shm").f_bavail * os.statvfs("/dev/shm").f_frsize
    assert scratch.choose(None, free // scratch.ROOM_PER_INPUT_BYTE + 1) is None  # the system temp directory


def test_a_directory_on_disk_is_not_taken_for_memory(monkeypatch, tmp_path):
    monkeypatch.delenv("TMPDIR", raising=False)
    if scratch.filesystem(tmp_path) in scratch.RAM_FILESYSTEMS:
        pytest.skip("this machine's temp directory is itself in memory")
    monkeypatch.setattr(scratch, "RAM_DIRS", (str(tmp_path),))
    assert scratch.choose(None, 1) is None


def test_the_caller_s_directory_and_the_user_s_tmpdir_come_first(monkeypatch, tmp_path):
    assert scratch.choose(tmp_path, 1) == str(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert scratch.choose(None, 1) is None  # tempfile's default, which reads TMPDIR


def test_local_bytes_counts_the_files_a_job_reads_not_s3(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_bytes(b"x" * 10)
    (tmp_path / "d" / ".hidden").write_bytes(b"z" * 100)  # a job skips it, as it skips subdirectories
    (tmp_path / "b.txt").write_bytes(b"y" * 5)
    assert scratch.local_bytes([tmp_path / "d", str(tmp_path / "b.txt"), "s3://bucket/key"]) == 15
    assert scratch.local_bytes(["s3://bucket/key"]) == 0


def _quick_sweep(tmp_path, **run_options):
    cfg = sweep_config.load_sweep("map_sweep", quick=True, repeats=1, results_dir=str(tmp_path / "results"))
    out = sweep.run_sweep(cfg, tmp_path / "out", progress=False, **run_options)
    with open(out / "runs.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@needs_shm
def test_a_sweep_s_runs_keep_their_files_in_memory_and_say_so(monkeypatch, tmp_path):
    monkeypatch.delenv("TMPDIR", raising=False)
    made = []
    real = sweep.run_directory

    def watched(scratch):  # where each run's job directory is made
        made.append(scratch)
        return real(scratch)

    monkeypatch.setattr(sweep, "run_directory", watched)
    rows = _quick_sweep(tmp_path)
    assert rows and {row["scratch_fs"] for row in rows} == {"tmpfs"}
    assert set(made) == {"/dev/shm"}


def test_a_sweep_given_a_directory_runs_there_and_records_its_filesystem(tmp_path):
    where = tmp_path / "scratch"
    where.mkdir()
    rows = _quick_sweep(tmp_path, scratch=where)
    assert {row["scratch_fs"] for row in rows} == {scratch.filesystem(where) or ""}
    assert not list(where.iterdir())  # every run's directory removed after it


def test_runs_whose_job_files_go_to_s3_record_no_filesystem(monkeypatch, tmp_path):
    local = get_backend("local")
    monkeypatch.setitem(BACKENDS, "ecs", lambda app, inputs, **kw: local(app, inputs, **kw))  # its files: S3's
    cfg = sweep_config.load_sweep("map_sweep", quick=True, repeats=1, results_dir=str(tmp_path / "results"), backend="ecs")
    out = sweep.run_sweep(cfg, tmp_path / "out", progress=False, scratch=tmp_path)
    with open(out / "runs.csv", newline="", encoding="utf-8") as f:
        assert {row["scratch_fs"] for row in csv.DictReader(f)} == {""}
