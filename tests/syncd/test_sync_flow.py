"""Dock → archive over a real Mosquitto: everything arrives once, verified, ledgered, receipted
(A2 Art.8: footage unaltered and complete; A2 Art.16: custody is provable)."""

from __future__ import annotations

import subprocess

from syncd.outbox import Outbox
from tests.fixtures.sync import BODYCAM, sha256_file


def test_segments_and_records_arrive_once_and_verify(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    shas = a.add_segments([(1 << 20) + 123, 600 << 10, 0])
    with w.receiver() as r:
        up = w.uploader("dock-a")
        try:
            res = up.run(once=True)
        finally:
            up.close()
        assert res.rejected == [] and res.queued == 0
        assert r.stats.commits == 4  # device enrollment + 3 segments
    blobs = w.blobs()
    assert sorted(b.name for b in blobs) == sorted(set(shas))
    for b in blobs:
        assert sha256_file(b) == b.name
        assert b.stat().st_mode & 0o777 == 0o400
    assert w.parts() == []
    dock_entries = a.entries()
    with w.archive_ledger() as lg:
        arch = [(h, bytes(e)) for h, e in lg.conn.execute("SELECT entry_hash, envelope FROM entries ORDER BY idx")]
    # entry 0 of the dock (its self-signed root) is replaced by the archive's dock enrollment
    assert [(h, e) for _, h, e in dock_entries[1:]] == arch[-(len(dock_entries) - 1):]
    out = subprocess.run([BODYCAM, "ledger", "verify", str(w.archive.path(w.archive.ledger))],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    with Outbox(a.agent.path(a.syncd.state_db)) as ob:
        counts = ob.counts()
    assert counts == {"committed": 4, "skipped": 1}
