"""After a real docking, footage, thumbnails and ledger are the service user's only, whatever the
umask: blobs 0400, every folder of the store 0700, the ledger and its -wal/-shm 0600
(A2 Art.17-18: every viewing goes through the access log)."""

from __future__ import annotations

import os
import stat

from agent.config import AgentConfig
from bodycam.permissions import check_private, sqlite_files
from tests.fixtures.offload import make_dock, recorder_card


def test_docked_footage_and_ledger_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        dock = make_dock(tmp_path)
        recorder_card(dock.mount)
        summary = dock.run()
        assert summary.segments == 3
        ledger_files = [p for p in sqlite_files(dock.ledger.path) if p.exists()]
        assert len(ledger_files) == 3  # open: -wal and -shm are there
        modes = {p: stat.S_IMODE(p.lstat().st_mode) for p in [*ledger_files, *dock.store.root.rglob("*")]}
    finally:
        os.umask(old)
        dock.ledger.close()
    blobs = [p for p in modes if p.is_file() and dock.store.blob_dir in p.parents]
    assert len(blobs) > 3  # the segments and their thumbnails
    assert {modes[p] for p in blobs} == {0o400}
    assert {modes[p] for p in modes if p.is_dir()} | {stat.S_IMODE(dock.store.root.stat().st_mode)} == {0o700}
    assert {modes[p] for p in ledger_files} == {0o600}
    cfg = AgentConfig(data_dir=tmp_path)
    assert check_private(tmp_path, cfg.private_trees()) == []
