"""Footage, ledgers and state are the service user's only, whatever the umask, and a daemon
refuses to start on a data folder where any of them was loosened (A2 Art.17-18: every viewing
goes through the access log). Modes are read with os.stat: root, which runs these tests,
bypasses them, so no read is attempted as another user."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.store import DockStore
from bodycam.cli import cli
from bodycam.permissions import (
    LoosePermissionsError,
    check_private,
    create_private_file,
    private_dir,
    require_private,
    sqlite_files,
)
from ledger.store import Ledger

BODYCAM = str(Path(sys.executable).with_name("bodycam"))


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.fixture
def open_umask():
    """The loosest umask: whatever is private must be made so, not inherited."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_folders_and_databases_are_created_private_whatever_the_umask(tmp_path, open_umask):
    created = private_dir(tmp_path / "a" / "b" / "c")
    assert created == [tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"]
    assert {mode(d) for d in created} == {0o700}
    assert private_dir(tmp_path / "a" / "b") == []  # existing: nothing made, nothing changed
    assert create_private_file(tmp_path / "x.db") and mode(tmp_path / "x.db") == 0o600
    assert not create_private_file(tmp_path / "x.db")
    with Ledger.open(tmp_path / "ledger.db") as lg:
        lg.conn.execute("CREATE TABLE t(x)")  # a write: -wal and -shm exist while it is open
        files = [p for p in sqlite_files(tmp_path / "ledger.db") if p.exists()]
        assert len(files) == 3 and {mode(p) for p in files} == {0o600}


def test_dock_store_blobs_are_0400_in_0700_folders_whatever_the_umask(tmp_path, open_umask):
    store = DockStore(tmp_path / "store")
    blob = store.ingest_bytes(b"a thumbnail")
    assert mode(blob.path) == 0o400
    assert {mode(d) for d in [tmp_path / "store", store.tmp_dir, *blob.path.parents[:3]]} == {0o700}
    assert check_private(tmp_path, [tmp_path / "store"]) == []


def test_check_lists_every_path_others_can_read_or_enter(tmp_path):
    store = DockStore(tmp_path / "store")
    blob = store.ingest_bytes(b"footage").path
    assert check_private(tmp_path, [tmp_path / "store"]) == []
    blob.chmod(0o444)
    blob.parent.chmod(0o711)
    (tmp_path / "store" / "tmp" / "stray").write_bytes(b"")
    (tmp_path / "store" / "tmp" / "stray").chmod(0o640)
    (tmp_path / "store" / "link").symlink_to("/etc/passwd")  # never followed
    tmp_path.chmod(0o755)
    (tmp_path / "bodycam.toml").write_text("")  # the data folder's own files are not checked
    (tmp_path / "bodycam.toml").chmod(0o644)
    loose = check_private(tmp_path, [tmp_path / "store", tmp_path / "missing.db"])
    assert {(x.path, x.mode) for x in loose} == {(tmp_path, 0o755), (blob, 0o444), (blob.parent, 0o711),
                                                (tmp_path / "store" / "tmp" / "stray", 0o640)}
    with pytest.raises(LoosePermissionsError) as err:
        require_private("bodycam agent run", tmp_path, [tmp_path / "store"])
    msg = str(err.value)
    assert "refusing to start `bodycam agent run`: 4 path(s)" in msg
    assert f"{blob} (file 0444): chmod go-rwx {blob}" in msg
    assert f"chmod go-rwx {tmp_path} && chmod -R go-rwx {tmp_path / 'store'}" in msg
    assert err.value.exit_code == 1
    subprocess.run(["sh", "-c", msg.rsplit("or all at once: ", 1)[1]], check=True)  # the fix given works
    assert check_private(tmp_path, [tmp_path / "store"]) == []


def test_init_makes_the_data_folder_private(tmp_path, open_umask):
    d = tmp_path / "dock"
    d.mkdir(mode=0o755)
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-p"]).exit_code == 0
    assert mode(d) == 0o700 and mode(d / "keys") == 0o700 and mode(d / "ledger.db") == 0o600


def test_agent_run_refuses_a_data_folder_with_a_loosened_blob_and_names_it(tmp_path):
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-p"]).exit_code == 0
    blob = DockStore(d / "store").ingest_bytes(b"footage").path
    blob.chmod(0o644)
    out = subprocess.run([BODYCAM, "--config", str(d / "bodycam.toml"), "agent", "run", "--no-clock"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr
    assert "refusing to start `bodycam agent run`: 1 path(s)" in out.stderr
    assert f"{blob} (file 0644): chmod go-rwx {blob}" in out.stderr
    assert not (d / "state.db").exists(), "nothing was opened"
