"""storage/local.py: atomic_file (the one temp-file-then-rename helper) and what LocalStorage lists."""

import os
import stat

import pytest

from mrkit.storage.local import LocalStorage, atomic_file, write_atomic


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_file_appears_whole_with_the_umask_applied(tmp_path):
    umask = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.txt", "é\n", fsync=True)
        write_atomic(tmp_path / "sub" / "b", b"x", mode=0o600)
    finally:
        os.umask(umask)
    assert (tmp_path / "a.txt").read_bytes() == "é\n".encode()
    assert _mode(tmp_path / "a.txt") == 0o644 and _mode(tmp_path / "sub" / "b") == 0o600
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b", "sub"]


def test_a_failed_block_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as f:
        f.write(b"half")
        assert LocalStorage(tmp_path).list() == ["out"], "the temporary file is not listed"
        raise RuntimeError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_run_with_a_storage_directory_other_than_the_workdir(corpus, tmp_path):
    """`mrkit run --storage /abs/dir`: workers write where the master publishes, nothing lands in the cwd."""
    from conftest import mrkit, sorted_outputs

    (tmp_path / "ref").mkdir()
    mrkit("sequential", "wc", *corpus[:4], cwd=tmp_path / "ref", check=True)
    (tmp_path / "cwd").mkdir()
    store = tmp_path / "store"
    result = mrkit("run", "wc", "-r", "3", "-w", "2", "--storage", store, *corpus[:4], cwd=tmp_path / "cwd")
    assert result.returncode == 0, result.stderr
    assert sorted_outputs(store) == sorted_outputs(tmp_path / "ref")
    assert os.listdir(tmp_path / "cwd") == []
    assert sorted(n for n in os.listdir(store) if n.startswith(".mr-") and n != ".mr-master.lock") == []


def test_directories_are_the_root_s_own_by_prefix_not_links_or_files(tmp_path):
    (tmp_path / "mr-out-1").mkdir()
    (tmp_path / "mr-out-1" / "mr-out-2").mkdir()  # not directly under the root
    (tmp_path / "mr-0-1").write_text("a file\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "mr-out-3").symlink_to(tmp_path / "elsewhere")  # a rename onto a link replaces the link
    assert LocalStorage(tmp_path).directories("mr-") == ["mr-out-1"]
    assert LocalStorage(tmp_path).directories() == ["elsewhere", "mr-out-1"]
    assert LocalStorage(tmp_path / "not-yet").directories("mr-") == []
