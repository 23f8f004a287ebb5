"""Found by the fault campaign (issue 17): `bodycam sync run` died with "database or disk is full"
when the dock's disk filled up while it ran (its sync state could not be written). A daemon
must ride it out: say so, keep everything, and carry on once there is room again (A2 Art.16:
custody survives failures)."""

from __future__ import annotations

import signal
import time

from agent.checkpoints import sign_dock_checkpoint
from ledger.store import Ledger
from tests.faults.campaign import fill, mount_tmpfs, umount


def wait_for(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a2_art16_sync_daemon_survives_a_full_dock_disk(sync_world):
    w = sync_world(docks=(), broker_docks=("dock-a",))
    mnt = w.root / "dock-dock-a"
    mount_tmpfs(mnt, 24)
    try:
        a = w.add_dock("dock-a")
        a.add_segments([300 << 10, 700 << 10])
        with Ledger.open(a.ledger_path) as lg:
            sign_dock_checkpoint(lg, a.dock_key, a.name)  # as a docking does: sent first by every sync
        daemon = w.sync_process("dock-a")  # no archive yet: it waits, writing its state now and then
        wait_for(lambda: "sync.db" in {x.name for x in a.dir.iterdir()}, 15, "the sync state")
        filler = fill(a.dir)
        # with no archive answering, the daemon notes each silence in its state: on a full disk
        wait_for(lambda: "disk is full" in w.log("sync-dock-a.log") or daemon.poll() is not None, 30,
                 "the daemon to write to the full disk")
        time.sleep(1.0)
        assert daemon.poll() is None, w.log("sync-dock-a.log")
        assert "cannot be written" in w.log("sync-dock-a.log")  # it says so, and waits
        filler.unlink()
        archive = w.archive_process()
        # the same daemon, never restarted, delivers everything
        wait_for(lambda: archived_segments(w) == 2 or daemon.poll() is not None, 60, "delivery")
        assert daemon.poll() is None, w.log("sync-dock-a.log")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0, w.log("sync-dock-a.log")
        archive.send_signal(signal.SIGTERM)
        assert archive.wait(15) == 0
        assert archived_segments(w) == 2
        assert len(w.blobs()) == 2 and w.parts() == []
    finally:
        w.stop_all()
        umount(mnt)


def archived_segments(w) -> int:
    with w.archive_ledger() as lg:
        return len(list(lg.entries(kind="segment")))
