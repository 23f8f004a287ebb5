"""After a sync, the archive's blobs, folders, ledger and state are the service user's only
(blobs 0400, folders 0700, databases and their -wal/-shm 0600), and `archive serve` and
`sync run` refuse to start on a data folder where one was loosened, naming it
(A2 Art.17-18: every viewing goes through the access log)."""

from __future__ import annotations

import stat
import subprocess

from bodycam.permissions import check_private, sqlite_files
from tests.fixtures.sync import BODYCAM


def mode(p) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def test_synced_footage_ledger_and_state_are_private_and_loosened_ones_stop_the_daemons(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([600 << 10, 300 << 10])
    with w.receiver() as r:
        up = w.uploader("dock-a")
        try:
            assert up.run(once=True).queued == 0
        finally:
            up.close()
        arc = w.archive
        open_files = [p for p in [*sqlite_files(arc.path(arc.ledger)), *sqlite_files(arc.path(arc.state_db))]
                      if p.exists()]
        assert len(open_files) >= 4 and {mode(p) for p in open_files} == {0o600}, r  # -wal/-shm while open
    blobs = w.blobs()
    assert len(blobs) == 2 and {mode(b) for b in blobs} == {0o400}
    folders = [p for t in (arc.path(arc.blob_dir), arc.path(arc.part_dir)) for p in [t, *t.rglob("*")]
               if p.is_dir()]
    assert len(folders) >= 6 and {mode(d) for d in folders} == {0o700}
    assert mode(w.archive_dir) == 0o700
    assert check_private(w.archive_dir, arc.private_trees()) == []
    dock_db = a.agent.path(a.syncd.state_db)
    assert mode(dock_db) == 0o600 and check_private(a.dir, [*a.agent.private_trees(), dock_db]) == []

    blobs[0].chmod(0o644)  # a curious local user's way in
    archive = w.archive_process()
    assert archive.wait(60) == 1, w.log("archive.log")
    log = w.log("archive.log")
    assert "refusing to start `bodycam archive serve`: 1 path(s)" in log
    assert f"{blobs[0]} (file 0644): chmod go-rwx {blobs[0]}" in log

    loosened = a.store().blob_path(blobs[1].name)
    loosened.chmod(0o644)
    a.ledger_path.chmod(0o640)
    out = subprocess.run([BODYCAM, "--config", str(a.config_path), "sync", "run", "--once"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "refusing to start `bodycam sync run`: 2 path(s)" in out.stderr
    assert f"{loosened} (file 0644)" in out.stderr and f"{a.ledger_path} (file 0640)" in out.stderr
