"""runtime/discovery.py: mr-master.json is written whole, private, read back, and removed."""

import json
import os
import socket
import stat

import pytest

from mrkit.errors import MrkitError
from mrkit.runtime.discovery import MASTER_FILE, read_master_file, remove_master_file, write_master_file


def test_write_then_read(tmp_path):
    path = write_master_file(tmp_path, "http://127.0.0.1:1234", "s3cret")
    assert path == os.path.join(tmp_path, MASTER_FILE)
    assert read_master_file(tmp_path) == {
        "url": "http://127.0.0.1:1234",
        "token": "s3cret",
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [MASTER_FILE]  # no temporary file left behind


def test_the_file_is_private(tmp_path):
    path = write_master_file(tmp_path, "http://x", "s3cret")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # the token is a secret


def test_rewriting_replaces_the_whole_file(tmp_path):
    write_master_file(tmp_path, "http://old", "a" * 1000)
    write_master_file(tmp_path, "http://new", "b")
    assert read_master_file(tmp_path)["url"] == "http://new"
    assert json.loads((tmp_path / MASTER_FILE).read_text())["token"] == "b"


def test_a_missing_file_reads_as_none(tmp_path):
    assert read_master_file(tmp_path) is None


@pytest.mark.parametrize("text", ['{"url": "http://', "garbage", '{"url": 5}', '{"url": "http://127.0.0.1:1"}', "[]"])
def test_a_damaged_file_is_one_line_naming_it(tmp_path, text):
    """The master writes it whole (atomically): a damaged one stays so. Workers said it did not exist, after
    waiting for it, or fell over with a KeyError or AttributeError traceback."""
    (tmp_path / MASTER_FILE).write_text(text)
    with pytest.raises(
        MrkitError, match=f"^{tmp_path}/{MASTER_FILE} (cannot be read as|is not) the master's file .*--master URL$"
    ):
        read_master_file(tmp_path)


def test_remove_is_idempotent(tmp_path):
    write_master_file(tmp_path, "http://x", "t")
    remove_master_file(tmp_path)
    remove_master_file(tmp_path)
    assert not (tmp_path / MASTER_FILE).exists()


def test_read_defaults_to_the_cwd(tmp_path, monkeypatch):
    write_master_file(tmp_path, "http://here", "t")
    monkeypatch.chdir(tmp_path)
    assert read_master_file()["url"] == "http://here"
