"""storage/local.py's atomic_file: the one temp-file-then-rename helper."""

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
