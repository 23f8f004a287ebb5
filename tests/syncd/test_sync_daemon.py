"""`bodycam sync run` as a daemon: it picks up what the dock ledger gains while it runs, and
SIGTERM ends it cleanly; `bodycam sync status` tells an operator where things stand."""

from __future__ import annotations

import signal
import subprocess
import time

from tests.fixtures.sync import BODYCAM


def status_text(site) -> str:
    out = subprocess.run([BODYCAM, "--config", str(site.config_path), "sync", "status"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_daemon_follows_the_ledger_and_stops_on_sigterm(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([300 << 10])
    before = status_text(a)
    assert "+3 new ledger entries" in before and "files to send: 1 (300.0 KiB)" in before
    assert "last commit: never" in before
    with w.receiver() as r:
        proc = w.sync_process("dock-a")
        deadline = time.monotonic() + 30
        while r.stats.commits < 2:
            assert time.monotonic() < deadline and proc.poll() is None, w.log("sync-dock-a.log")
            time.sleep(0.05)
        a.add_segments([200 << 10], seed=5)  # docked again while the daemon runs
        while r.stats.commits < 3:
            assert time.monotonic() < deadline and proc.poll() is None, w.log("sync-dock-a.log")
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, w.log("sync-dock-a.log")
    after = status_text(a)
    assert "dock dock-a: 3 committed, 0 queued (+0 new ledger entries), 0 refused" in after
    assert "files to send: 0" in after and "in flight: nothing" in after
    assert "last commit: segment" in after and "last error: none" in after
    assert len(w.blobs()) == 2 and w.parts() == []
